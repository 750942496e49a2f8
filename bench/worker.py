"""Processes the bench starts besides Simpul's own commands, so each has its own peak memory:

    python -m bench.worker raw --records F --bootstrap B --source T --sink T --count N
    python -m bench.worker sdk --records F --bootstrap B --registry URL --prefix P

Each prints one JSON object on stdout: records, seconds, rate.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


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
    args = ap.parse_args(argv)
    result = raw(args) if args.what == "raw" else sdk(args)
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
