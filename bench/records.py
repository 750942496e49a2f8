"""The records every case sends: generated once (a clean seeded simulation), encoded once, reused as bytes.

`Records.ingress` are the Confluent-framed Avro bytes a regency writes to its ingress topic (what the raw baseline,
the gatekeeper and, as events, the SDK and the gateway carry); `Records.canonical` are the same events as the
gatekeeper writes them (NIK tokenised) for the store sink. The plan is cached under bench/results/.cache.
"""

from __future__ import annotations

import pickle
import time
from dataclasses import dataclass
from pathlib import Path

from producers.simulator import FaultMix, PlannedRecord, plan
from schemas.codec import AvroCodec
from schemas.outcomes import Header
from simpul.settings import Settings
from schemas.nik import tokenise_event

CACHE = Path(__file__).resolve().parent / "results" / ".cache"
SEED = 20250303


@dataclass
class Records:
    planned: list[PlannedRecord]
    ingress: list[tuple[str, bytes, bytes, str]]  # regency, key, value, event type
    canonical: list[tuple[str, bytes, bytes, str, str]]  # family, key, value, event type, event id

    def __len__(self) -> int:
        return len(self.planned)

    def dump(self, path: Path) -> Path:
        path.write_bytes(pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL))
        return path

    @staticmethod
    def load(path: Path) -> Records:
        return pickle.loads(path.read_bytes())  # noqa: S301 - our own file


def planned(events: int, seed: int, nik_hmac_key: str) -> list[PlannedRecord]:
    """A clean plan (no double payments, so its records do not depend on the NIK key), cached by size and seed."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"plan-{events}-{seed}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())  # noqa: S301 - our own cache
    records = list(plan(events, seed, FaultMix.clean(), nik_hmac_key=nik_hmac_key).records)
    path.write_bytes(pickle.dumps(records, protocol=pickle.HIGHEST_PROTOCOL))
    return records


def build(settings: Settings, events: int, seed: int = SEED, *, log=print) -> Records:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    recs = planned(events, seed, settings.secret("nik_hmac_key"))
    codec = AvroCodec.from_url(settings.registry)
    codec.register_all()  # idempotent; a fresh platform (`make bench` on a new clone) has an empty registry
    hmac_key = settings.secret("nik_hmac_key").encode()
    ingress, canonical = [], []
    for r in recs:
        value = codec.encode(r.event)
        ingress.append((r.ingress, r.key, value, r.event_type))
        tok = tokenise_event(r.event, hmac_key)
        canonical.append((r.family, tok.ordering_key.encode(), codec.encode(tok), r.event_type, str(r.event.event_id)))
    log(f"records: {len(recs)} planned and encoded in {time.monotonic() - started:.1f}s")
    return Records(recs, ingress, canonical)


EVENT_TYPE_HEADER = Header.EVENT_TYPE
