"""Reading the real broker: watermarks, whole topics, a consumer group's committed offsets, and cleanup."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable

from confluent_kafka import Consumer, Message, TopicPartition
from confluent_kafka.admin import AdminClient

from simpul.settings import Settings


def consumer(settings: Settings, group: str | None = None) -> Consumer:
    return Consumer(settings.kafka.librdkafka(**{
        "group.id": group or f"harness-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False,
        "auto.offset.reset": "earliest"}))


def partitions(c: Consumer, topics: Iterable[str]) -> list[TopicPartition]:
    md = c.list_topics(timeout=20)
    return [TopicPartition(t, p) for t in topics if t in md.topics for p in md.topics[t].partitions]


def watermarks(settings: Settings, topics: Iterable[str]) -> dict[tuple[str, int], tuple[int, int]]:
    c = consumer(settings)
    try:
        return {(tp.topic, tp.partition): c.get_watermark_offsets(tp, timeout=20) for tp in partitions(c, topics)}
    finally:
        c.close()


def count(settings: Settings, topics: Iterable[str]) -> int:
    """Records on `topics` (high - low watermark, summed)."""
    return sum(high - low for low, high in watermarks(settings, topics).values())


def scan(settings: Settings, topics: Iterable[str], each: Callable[[Message], object], timeout: float = 300.0) -> None:
    """Call `each(record)` for every record on `topics` up to their current end (nothing kept here); fails naming
    the partitions it could not read to the end within `timeout`."""
    c = consumer(settings)
    try:
        ends = {k: v for k, v in watermarks(settings, topics).items() if v[1] > v[0]}
        c.assign([TopicPartition(t, p, low) for (t, p), (low, _) in ends.items()])
        remaining = {k: high for k, (_, high) in ends.items()}
        deadline = time.monotonic() + timeout
        while remaining and time.monotonic() < deadline:
            for m in c.consume(5000, timeout=1):
                key = (m.topic(), m.partition())
                if m.error() is None and key in remaining:
                    each(m)
                    if m.offset() >= remaining[key] - 1:
                        del remaining[key]
        assert not remaining, f"could not read to the end of {sorted(remaining)[:5]} within {timeout:.0f}s"
    finally:
        c.close()


def read_all(settings: Settings, topics: Iterable[str], timeout: float = 300.0) -> list[Message]:
    """Every record on `topics` up to their current end."""
    out: list[Message] = []
    scan(settings, topics, out.append, timeout)
    return out


def committed_total(settings: Settings, group: str, topics: Iterable[str]) -> int:
    """Records of `topics` the group has committed past (what it has finished)."""
    c = consumer(settings, group)
    try:
        tps = partitions(c, topics)
        marks = {(tp.topic, tp.partition): c.get_watermark_offsets(tp, timeout=20) for tp in tps}
        done = 0
        for tp in c.committed(tps, timeout=20):
            low, _ = marks[(tp.topic, tp.partition)]
            if tp.offset >= 0:
                done += max(0, tp.offset - low)
        return done
    finally:
        c.close()


def lag(settings: Settings, group: str, topics: Iterable[str]) -> int:
    """Records of `topics` the group has not committed past yet (0 = caught up)."""
    c = consumer(settings, group)
    try:
        tps = partitions(c, topics)
        total = 0
        for tp in c.committed(tps, timeout=20):
            low, high = c.get_watermark_offsets(tp, timeout=20)
            start = tp.offset if tp.offset >= 0 else low
            total += max(0, high - max(start, low))
        return total
    finally:
        c.close()


def headers(m: Message) -> dict[str, str]:
    return {k: (v or b"").decode(errors="replace") for k, v in (m.headers() or [])}


def delete_topics(settings: Settings, prefix: str) -> None:
    client = AdminClient(settings.kafka.librdkafka())
    doomed = [t for t in client.list_topics(timeout=20).topics if t.startswith((f"{prefix}.", f"{prefix}-"))]
    if doomed:  # best-effort cleanup: ask, do not wait for the controller to finish
        client.delete_topics(doomed, operation_timeout=0)
