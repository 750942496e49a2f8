"""A registry double for unit tests: just the SchemaRegistryClient calls AvroCodec makes (the real registry is
exercised by the integration tests)."""

from __future__ import annotations

from confluent_kafka.schema_registry import RegisteredSchema, Schema
from confluent_kafka.schema_registry.error import SchemaRegistryError

from schemas.codec import AvroCodec


class MemoryRegistry:
    """Just the calls AvroCodec makes; counts fetches so caching is visible."""

    def __init__(self) -> None:
        self.by_id: dict[int, str] = {}
        self.subjects: dict[str, int] = {}
        self.rules: dict[str, str] = {}
        self.fetches = 0

    def register_schema(self, subject: str, schema: Schema) -> int:
        sid = next((i for i, s in self.by_id.items() if s == schema.schema_str), len(self.by_id) + 1)
        self.by_id[sid] = schema.schema_str
        self.subjects[subject] = sid
        return sid

    def set_compatibility(self, subject_name: str, level: str) -> dict:
        self.rules[subject_name] = level
        return {"compatibility": level}

    def lookup_schema(self, subject: str, schema: Schema) -> RegisteredSchema:
        if subject not in self.subjects:
            raise SchemaRegistryError(404, 40401, f"Subject '{subject}' not found.")
        sid = self.subjects[subject]
        return RegisteredSchema(schema_id=sid, guid=None, schema=schema, subject=subject, version=1)

    def get_schema(self, schema_id: int) -> Schema:
        self.fetches += 1
        if schema_id not in self.by_id:
            raise SchemaRegistryError(404, 40403, "Schema not found")
        return Schema(self.by_id[schema_id], "AVRO")


def canonical_traffic(events: int, seed: int, nik_key: str) -> tuple[AvroCodec, list[bytes]]:
    """Simulator traffic with its anomalies, as the gatekeeper writes it to the canonical topics (NIKs tokenised,
    Avro framed with this double's schema ids), and the codec that reads it."""
    from producers.simulator import plan
    from producers.simulator.model import Expect
    from schemas.nik import tokenise_event

    codec = AvroCodec(MemoryRegistry())  # type: ignore[arg-type]
    codec.register_all()
    records = [r for r in plan(events, seed, nik_hmac_key=nik_key).records if r.expect is Expect.EVENT]
    return codec, [codec.encode(tokenise_event(r.event, nik_key.encode())) for r in records]
