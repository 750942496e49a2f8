"""Read the topics of one prefix from the cluster, and carry out a plan's changes.

This is the only module of `topics` that talks to a broker. It decides nothing: what to change, and whether a
change is allowed, comes from `topics.plan`; here we only observe and execute, and wait until the cluster
shows the result, so that a `plan` run straight after an `apply` sees the new state and answers `[]`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from typing import Any

from confluent_kafka import KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ClusterMetadata,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
    OffsetSpec,
    ResourceType,
)
from pydantic import BaseModel, ConfigDict

from topics.connection import KafkaConnection
from topics.exceptions import ClusterStateError, ClusterUnreachable, DestructiveChangeRefused
from topics.plan import (
    AddPartitions,
    AlterConfig,
    Change,
    ChangeReplication,
    CreateTopic,
    DeleteTopic,
    ObservedTopic,
    ReducePartitions,
    normalise_config,
    refused,
)

log = logging.getLogger(__name__)

Progress = Callable[[str], None]

_UNREACHABLE = {KafkaError._TRANSPORT, KafkaError._TIMED_OUT, KafkaError._ALL_BROKERS_DOWN}
# Right after a topic is created the metadata may already name a leader that has not yet taken the partition
# over; these answers mean "ask again in a moment", not "something is wrong".
_SETTLING = {
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.REPLICA_NOT_AVAILABLE,
    KafkaError.UNKNOWN_LEADER_EPOCH,
    KafkaError.FENCED_LEADER_EPOCH,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError._UNKNOWN_PARTITION,
    KafkaError._UNKNOWN_TOPIC,
}


class ClusterState(BaseModel):
    """What `observe` saw: the broker count (which picks the replication profile) and our prefix's topics."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bootstrap: str
    broker_count: int
    topics: dict[str, ObservedTopic]


