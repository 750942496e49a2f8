"""The gatekeeper's dedup memory lives in its changelog, not in one machine's folder: a new instance with an empty
state folder (another host after a failover) restores it and still drops events it routed before."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from schemas.catalog import FAMILIES
from schemas.codec import AvroCodec
from schemas.examples import example
from simpul import bootstrap
from simpul.settings import Settings
from streams.gatekeeper.worker import GatekeeperWorker
from topics.catalog import topic_names


def _canonical_count(settings: Settings) -> int:
    topics = topic_names(settings.topic_prefix)
    c = Consumer(settings.kafka.librdkafka(**{"group.id": f"count-{uuid.uuid4().hex[:6]}"}))
    try:
        total = 0
        for family in FAMILIES:
            t = topics.events(family)
            for p in range(t.partitions):
                low, high = c.get_watermark_offsets(TopicPartition(t.name, p), timeout=10)
                total += high - low
        return total
    finally:
        c.close()


def _run_until(worker: GatekeeperWorker, done, timeout: float = 90.0) -> None:  # type: ignore[no-untyped-def]
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        time.sleep(0.2)
    worker.stop()
    thread.join(30)
    assert done(), f"not done within {timeout:.0f}s: {worker.counters}"


@pytest.fixture
def prefixed(settings: Settings, unique: str, tmp_path: Path) -> Iterator[Settings]:
    """Settings on a provisioned prefix of this test's own, whose topics are deleted afterwards."""
    s = settings.model_copy(update={"topic_prefix": f"dr{unique}", "state_dir": tmp_path / "a",
                                    "recovery_tail_records": 0})  # only the changelog may know the event ids
    bootstrap.provision(s)
    yield s
    client = AdminClient(s.kafka.librdkafka())
    doomed = [t for t in client.list_topics(timeout=10).topics if t.startswith((f"{s.topic_prefix}.",
                                                                               f"{s.topic_prefix}-"))]
    if doomed:
        for future in client.delete_topics(doomed, operation_timeout=30).values():
            future.result()


def test_new_instance_with_empty_state_restores_dedup_from_the_changelog(prefixed: Settings,
                                                                          tmp_path: Path) -> None:
    s = prefixed
    codec = AvroCodec.from_url(s.registry)
    events = [example("AirQualityReading").model_copy(update={"event_id": uuid.uuid4()}) for _ in range(20)]
    ingress = topic_names(s.topic_prefix).ingress(events[0].regency_code).name
    producer = Producer(s.kafka.librdkafka())
    for e in events:
        producer.produce(ingress, codec.encode(e), e.ordering_key.encode())
    producer.flush(30)

    first = bootstrap.gatekeeper(s)
    _run_until(first, lambda: first.counters.routed == 20)
    assert _canonical_count(s) == 20

    # the same events again (a regency resending its last hour), read by a fresh instance on another "host"
    for e in events:
        producer.produce(ingress, codec.encode(e), e.ordering_key.encode())
    producer.flush(30)
    other = s.model_copy(update={"state_dir": tmp_path / "b"})
    second = bootstrap.gatekeeper(other)
    assert not second.recovered.event_sources  # nothing learned from the output tail
    _run_until(second, lambda: second.counters.duplicates == 20)
    assert second.counters.routed == 0
    assert _canonical_count(s) == 20
