"""Reads of the cluster that ops need, all from the brokers' own offsets and metadata (nothing is counted twice)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from monitor.models import Broker, GroupLag, PartitionLag
from topics.connection import KafkaConnection
from topics.exceptions import ClusterUnreachable

TIMEOUT_S = 15.0


class ClusterReader:
    """One admin client and one (never-committing) consumer, reused for every read."""

    def __init__(self, kafka: KafkaConnection) -> None:
        self.kafka = kafka
        self.admin = AdminClient(kafka.librdkafka(**{"log_level": 0}))
        self._consumer: Consumer | None = None

    @property
    def consumer(self) -> Consumer:
        if self._consumer is None:
            self._consumer = Consumer(self.kafka.librdkafka(**{
                "group.id": "simpul-monitor-reader", "enable.auto.commit": False, "log_level": 0}))
        return self._consumer

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

    def brokers_and_partitions(self) -> tuple[list[Broker], dict[str, int]]:
        try:
            md = self.admin.list_topics(timeout=TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - the client reports every failure the same way
            raise ClusterUnreachable(f"the broker at {self.kafka.bootstrap} does not answer ({exc}); "
                                     "is the platform up? `simpul platform status`") from exc
        brokers = sorted((Broker(id=b.id, host=b.host, port=b.port) for b in md.brokers.values()), key=lambda b: b.id)
        return brokers, {name: len(t.partitions) for name, t in md.topics.items()}

    def offsets(self, partitions: Iterable[tuple[str, int]], spec: OffsetSpec) -> dict[tuple[str, int], int]:
        """Offsets per partition for `spec` (earliest, latest or a timestamp); -1 where none exists."""
        request = {TopicPartition(t, p): spec for t, p in partitions}
        if not request:
            return {}
        result: dict[tuple[str, int], int] = {}
        for tp, future in self.admin.list_offsets(request, request_timeout=TIMEOUT_S).items():
            result[(tp.topic, tp.partition)] = future.result().offset
        return result

    def group_lag(self, group_prefix: str, partitions: dict[str, int]) -> list[GroupLag]:
        """Committed offset and lag per partition of every consumer group whose id starts with `group_prefix`."""
        listed = self.admin.list_consumer_groups(request_timeout=TIMEOUT_S).result()
        ids = sorted(g.group_id for g in listed.valid if g.group_id.startswith(group_prefix))
        if not ids:
            return []
        described = {gid: f.result() for gid, f in self.admin.describe_consumer_groups(
            ids, request_timeout=TIMEOUT_S).items()}
        groups: list[GroupLag] = []
        for gid in ids:
            committed_tps = self.admin.list_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(gid)], request_timeout=TIMEOUT_S)[gid].result().topic_partitions
            committed = {(tp.topic, tp.partition): tp.offset for tp in committed_tps
                         if tp.topic in partitions}
            assigned = {(tp.topic, tp.partition) for m in described[gid].members
                        for tp in (m.assignment.topic_partitions if m.assignment else []) if tp.topic in partitions}
            keys = sorted(set(committed) | assigned)
            ends = self.offsets(keys, OffsetSpec.latest())
            rows = []
            for key in keys:
                c = committed.get(key)
                c = c if c is not None and c >= 0 else None
                end = ends[key]
                rows.append(PartitionLag(topic=key[0], partition=key[1], committed=c, end=end,
                                         lag=None if c is None else max(end - c, 0)))
            d = described[gid]
            groups.append(GroupLag(group=gid, state=str(d.state.name if hasattr(d.state, "name") else d.state),
                                   members=len(d.members), total_lag=sum(r.lag or 0 for r in rows), partitions=rows))
        return groups

    def last_timestamps(self, partitions: dict[tuple[str, int], tuple[int, int]]) -> dict[tuple[str, int], datetime]:
        """The timestamp of the newest record of each non-empty partition (given its (low, high) offsets)."""
        wanted = {key: high - 1 for key, (low, high) in partitions.items() if high > low}
        if not wanted:
            return {}
        self.consumer.assign([TopicPartition(t, p, off) for (t, p), off in wanted.items()])
        found: dict[tuple[str, int], datetime] = {}
        deadline = time.monotonic() + TIMEOUT_S
        while len(found) < len(wanted) and time.monotonic() < deadline:
            for msg in self.consumer.consume(num_messages=500, timeout=0.5):
                if msg.error() is not None:
                    continue
                key = (msg.topic(), msg.partition())
                if key in wanted and msg.offset() >= wanted[key]:
                    found[key] = datetime.fromtimestamp(msg.timestamp()[1] / 1000, tz=UTC)
        self.consumer.unassign()
        return found

    def read_headers(self, partitions: dict[tuple[str, int], tuple[int, int]], limit: int) -> list[dict[str, bytes]]:
        """The headers of every record between low and high (at most `limit`), e.g. the DLQ's reasons."""
        todo = {key: (low, high) for key, (low, high) in partitions.items() if high > low}
        if not todo:
            return []
        self.consumer.assign([TopicPartition(t, p, low) for (t, p), (low, _) in todo.items()])
        done: set[tuple[str, int]] = set()
        out: list[dict[str, bytes]] = []
        deadline = time.monotonic() + TIMEOUT_S * 2
        while len(done) < len(todo) and len(out) < limit and time.monotonic() < deadline:
            for msg in self.consumer.consume(num_messages=1000, timeout=0.5):
                if msg.error() is not None:
                    continue
                key = (msg.topic(), msg.partition())
                out.append({k: v for k, v in (msg.headers() or [])})
                if msg.offset() >= todo[key][1] - 1:
                    done.add(key)
        self.consumer.unassign()
        return out
