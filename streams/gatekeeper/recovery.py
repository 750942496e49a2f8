"""Start-up recovery of the at-least-once crash window.

A record may be on a canonical topic (or the DLQ) while the dedup changelog entry and the consumer offset of its
input were not yet committed when the worker died. Before processing, the gatekeeper reads the tail of its output
topics and learns which input records already have their output (`simpul.source` on canonical records, the
`simpul.source_*` headers on DLQ records) and which event ids went out, so a replay writes nothing twice.
"""

from __future__ import annotations

import ctypes
import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from schemas.outcomes import source_of
from streams.exceptions import RecoveryError
from streams.gatekeeper.logic import (
    EVENT_ID_HEADER,
    SOURCE_HEADER,
    SOURCE_OFFSET_HEADER,
    SOURCE_PARTITION_HEADER,
    SOURCE_TOPIC_HEADER,
)
from topics.connection import KafkaConnection

log = logging.getLogger(__name__)


@dataclass
class Recovered:
    """Input records whose output exists, and event id -> source of the canonical records read."""

    done_sources: set[str] = field(default_factory=set)
    event_sources: dict[str, str] = field(default_factory=dict)
    records_read: int = 0

    def absorb(self, headers: Iterable[tuple[str, bytes | None]] | None) -> None:
        h = {k: (v or b"").decode("utf-8", "replace") for k, v in (headers or ())}
        self.records_read += 1
        if SOURCE_TOPIC_HEADER in h and SOURCE_PARTITION_HEADER in h and SOURCE_OFFSET_HEADER in h:
            # a DLQ record: only its own coordinates count (a sender's headers are sealed inside its value)
            try:
                self.done_sources.add(source_of(h[SOURCE_TOPIC_HEADER], int(h[SOURCE_PARTITION_HEADER]),
                                                int(h[SOURCE_OFFSET_HEADER])))
            except ValueError:
                pass
        elif SOURCE_HEADER in h:
            self.done_sources.add(h[SOURCE_HEADER])
            if EVENT_ID_HEADER in h:
                self.event_sources.setdefault(h[EVENT_ID_HEADER], h[SOURCE_HEADER])


RECOVERY_GROUP_PREFIX = "simpul-gatekeeper-recovery-"
"""Every throw-away group the gatekeeper reads with at start-up (output tails, the dedup changelog) starts so: the
gatekeeper principal's ACLs grant this prefix alone (topics/acls.py)."""


START_UP_READER = {"queued.max.messages.kbytes": 16_384}
"""What the start-up reads (output tails, the dedup changelog) may prefetch: 16 MiB, which also caps each fetch
(librdkafka fits `fetch.max.bytes` under it), instead of librdkafka's 64 MiB per consumer."""


def release_freed_memory() -> None:
    """Hand back to the OS what the start-up reads freed. glibc keeps the freed memory of its per-thread arenas
    (librdkafka's threads allocate the fetched batches there) until asked: in the one-hour soak a gatekeeper
    restarted after a kill held 128 MiB in such arenas and ran at 329-351 MiB for good, against 154-246 MiB for
    the earlier ones. A no-op where the C library is not glibc."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def throwaway_group() -> str:
    """A fresh group id for one start-up read: it assigns partitions itself and never commits."""
    return f"{RECOVERY_GROUP_PREFIX}{uuid.uuid4().hex[:8]}"


def read_tail(connection: KafkaConnection, topics: list[str], last_records: int, timeout: float = 60.0) -> Recovered:
    """Read up to `last_records` of each partition's tail of `topics` (headers only matter)."""
    found = Recovered()
    if last_records <= 0:
        return found
    consumer = Consumer(connection.librdkafka(**{
        "group.id": throwaway_group(),
        "enable.auto.commit": False, "enable.partition.eof": False, "auto.offset.reset": "earliest",
        **START_UP_READER,
    }))
    try:
        metadata = consumer.list_topics(timeout=timeout)
        assignments: list[TopicPartition] = []
        ends: dict[tuple[str, int], int] = {}
        for name in topics:
            topic = metadata.topics.get(name)
            if topic is None or topic.error is not None:
                raise RecoveryError(f"cannot read {name} to recover the gatekeeper's state: "
                                    f"{topic.error if topic else 'no such topic'}; run `simpul topics apply` first")
            for p in topic.partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(name, p), timeout=timeout)
                if high > low:
                    assignments.append(TopicPartition(name, p, max(low, high - last_records)))
                    ends[(name, p)] = high
        if not assignments:
            return found
        consumer.assign(assignments)
        deadline = time.monotonic() + timeout
        while ends:
            if time.monotonic() > deadline:
                raise RecoveryError(f"reading the tail of the output topics took over {timeout:.0f}s; "
                                    f"{len(ends)} partition(s) unfinished")
            batch = consumer.consume(1000, timeout=0.5)
            for msg in batch:
                if msg.error() is not None:
                    if msg.error().code() == KafkaError._PARTITION_EOF:
                        continue
                    raise RecoveryError(f"reading {msg.topic()}: {msg.error().str()}")
                tp = (msg.topic(), msg.partition())
                if tp not in ends:
                    continue
                found.absorb(msg.headers())
                if msg.offset() >= ends[tp] - 1:
                    del ends[tp]
            if not batch and ends:  # gaps (compaction, control records): ask where the consumer stands
                for tp in consumer.position([TopicPartition(t, p) for t, p in ends]):
                    if tp.offset >= ends[(tp.topic, tp.partition)]:
                        del ends[(tp.topic, tp.partition)]
        return found
    except KafkaException as exc:
        raise RecoveryError(f"cannot read the output tail: {exc}; is Kafka reachable?") from exc
    finally:
        consumer.close()
