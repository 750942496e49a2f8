"""The gatekeeper's CPU per record, in process: no broker, no registry, so the figure barely moves with the load
other work puts on the host (the catch-up rate of `python -m bench --only gatekeeper` does).

It runs what the worker does per record besides librdkafka's produce calls: `screen` (decode, validate, regency,
dedup, route), the regency's outcome record (`feedback`) and the dedup changelog entry, over the bench's clean
seeded traffic (all routed). Usage: `python -m bench.gatekeeper_cpu [--events N] [--repetitions R]`; the answer
is the median of R passes in µs of process CPU per record.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime
from typing import Any

from confluent_kafka.schema_registry import RegisteredSchema, Schema

from producers.simulator import FaultMix, plan
from schemas.codec import AvroCodec
from schemas.dlq_seal import DlqSeal
from streams.gatekeeper.dedup import entry_key, entry_value
from streams.gatekeeper.logic import DedupMemory, Routed, Routing, feedback, screen

HMAC_KEY = b"gatekeeper-cpu-bench-key"
SEAL = DlqSeal("gatekeeper-cpu-bench-dlq-key-0123456789abcdef")
NOW = datetime(2025, 3, 3, 3, 0, tzinfo=UTC)


class _Registry:
    """The four registry calls the codec makes, answered from memory (this measures the gatekeeper, not HTTP)."""

    def __init__(self) -> None:
        self.by_id: dict[int, str] = {}
        self.subjects: dict[str, int] = {}

    def register_schema(self, subject: str, schema: Schema) -> int:
        sid = self.subjects.setdefault(subject, len(self.subjects) + 1)
        self.by_id[sid] = schema.schema_str
        return sid

    def set_compatibility(self, subject_name: str, level: str) -> dict[str, str]:
        return {"compatibility": level}

    def lookup_schema(self, subject: str, schema: Schema) -> RegisteredSchema:
        return RegisteredSchema(schema_id=self.subjects[subject], guid=None, schema=schema, subject=subject,
                                version=1)

    def get_schema(self, schema_id: int) -> Schema:
        return Schema(self.by_id[schema_id], "AVRO")


def records(events: int, codec: AvroCodec) -> list[tuple[str, bytes, bytes]]:
    """(ingress topic, key, value) of a clean seeded plan, encoded once."""
    return [(f"p.ingress.{r.ingress}", r.key, codec.encode(r.event))
            for r in plan(events, 20250303, FaultMix.clean(), nik_hmac_key=HMAC_KEY.decode()).records]


def one_pass(codec: AvroCodec, routing: Routing, recs: list[tuple[str, bytes, bytes]]) -> float:
    """Process CPU seconds per record of one pass over `recs` with an empty dedup memory."""
    memory = DedupMemory({}, 7 * 24 * 3600 * 1000)
    now_ms = int(NOW.timestamp() * 1000)
    at = NOW.isoformat(timespec="milliseconds")
    options: dict[str, Any] = {"codec": codec, "routing": routing, "hmac_key": HMAC_KEY, "seal": SEAL,
                               "first_seen": lambda event_id: memory.first_seen(event_id, now_ms), "now": NOW}
    routed = 0
    started = time.process_time()
    for offset, (topic, key, value) in enumerate(recs):
        outcome = screen(topic, 0, offset, key, value, None, **options)
        if isinstance(outcome, Routed):
            routed += 1
            entry_key(outcome.event_id), entry_value(now_ms, outcome.source)
            memory.remember(outcome.event_id, outcome.source, now_ms)
        feedback(outcome, topic, routing, at)
    spent = time.process_time() - started
    if routed != len(recs):
        raise SystemExit(f"only {routed} of {len(recs)} clean records were routed: the measurement is not valid")
    return spent / len(recs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--repetitions", type=int, default=5)
    args = parser.parse_args()
    codec = AvroCodec(_Registry())  # type: ignore[arg-type]
    codec.register_all()
    recs = records(args.events, codec)
    regencies = sorted({t.rsplit(".", 1)[1] for t, _, _ in recs})
    routing = Routing(
        ingress={f"p.ingress.{r}": r for r in regencies},
        canonical={f: f"p.events.{f}" for f in ("governance", "living", "economy", "environment", "society",
                                                "branding")},
        dlq="p.dlq",
        outcomes={f"p.ingress.{r}": f"p.outcomes.{r}" for r in regencies},
    )
    one_pass(codec, routing, recs[:2000])  # warm caches (schema ids, writers, reference data)
    passes = [one_pass(codec, routing, recs) for _ in range(args.repetitions)]
    print(f"gatekeeper CPU per record: median {statistics.median(passes) * 1e6:.1f} µs "
          f"(passes: {', '.join(f'{p * 1e6:.1f}' for p in passes)}; {len(recs)} records)")


if __name__ == "__main__":
    main()
