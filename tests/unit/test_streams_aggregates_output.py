"""The aggregates' output producer: a flush hands back the windows the broker refused (the timer emits them again)
and a full local queue waits instead of dropping a record."""

from __future__ import annotations

import asyncio
from typing import Any

from streams.aggregates.output import WindowOutput
from topics.connection import KafkaConnection


class FakeProducer:
    """librdkafka's Producer as far as WindowOutput uses it: refuses the keys in `refuse`, and raises BufferError
    `full` times before queueing."""

    def __init__(self, refuse: set[bytes], full: int = 0) -> None:
        self.refuse, self.full, self.queued, self.sent, self.polls = refuse, full, [], [], 0

    def produce(self, topic: str, value: bytes, key: bytes, on_delivery: Any) -> None:
        if self.full:
            self.full -= 1
            raise BufferError("Local: Queue full")
        self.queued.append((topic, key, value, on_delivery))

    def poll(self, timeout: float) -> int:
        self.polls += 1
        return 0

    def flush(self, timeout: float) -> int:
        for topic, key, value, cb in self.queued:
            err = Refused() if key in self.refuse else None
            cb(err, None)
            if err is None:
                self.sent.append((topic, key, value))
        self.queued = []
        return 0


class Refused:
    def str(self) -> str:  # noqa: A003 - KafkaError's method name
        return "Broker: Not enough in-sync replicas"


def test_refused_windows_come_back_from_the_flush_and_the_rest_is_sent() -> None:
    fake = FakeProducer(refuse={b"k2"})
    out = WindowOutput(KafkaConnection(bootstrap="127.0.0.1:1"), "t", producer=fake)
    for i in range(4):
        out.send("p.agg.prices", f"k{i}".encode(), b"v%d" % i, f"k{i}")
    assert asyncio.run(out.flush()) == ["k2"]
    assert [k for _, k, _ in fake.sent] == [b"k0", b"k1", b"k3"]
    assert asyncio.run(out.flush()) == []  # refusals are handed back once


def test_a_full_queue_waits_and_keeps_the_record() -> None:
    fake = FakeProducer(refuse=set(), full=3)
    out = WindowOutput(KafkaConnection(bootstrap="127.0.0.1:1"), "t", producer=fake)
    out.send("p.agg.prices", b"k", b"v", "k")
    assert fake.polls == 3 and len(fake.queued) == 1
    assert asyncio.run(out.flush()) == [] and fake.sent == [("p.agg.prices", b"k", b"v")]


def test_nothing_sent_nothing_to_flush_and_no_connection_made() -> None:
    out = WindowOutput(KafkaConnection(bootstrap="127.0.0.1:1"), "t")
    assert asyncio.run(out.flush()) == [] and out._producer is None
