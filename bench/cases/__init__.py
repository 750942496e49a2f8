"""One module per measurement; each `run(ctx, rep)` returns a dict of figures of one repetition.

a raw baseline · b SDK ingest · c gateway ingest · d gatekeeper throughput + latency · e store sink.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import Producer

from bench.records import EVENT_TYPE_HEADER, Records
from producers.delivery import PRODUCER_DEFAULTS
from simpul.settings import Settings


@dataclass
class Context:
    settings: Settings
    records: Records
    records_file: Path
    workdir: Path
    log: Callable[[str], None]
    quick: bool = False
    gatekeeper_rates: list[float] = field(default_factory=list)  # for the latency phase's half load
    latency_rate: float | None = None  # a fixed rate for the latency phase instead of half the measured one
    gatekeeper_workers: int = 1  # gatekeeper processes in one group (the bounds are for one)
    log_nice: int = 0  # the transparency log's niceness beside the gatekeeper (case d+h); 0 = same priority


def producer(settings: Settings, **conf: Any) -> Producer:
    return Producer(settings.kafka.librdkafka(**{**PRODUCER_DEFAULTS, "client.id": "bench-preload", **conf}))


def preload(settings: Settings, items: Sequence[tuple[str, bytes, bytes, str]]) -> None:
    """Produce (topic, key, value, event type) records and wait for every acknowledgement (not timed)."""
    p = producer(settings)
    for topic, key, value, event_type in items:
        while True:
            try:
                p.produce(topic, value=value, key=key, headers=[(EVENT_TYPE_HEADER, event_type.encode())])
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
    left = p.flush(120)
    if left:
        raise RuntimeError(f"preloading: {left} records not acknowledged")


def last_json(text: str) -> dict[str, Any]:
    """The last JSON object of a process's output (one line or pretty-printed)."""
    decoder = json.JSONDecoder()
    starts = [i for i, ch in enumerate(text) if ch == "{" and (i == 0 or text[i - 1] == "\n")]
    for i in reversed(starts):
        try:
            obj, _ = decoder.raw_decode(text, i)
        except ValueError:
            continue
        if isinstance(obj, dict):
            return obj
    raise ValueError(f"no JSON object in the output:\n{text[-2000:]}")


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout:.0f}s")
        time.sleep(interval)
