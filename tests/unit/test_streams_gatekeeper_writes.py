"""Which producer carries which write of the gatekeeper, and when a batch counts as done: canonical and DLQ records
on the producer that sends a live batch at once, dedup changelog entries and outcome records on the lingering side
producer, and a batch's offsets stored only once the writes of both are acknowledged."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import TopicPartition

from memory_registry import MemoryRegistry
from schemas.codec import AvroCodec
from schemas.dlq_seal import DlqSeal
from schemas.examples import example
from simpul.settings import Settings
from streams.gatekeeper.dedup import DedupTable
from streams.gatekeeper.recovery import Recovered
from streams.gatekeeper.worker import GatekeeperTopics, GatekeeperWorker, side_producer_settings, producer_settings
from streams.runtime import state_budget
from topics.catalog import topic_names
from topics.connection import KafkaConnection


class _Producer:
    """Records produce calls; acknowledges them only when told to (`acking`), at the next poll or flush."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, int | None]] = []
        self.waiting: list[tuple[Any, _Msg]] = []
        self.flushes = 0
        self.acking = False

    def __len__(self) -> int:  # as librdkafka's Producer: messages queued and not yet acknowledged
        return len(self.waiting)

    def produce(self, topic: str, value: bytes | None, key: bytes | None, *, headers: Any = None,
                partition: int | None = None, on_delivery: Any = None) -> None:
        self.sent.append((topic, partition))
        self.waiting.append((on_delivery, _Msg(topic, partition or 0, len(self.sent) - 1, key, value)))

    def poll(self, _timeout: float = 0) -> int:
        if not self.acking:
            return 0
        done, self.waiting = self.waiting, []
        for callback, msg in done:
            callback(None, msg)
        return len(done)

    def flush(self, timeout: float = 0) -> int:
        self.flushes += 1
        self.poll()
        return len(self.waiting)


class _Msg:
    def __init__(self, topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None) -> None:
        self._t, self._p, self._o, self._k, self._v = topic, partition, offset, key, value

    def topic(self) -> str: return self._t
    def partition(self) -> int: return self._p
    def offset(self) -> int: return self._o
    def key(self) -> bytes | None: return self._k
    def value(self) -> bytes | None: return self._v
    def headers(self) -> None: return None
    def error(self) -> None: return None


class _Consumer:
    def __init__(self) -> None:
        self.stored: list[TopicPartition] = []

    def store_offsets(self, offsets: list[TopicPartition]) -> None:
        self.stored += offsets


@pytest.fixture
def worker(tmp_path: Path) -> tuple[GatekeeperWorker, _Producer, _Producer, _Consumer]:
    settings = Settings(state_dir=tmp_path, topic_prefix="p", state_write_buffer_mib=2, state_cache_mib=2)
    codec = AvroCodec(MemoryRegistry())  # type: ignore[arg-type]
    codec.register_all()
    main, side, consumer = _Producer(), _Producer(), _Consumer()
    w = GatekeeperWorker(
        settings, GatekeeperTopics.of(topic_names("p"), settings), connection=KafkaConnection(bootstrap="127.0.0.1:1"),
        codec=codec, hmac_key=b"k", seal=DlqSeal("test-dlq-key-0123456789abcdefghijklmnopqrstu"),
        table=DedupTable(tmp_path / "dedup", budget=state_budget(settings)), recovered=Recovered(),
        producer=main, side_producer=side, consumer=consumer)  # type: ignore[arg-type]
    yield w, main, side, consumer
    w.table.close()


def test_a_live_batch_sends_its_canonical_records_at_once_and_the_rest_on_the_side(worker) -> None:  # type: ignore[no-untyped-def]
    w, main, side, consumer = worker
    topic = topic_names("p").ingress("3374").name
    events = [example("ComplaintFiled").model_copy(update={"event_id": uuid.uuid4()}) for _ in range(3)]
    msgs = [_Msg(topic, 1, 40 + i, b"k", w.codec.encode(e)) for i, e in enumerate(events)]
    msgs.append(_Msg(topic, 1, 43, b"k", b"not avro"))  # to the DLQ, on the producer that sends at once
    w._process(msgs)  # type: ignore[arg-type]

    assert [t for t, _ in main.sent] == ["p.events.governance"] * 3 + ["p.dlq"]
    assert sorted({t for t, _ in side.sent}) == ["p-gatekeeper-dedup-changelog", "p.outcomes.3374"]
    assert sum(t == "p-gatekeeper-dedup-changelog" for t, _ in side.sent) == 3
    assert all(p == 1 for t, p in side.sent if t.endswith("changelog"))  # changelog partition = ingress partition
    assert main.flushes == 1 and side.flushes == 0  # a live batch: only the canonical path is hurried

    main.acking = True
    w._settle()
    assert consumer.stored == []  # the side's writes are not acknowledged yet: nothing is committed
    side.acking = True
    w._settle()
    assert [(tp.topic, tp.partition, tp.offset) for tp in consumer.stored] == [(topic, 1, 44)]
    assert not w._in_flight


def test_the_side_producer_lingers_and_the_canonical_one_does_not_wait_for_it() -> None:
    assert side_producer_settings("g")["linger.ms"] > producer_settings("g")["linger.ms"]
    assert side_producer_settings("g")["client.id"] != producer_settings("g")["client.id"]
    assert side_producer_settings("g")["enable.idempotence"] is True
