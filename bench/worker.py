"""Processes the bench starts besides Simpul's own commands, so each has its own peak memory:

    python -m bench.worker raw --records F --bootstrap B --source T --sink T --count N
    python -m bench.worker sdk --records F --bootstrap B --registry URL --prefix P
    python -m bench.worker tlog --store-url URL   (the platform and prefix from SIMPUL_* like `simpul transparency run`)

Each prints one JSON object on stdout: records, seconds, rate (tlog: also where its time went).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def raw(args: argparse.Namespace) -> dict[str, float]:
    """The raw baseline: confluent-kafka consume -> produce each record to another topic, no decoding at all.

    Timed from the first record read to the last acknowledgement of the output (flush)."""
    import uuid

    from confluent_kafka import Consumer, Producer

    from producers.delivery import PRODUCER_DEFAULTS

    consumer = Consumer({"bootstrap.servers": args.bootstrap, "group.id": f"bench-raw-{uuid.uuid4().hex[:8]}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    producer = Producer({"bootstrap.servers": args.bootstrap, **PRODUCER_DEFAULTS})
    consumer.subscribe([args.source])
    seen, started = 0, None
    deadline = time.monotonic() + args.timeout
    while seen < args.count:
        if time.monotonic() > deadline:
            raise SystemExit(f"raw passthrough read only {seen} of {args.count} records in {args.timeout}s")
        batch = consumer.consume(1000, timeout=0.5)
        if batch and started is None:
            started = time.monotonic()
        for m in batch:
            if m.error() is not None:
                continue
            while True:
                try:
                    producer.produce(args.sink, value=m.value(), key=m.key(), headers=m.headers())
                    break
                except BufferError:
                    producer.poll(0.05)
            seen += 1
        producer.poll(0)
    left = producer.flush(120)
    seconds = time.monotonic() - (started or time.monotonic())
    consumer.close()
    if left:
        raise SystemExit(f"{left} records of the raw passthrough were not acknowledged")
    return {"records": seen, "seconds": seconds, "rate": seen / seconds}


def sdk(args: argparse.Namespace) -> dict[str, float]:
    """SDK ingest: `send_sdk` of the planned events (one RegencyProducer per regency, one shared Kafka client), every ack awaited."""
    from bench.records import Records
    from producers.simulator.send import send_sdk
    from schemas.codec import AvroCodec
    from topics.connection import KafkaConnection

    records = Records.load(Path(args.records))
    codec = AvroCodec.from_url(args.registry)
    for r in records.planned[:50]:  # warm the schema id cache (registry lookups are not ingest work)
        codec.encode(r.event)
    report = send_sdk(records.planned, kafka=KafkaConnection(bootstrap=args.bootstrap), codec=codec,
                      topic_prefix=args.prefix, show_progress=False)
    return {"records": report.delivered, "seconds": report.seconds, "rate": report.delivered / report.seconds}


class _TimedConsumer:
    """The stage's consumer with the time spent in `consume()` counted (everything else passed through)."""

    def __init__(self, consumer: Any, timers: dict[str, float], first: list[float]) -> None:  # noqa: ANN401
        self._consumer, self._timers, self._first = consumer, timers, first

    def consume(self, *args: Any, **kwargs: Any) -> list[Any]:  # noqa: ANN401
        t0 = time.monotonic()
        batch = self._consumer.consume(*args, **kwargs)
        self._timers["consume"] += time.monotonic() - t0
        if batch and not self._first:
            self._first.append(t0)
        return batch

    def __getattr__(self, name: str) -> Any:  # noqa: ANN401
        return getattr(self._consumer, name)


def tlog(args: argparse.Namespace) -> dict[str, Any]:
    """The transparency stage (`bootstrap.transparency_log`, as `simpul transparency run --once`) catching up on
    the canonical topics, with timers around its steps; leaves/s from its first non-empty batch to the end of its
    last checkpoint (start-up, loading the log and the group join excluded)."""
    from simpul import bootstrap
    from simpul.settings import load_settings
    from transparency import stage as stage_module

    timers = {k: 0.0 for k in ("consume", "leaf", "insert", "append", "offsets", "checkpoint", "checkpoint_store",
                               "publish")}
    first: list[float] = []

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*a: Any, **kw: Any) -> Any:  # noqa: ANN401
            t0 = time.monotonic()
            try:
                return fn(*a, **kw)
            finally:
                timers[name] += time.monotonic() - t0
        return wrapper

    store = stage_module.log_store  # this process runs nothing else: its functions are wrapped where they live
    store.append = timed("insert", store.append)  # type: ignore[method-assign]
    store.add_checkpoint = timed("checkpoint_store", store.add_checkpoint)  # type: ignore[method-assign]
    stage_module.commit_offsets = timed("offsets", stage_module.commit_offsets)  # type: ignore[assignment]
    stage = bootstrap.transparency_log(load_settings(), store_url=args.store_url)
    stage.consumer = _TimedConsumer(stage.consumer, timers, first)  # type: ignore[assignment]
    stage._leaf = timed("leaf", stage._leaf)  # type: ignore[method-assign]
    stage.append = timed("append", stage.append)  # type: ignore[method-assign]
    stage.checkpoint = timed("checkpoint", stage.checkpoint)  # type: ignore[method-assign]
    stage._publish = timed("publish", stage._publish)  # type: ignore[method-assign]
    cpu0 = time.process_time()
    stats = stage.run(once=True)
    end = time.monotonic()
    if not first or not stats.appended:
        raise SystemExit(f"the transparency stage appended nothing: {stats.as_dict()}")
    seconds = end - first[0]
    # the receipts' share: checkpoint() = sign + proofs + store + publish
    return {"records": stats.records, "appended": stats.appended, "checkpoints": stats.checkpoints,
            "seconds": seconds, "rate": stats.appended / seconds, "cpu_seconds": time.process_time() - cpu0,
            **{f"{k}_s": round(v, 4) for k, v in timers.items()}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.worker")
    sub = ap.add_subparsers(dest="what", required=True)
    r = sub.add_parser("raw")
    r.add_argument("--bootstrap", required=True)
    r.add_argument("--source", required=True)
    r.add_argument("--sink", required=True)
    r.add_argument("--count", type=int, required=True)
    r.add_argument("--timeout", type=float, default=600.0)
    s = sub.add_parser("sdk")
    s.add_argument("--records", required=True)
    s.add_argument("--bootstrap", required=True)
    s.add_argument("--registry", required=True)
    s.add_argument("--prefix", required=True)
    t = sub.add_parser("tlog")
    t.add_argument("--store-url", required=True)
    args = ap.parse_args(argv)
    result = {"raw": raw, "sdk": sdk, "tlog": tlog}[args.what](args)
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