class TopicAdmin:
    """Observes and changes the topics of a cluster through confluent-kafka's AdminClient."""

    def __init__(
        self,
        connection: KafkaConnection,
        *,
        timeout: float = 30.0,
        client: AdminClient | None = None,
    ) -> None:
        self._connection = connection
        self._timeout = timeout
        self._client = client or AdminClient(connection.librdkafka(logger=log))

    # -- reading ---------------------------------------------------------------------------------------------

    def observe(self, prefix: str) -> ClusterState:
        """Every topic named `<prefix>.…`, with its partitions, replication, configs and record count."""
        metadata = self._metadata()
        names = sorted(
            name
            for name, topic in metadata.topics.items()
            if name.startswith(f"{prefix}.") and topic.error is None and topic.partitions
        )
        configs = self._configs(names)
        counts = self._record_counts({name: len(metadata.topics[name].partitions) for name in names})
        topics = {
            name: ObservedTopic(
                name=name,
                partitions=len(metadata.topics[name].partitions),
                replication_factor=_replication_factor(metadata, name),
                config=configs.get(name, {}),
                messages=counts.get(name),
            )
            for name in names
        }
        return ClusterState(
            bootstrap=self._connection.bootstrap, broker_count=len(metadata.brokers), topics=topics
        )

    def _metadata(self) -> ClusterMetadata:
        try:
            return self._client.list_topics(timeout=self._timeout)
        except KafkaException as exc:
            raise self._translate(exc, "listing topics") from None

    def _configs(self, names: Sequence[str]) -> dict[str, dict[str, str]]:
        """Current config values per topic, retrying briefly while a just-created topic is settling."""
        pending = list(names)
        result: dict[str, dict[str, str]] = {}
        deadline = time.monotonic() + self._timeout
        while pending:
            resources = [ConfigResource(ResourceType.TOPIC, name) for name in pending]
            futures = self._client.describe_configs(resources, request_timeout=self._timeout)
            pending = []
            for resource, future in futures.items():
                doing = f"reading the configuration of {resource.name}"
                try:
                    entries: dict[str, ConfigEntry] = future.result(timeout=self._timeout + 5)
                except KafkaException as exc:
                    if not _settling(exc) or time.monotonic() > deadline:
                        raise self._translate(exc, doing) from None
                    pending.append(resource.name)
                    continue
                except TimeoutError:
                    raise self._timed_out(doing) from None
                result[resource.name] = {key: e.value for key, e in entries.items() if e.value is not None}
            if pending:
                time.sleep(0.2)
        return result

    def _record_counts(self, partitions: dict[str, int]) -> dict[str, int]:
        """Records between low and high watermark per topic: what a deletion would throw away."""
        if not partitions:
            return {}
        tps = [TopicPartition(name, p) for name, count in partitions.items() for p in range(count)]
        low = self._offsets(tps, OffsetSpec.earliest())
        high = self._offsets(tps, OffsetSpec.latest())
        counts = dict.fromkeys(partitions, 0)
        for (name, partition), end in high.items():
            counts[name] += max(0, end - low.get((name, partition), 0))
        return counts

    def _offsets(self, tps: Iterable[TopicPartition], spec: OffsetSpec) -> dict[tuple[str, int], int]:
        """Offsets per partition, retrying briefly while a new or moved partition has no leader yet."""
        pending = list(tps)
        found: dict[tuple[str, int], int] = {}
        deadline = time.monotonic() + self._timeout
        while pending:
            futures = self._client.list_offsets({tp: spec for tp in pending}, request_timeout=self._timeout)
            pending = []
            for tp, future in futures.items():
                try:
                    found[(tp.topic, tp.partition)] = future.result(timeout=self._timeout + 5).offset
                except KafkaException as exc:
                    if not _settling(exc) or time.monotonic() > deadline:
                        raise self._translate(exc, f"reading offsets of {tp.topic}[{tp.partition}]") from None
                    pending.append(TopicPartition(tp.topic, tp.partition))
                except TimeoutError:
                    raise self._timed_out(f"reading offsets of {tp.topic}[{tp.partition}]") from None
            if pending:
                time.sleep(0.2)
        return found

    # -- changing --------------------------------------------------------------------------------------------

    def apply(
        self,
        changes: Sequence[Change],
        *,
        allow_destructive: bool = False,
        progress: Progress | None = None,
    ) -> list[Change]:
        """Carry out `changes` and return them once the cluster shows every one of them.

        New topics are created first, in one request; the other changes follow in plan order.

        Refuses up front, before touching anything, if a change is marked refused or is destructive while
        `allow_destructive` is off; the flag is checked again here so a plan made with the flag cannot be
        applied without it.
        """
        say = progress or (lambda _line: None)
        blocked = refused(list(changes)) + [c for c in changes if c.destructive and not c.refused]
        if blocked and not allow_destructive:
            raise DestructiveChangeRefused(blocked)
        done: list[Change] = []
        creates = [change for change in changes if isinstance(change, CreateTopic)]
        if creates:
            # One request for all new topics: a fresh prefix means ~50 of them, and each would otherwise wait
            # for its own metadata round trip.
            for create in creates:
                say(f"{create.kind} {create.topic}")
            self._create_many(creates)
            done.extend(creates)
        for change in changes:
            if isinstance(change, CreateTopic):
                continue
            say(f"{change.kind} {change.topic}")
            if isinstance(change, AlterConfig):
                self._alter(change)
            elif isinstance(change, AddPartitions):
                self._add_partitions(change)
            elif isinstance(change, ReducePartitions | ChangeReplication):
                self._recreate(change)
            elif isinstance(change, DeleteTopic):
                self._delete(change.topic)
            done.append(change)
        return done

    def _create_many(self, creates: Sequence[CreateTopic]) -> None:
        topics = [
            NewTopic(c.topic, num_partitions=c.partitions, replication_factor=c.replication_factor, config=c.config)
            for c in creates
        ]
        futures = self._client.create_topics(topics, operation_timeout=self._timeout, request_timeout=self._timeout)
        created: dict[str, int] = {}
        for change in creates:
            try:
                futures[change.topic].result()
                created[change.topic] = change.partitions
            except KafkaException as exc:
                # Created meanwhile by a concurrent apply: fine, the next plan compares it like any other topic.
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise self._creation_error(exc, change.topic, change.replication_factor) from None
        self._await(
            lambda md: all(_ready(md, n, p) for n, p in created.items()),
            f"{len(created)} new topic(s)",
        )
        # Metadata names a leader before it serves requests; reading offsets (with retries) waits for that, so
        # the next `plan` finds the topics settled.
        self._record_counts(created)

    def _recreate(self, change: ReducePartitions | ChangeReplication) -> None:
        """Delete, then create under the same name; Kafka may report the name taken for a moment after deletion."""
        self._delete(change.topic)
        topic = NewTopic(
            change.topic,
            num_partitions=change.partitions,
            replication_factor=change.replication_factor,
            config=dict(change.config),
        )
        deadline = time.monotonic() + self._timeout
        while True:
            future = self._client.create_topics(
                [topic], operation_timeout=self._timeout, request_timeout=self._timeout
            )[change.topic]
            try:
                future.result()
                break
            except KafkaException as exc:
                if exc.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS and time.monotonic() < deadline:
                    time.sleep(0.5)
                    continue
                raise self._creation_error(exc, change.topic, change.replication_factor) from None
        self._await(
            lambda md: _ready(md, change.topic, change.partitions),
            change.topic,
        )
        self._record_counts({change.topic: change.partitions})

    def _creation_error(
        self, exc: KafkaException, name: str, replication: int
    ) -> ClusterUnreachable | ClusterStateError:
        if exc.args[0].code() == KafkaError.INVALID_REPLICATION_FACTOR:
            return ClusterStateError(
                f"cannot create {name} with replication factor {replication}: the cluster has fewer brokers. "
                "Choose a smaller profile with --profile (e.g. `single`)."
            )
        return self._translate(exc, f"creating {name}")

    def _alter(self, change: AlterConfig) -> None:
        entries = [
            ConfigEntry(update.key, update.desired, incremental_operation=AlterConfigOpType.SET)
            for update in change.updates
        ]
        resource = ConfigResource(ResourceType.TOPIC, change.topic, incremental_configs=entries)
        futures = self._client.incremental_alter_configs([resource], request_timeout=self._timeout)
        for future in futures.values():
            self._wait(future, f"changing the configuration of {change.topic}")
        # The controller acknowledges before the broker we describe through has the new values.
        self._until(lambda: self._shows(change), f"the configuration of {change.topic}")

    def _shows(self, change: AlterConfig) -> bool:
        current = self._configs([change.topic]).get(change.topic, {})
        return all(
            normalise_config(u.key, current.get(u.key)) == normalise_config(u.key, u.desired) for u in change.updates
        )

    def _add_partitions(self, change: AddPartitions) -> None:
        futures = self._client.create_partitions(
            [NewPartitions(change.topic, change.desired)],
            operation_timeout=self._timeout,
            request_timeout=self._timeout,
        )
        for future in futures.values():
            self._wait(future, f"adding partitions to {change.topic}")
        self._await(
            lambda md: _ready(md, change.topic, change.desired),
            change.topic,
        )
        self._record_counts({change.topic: change.desired})

    def _delete(self, name: str) -> None:
        futures = self._client.delete_topics(
            [name], operation_timeout=self._timeout, request_timeout=self._timeout
        )
        for future in futures.values():
            try:
                future.result()
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:  # already gone is what we wanted
                    raise self._translate(exc, f"deleting {name}") from None
        self._await(lambda md: name not in md.topics, name)

    # -- plumbing --------------------------------------------------------------------------------------------

    def _await(self, done: Callable[[ClusterMetadata], bool], what: str) -> None:
        """Poll metadata until `done`; Kafka acknowledges topic operations before every broker shows them."""
        self._until(lambda: done(self._metadata()), what)

    def _until(self, done: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + self._timeout
        while not done():
            if time.monotonic() > deadline:
                raise ClusterStateError(
                    f"the cluster accepted the change to {what} but did not show it within {self._timeout:.0f}s; "
                    "run `simpul topics plan` to see where it stands"
                )
            time.sleep(0.2)

    def _wait(self, future: Future[Any], doing: str) -> Any:
        try:
            return future.result(timeout=self._timeout + 5)
        except KafkaException as exc:
            raise self._translate(exc, doing) from None
        except TimeoutError:
            raise self._timed_out(doing) from None

    def _timed_out(self, doing: str) -> ClusterUnreachable:
        return ClusterUnreachable(
            f"Kafka at {self._connection.bootstrap} did not answer within {self._timeout:.0f}s while {doing}; "
            "check that the broker is healthy, or pass a longer --timeout"
        )

    def _translate(self, exc: KafkaException, doing: str) -> ClusterUnreachable | ClusterStateError:
        error = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
        if error is not None and error.code() in _UNREACHABLE:
            return ClusterUnreachable(
                f"cannot reach Kafka at {self._connection.bootstrap} ({error.str()}) while {doing}. Is the "
                "platform up (`simpul platform up`), or is SIMPUL_KAFKA_BOOTSTRAP pointing at the right cluster?"
            )
        detail = error.str() if error is not None else str(exc)
        return ClusterStateError(f"Kafka refused {doing}: {detail}")


def _replication_factor(metadata: ClusterMetadata, name: str) -> int:
    """The smallest replica count over partitions: an under-replicated assignment must not pass as healthy."""
    return min(len(partition.replicas) for partition in metadata.topics[name].partitions.values())


def _ready(metadata: ClusterMetadata, name: str, partitions: int) -> bool:
    """The topic exists with `partitions` partitions, each with an elected leader, so offsets can be read."""
    topic = metadata.topics.get(name)
    return (
        topic is not None
        and topic.error is None
        and len(topic.partitions) == partitions
        and all(p.leader >= 0 and p.error is None for p in topic.partitions.values())
    )


def _settling(exc: KafkaException) -> bool:
    error = exc.args[0] if exc.args else None
    return isinstance(error, KafkaError) and (error.retriable() or error.code() in _SETTLING)
