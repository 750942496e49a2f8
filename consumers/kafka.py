"""What both province consumers share: a manual-commit consumer, batch offsets, and "drained" detection for --once."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from consumers.exceptions import ConsumerFenced, StoreError
from topics.connection import KafkaConnection

log = logging.getLogger("simpul.consumers")
T = TypeVar("T")


def make_consumer(kafka: KafkaConnection, group_id: str, *, client_id: str, **extra: Any) -> Consumer:
    """A consumer that never commits on its own: offsets are committed after the database commit."""
    conf = kafka.librdkafka(**{
        "group.id": group_id,
        "client.id": client_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "partition.assignment.strategy": "cooperative-sticky",
        **extra,
    })
    return Consumer(conf)


def next_offsets(messages: Iterable[Message]) -> list[TopicPartition]:
    """The offsets to commit after processing `messages`: last offset + 1 per topic-partition."""
    last: dict[tuple[str, int], int] = {}
    for m in messages:
        if m.error() is not None:
            continue
        key = (m.topic(), m.partition())
        last[key] = max(last.get(key, -1), m.offset())
    return [TopicPartition(t, p, o + 1) for (t, p), o in sorted(last.items())]


def is_fatal(err: KafkaError) -> bool:
    return bool(err.fatal()) or err.code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError.TOPIC_AUTHORIZATION_FAILED,
                                               KafkaError.GROUP_AUTHORIZATION_FAILED)


def is_fenced(err: KafkaError) -> bool:
    """A consumer's fatal error: only static-membership fencing makes one (the consumer must be replaced)."""
    return err.code() in (KafkaError._FATAL, KafkaError.FENCED_INSTANCE_ID)


def fenced(err: KafkaError) -> ConsumerFenced:
    """The one wording for a fenced consumer, from a record error or a refused commit."""
    return ConsumerFenced(f"the broker fenced this consumer ({err.str()}); a new consumer rejoins the group")


def raise_on_fatal(m: Message) -> None:
    """Raise for a record error that retrying cannot fix; a fenced consumer raises `ConsumerFenced`."""
    err = m.error()
    if err is None:
        return
    if is_fenced(err):
        raise fenced(err)
    if is_fatal(err):
        raise StoreError(f"Kafka error on {m.topic()}: {err.str()}")


def rejoin_when_fenced(start: Callable[[], T], *, stop: Stopper | None = None, limit: int = 10) -> T:
    """`start()` (build a consumer and run it) again with a new consumer each time the old one was fenced; after
    `limit` fencings in a row the error is raised (two processes share one `group.instance.id`: fix the config)."""
    for attempt in range(1, limit + 1):
        try:
            return start()
        except ConsumerFenced as exc:
            if attempt == limit or stop:
                raise
            log.warning("%s (%d of %d)", exc, attempt, limit)
            time.sleep(min(float(attempt), 5.0))
    raise AssertionError("unreachable")


#: The coordinator is moving (a broker died, a leader is being elected): the same commit succeeds once it is back.
_COMMIT_RETRIABLE = frozenset({
    KafkaError._WAIT_COORD, KafkaError.COORDINATOR_NOT_AVAILABLE, KafkaError.NOT_COORDINATOR,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS, KafkaError.REQUEST_TIMED_OUT, KafkaError._TIMED_OUT,
    KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN,
})


def commit_offsets(consumer: Consumer, offsets: Sequence[TopicPartition], *, asynchronous: bool = False,
                   within_s: float = 30.0, stop: Stopper | None = None) -> bool:
    """Commit `offsets` after their records landed; False when the commit could not be made.

    A commit is only a bookmark: what it covers is already stored idempotently, so a commit that cannot be made
    costs a replay, never a record. While the coordinator moves (a broker killed) the commit is retried for
    `within_s`; when the group took the partitions away (a rebalance) the new owner replays them. Only an
    authorization or fatal error is raised, because retrying cannot fix it (fencing as `ConsumerFenced`).
    """
    if not offsets:
        return True
    deadline = time.monotonic() + within_s
    delay = 0.2
    while True:
        try:
            consumer.commit(offsets=list(offsets), asynchronous=asynchronous)
            return True
        except KafkaException as exc:
            err: KafkaError = exc.args[0]
            if is_fenced(err):  # this consumer can commit nothing more: replace it (`rejoin_when_fenced`)
                raise fenced(err) from exc
            if is_fatal(err):
                raise
            if err.code() not in _COMMIT_RETRIABLE:
                log.warning("offset commit skipped (%s): the next owner of these partitions replays them", err.str())
                return False
            if time.monotonic() + delay > deadline or stop:
                log.error("offset commit failed for %.0fs (%s): the next commit covers these records, or a restart "
                          "replays them", within_s, err.str())
                return False
            log.warning("offset commit waiting for the group coordinator (%s); retrying in %.1fs", err.str(), delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


class EndOffsets:
    """The end offset of many partitions in one admin request (a consumer's own watermark query waits behind its
    fetches, about half a second per partition)."""

    def __init__(self, kafka: KafkaConnection) -> None:
        from confluent_kafka.admin import AdminClient

        self._admin = AdminClient(kafka.librdkafka(**{"client.id": "simpul-sink-ends"}))

    def __call__(self, partitions: Sequence[TopicPartition], timeout: float = 10.0, *,
                 earliest: bool = False) -> dict[tuple[str, int], int]:
        from confluent_kafka import IsolationLevel
        from confluent_kafka.admin import OffsetSpec

        spec = OffsetSpec.earliest() if earliest else OffsetSpec.latest()
        request = {TopicPartition(tp.topic, tp.partition): spec for tp in partitions}
        futures = self._admin.list_offsets(request, isolation_level=IsolationLevel.READ_COMMITTED,
                                           request_timeout=timeout)
        return {(tp.topic, tp.partition): f.result().offset for tp, f in futures.items()}


def drained(consumer: Consumer, ends: EndOffsets, timeout: float = 10.0) -> bool:
    """True when the consumer has an assignment and stands at the end of every assigned partition."""
    assignment: Sequence[TopicPartition] = consumer.assignment()
    if not assignment:
        return False
    positions = consumer.position(list(assignment))
    unknown = [tp for tp in positions if tp.offset < 0]
    committed = ({(tp.topic, tp.partition): tp.offset for tp in consumer.committed(unknown, timeout=timeout)}
                 if unknown else {})
    high = ends(positions, timeout)
    current = {(tp.topic, tp.partition): tp.offset if tp.offset >= 0 else committed.get((tp.topic, tp.partition), -1)
               for tp in positions}
    fresh = [tp for tp in positions if current[(tp.topic, tp.partition)] < 0]
    if fresh:  # nothing consumed nor committed: the group starts at the earliest offset still held
        current.update(ends(fresh, timeout, earliest=True))
    return all(current[key] >= end for key, end in high.items())


class Stopper:
    """A stop flag set by SIGTERM/SIGINT: the loop finishes its batch, commits, and exits."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def __bool__(self) -> bool:
        return self.event.is_set()

    def stop(self, *_: Any) -> None:
        if not self.event.is_set():
            log.info("stop requested: finishing the current batch")
        self.event.set()

    def install(self) -> Stopper:
        """Install the handlers (main thread only)."""
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self.stop)
            signal.signal(signal.SIGINT, self.stop)
        return self
