"""The gatekeeper's pure decisions, against an in-memory stand-in for the registry (no broker)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import fastavro
import pytest
from confluent_kafka.schema_registry import Schema
from memory_registry import MemoryRegistry

from schemas.catalog import schema_of
from schemas.codec import AvroCodec, frame
from schemas.examples import example
from schemas.models import is_nik_token, is_raw_nik
from schemas.outcomes import RejectReason
from streams.gatekeeper.logic import (
    AlreadyDone,
    DedupMemory,
    Duplicate,
    Rejected,
    Routed,
    Routing,
    screen,
    tokenise_nik,
)

KEY = b"test-hmac-key"
NOW = datetime(2025, 3, 3, 3, 0, tzinfo=UTC)
ROUTING = Routing(
    ingress={"p.ingress.3374": "3374", "p.ingress.3301": "3301"},
    canonical={f: f"p.events.{f}" for f in ("governance", "living", "economy", "environment", "society", "branding")},
    dlq="p.dlq",
)


@pytest.fixture
def codec() -> AvroCodec:
    c = AvroCodec(MemoryRegistry())  # type: ignore[arg-type]
    c.register_all()
    return c


def run(codec: AvroCodec, value: bytes | None, *, topic: str = "p.ingress.3374", offset: int = 7,
        seen: dict[str, str] | None = None, done: set[str] | None = None, key: bytes | None = b"3374:X"):
    return screen(topic, 1, offset, key, value, [("simpul.event_type", b"whatever")], codec=codec, routing=ROUTING,
                  hmac_key=KEY, first_seen=(seen or {}).get, already_done=(done or set()).__contains__, now=NOW)


def test_token_is_stable_keyed_and_valid() -> None:
    token = tokenise_nik(KEY, "3374015502900001")
    assert token == tokenise_nik(KEY, "3374015502900001")
    assert token != tokenise_nik(b"other", "3374015502900001")
    assert len(token) == 47 and token.startswith("nik:") and "=" not in token
    assert is_nik_token(token)


def test_valid_event_is_routed_tokenised_with_headers(codec: AvroCodec) -> None:
    event = example("ServiceRequestSubmitted")
    out = run(codec, codec.encode(event))
    assert isinstance(out, Routed)
    assert out.topic == "p.events.governance"
    assert out.key == event.ordering_key.encode()
    headers = dict(out.headers)
    assert headers["simpul.event_id"] == str(event.event_id).encode()
    assert headers["simpul.event_type"] == b"ServiceRequestSubmitted"
    assert headers["simpul.source"] == b"p.ingress.3374:1:7"
    routed = codec.decode(out.value)
    assert routed.applicant_nik == tokenise_nik(KEY, event.applicant_nik)
    assert not is_raw_nik(routed.applicant_nik)
    assert routed.model_dump(exclude={"applicant_nik"}) == event.model_dump(exclude={"applicant_nik"})


def test_every_nik_field_is_tokenised(codec: AvroCodec) -> None:
    for event_type in ("ComplaintFiled", "HealthFacilityVisit", "SocialAidDisbursed"):
        out = run(codec, codec.encode(example(event_type)))
        assert isinstance(out, Routed)
        assert b"33740155029" not in out.value


def _dlq(out: object, reason: RejectReason) -> Rejected:
    assert isinstance(out, Rejected), out
    assert out.reason is reason
    headers = dict(out.headers)
    assert headers["simpul.reason"] == reason.value.encode()
    assert headers["simpul.source_topic"] == b"p.ingress.3374"
    assert headers["simpul.source_partition"] == b"1" and headers["simpul.source_offset"] == b"7"
    assert headers["original.simpul.event_type"] == b"whatever"  # sender headers kept, out of our namespace
    assert "simpul.event_type" not in headers
    assert datetime.fromisoformat(headers["simpul.rejected_at"].decode()) == NOW
    assert out.topic == "p.dlq" and out.key == b"3374:X"
    return out


@pytest.mark.parametrize("value", [b"garbage", b"", b"\x00\x00\x00\x03\xe7xx", None])
def test_undecodable(codec: AvroCodec, value: bytes | None) -> None:
    out = _dlq(run(codec, value), RejectReason.UNDECODABLE)
    assert out.value == (value if value is not None else b"")
    assert (dict(out.headers).get("simpul.original_value") == b"null") == (value is None)


def test_corrupt_body_is_undecodable(codec: AvroCodec) -> None:
    good = codec.encode(example("AirQualityReading"))
    _dlq(run(codec, good[:8]), RejectReason.UNDECODABLE)


def test_unknown_record_type(codec: AvroCodec) -> None:
    foreign = {"type": "record", "name": "Foreign", "namespace": "org.example", "fields": [{"name": "a", "type": "int"}]}
    sid = codec.client.register_schema("org.example.Foreign", Schema(json.dumps(foreign), "AVRO"))
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(foreign), {"a": 1})
    _dlq(run(codec, frame(sid, body.getvalue())), RejectReason.UNKNOWN_EVENT_TYPE)


def test_model_rule_broken_is_invalid_event(codec: AvroCodec) -> None:
    datum = example("StapleFoodPriceObserved").to_avro()
    datum["price_idr"] = -5
    body = io.BytesIO()
    fastavro.schemaless_writer(body, schema_of("StapleFoodPriceObserved").parsed, datum)
    out = _dlq(run(codec, frame(codec.schema_id("StapleFoodPriceObserved"), body.getvalue())), RejectReason.INVALID_EVENT)
    assert "price_idr" in out.message


def test_regency_of_another_topic_is_rejected(codec: AvroCodec) -> None:
    value = codec.encode(example("ServiceRequestSubmitted", regency_code="3301"))
    out = _dlq(run(codec, value), RejectReason.REGENCY_MISMATCH)
    assert "3301" in out.message and out.value == value


def test_duplicates_and_replays(codec: AvroCodec) -> None:
    event = example("AirQualityReading")
    value = codec.encode(event)
    seen = {str(event.event_id): "p.ingress.3374:1:3"}
    assert isinstance(run(codec, value, seen=seen), Duplicate)
    # the same record replayed after a crash whose output was lost: routed again
    assert isinstance(run(codec, value, seen={str(event.event_id): "p.ingress.3374:1:7"}), Routed)
    # the same record replayed while its output is on the canonical topic (or the DLQ): nothing
    assert isinstance(run(codec, value, done={"p.ingress.3374:1:7"}), AlreadyDone)
    assert isinstance(run(codec, b"junk", done={"p.ingress.3374:1:7"}), AlreadyDone)


def test_dedup_memory_horizon() -> None:
    memory = DedupMemory({}, horizon_ms=1000, recovered={"b": "t:0:9"})
    memory.remember("a", "t:0:1", now_ms=10_000)
    assert memory.first_seen("a", 10_500) == "t:0:1"
    assert memory.first_seen("a", 11_001) is None  # beyond the horizon
    assert memory.first_seen("b", 0) == "t:0:9"
    assert memory.first_seen("c", 0) is None


def test_recent_sources_are_bounded() -> None:
    from streams.gatekeeper.logic import RecentSources

    recent = RecentSources(cap=2)
    for s in ("a", "b", "c"):
        recent.add(s)
    assert "a" not in recent and "b" in recent and "c" in recent


def test_canonical_bytes_equal_the_model_round_trip(codec: AvroCodec) -> None:
    """The fast path (input bytes forwarded, or the decoded datum re-encoded) gives exactly the bytes of decoding
    into the model, tokenising it and encoding the model, for every event type of a simulated day."""
    from producers.simulator import FaultMix, plan
    from streams.gatekeeper.logic import tokenise_event

    records = list(plan(3000, 11, FaultMix.clean()).records)
    assert {r.event_type for r in records} >= {"ServiceRequestSubmitted", "ComplaintFiled", "SocialAidDisbursed"}
    forwarded = 0
    for i, r in enumerate(records):
        value = codec.encode(r.event)
        out = screen(f"p.ingress.{r.event.regency_code}", 0, i, r.key, value, [], codec=codec,
                     routing=Routing(ingress={f"p.ingress.{r.event.regency_code}": r.event.regency_code},
                                     canonical=ROUTING.canonical, dlq="p.dlq"),
                     hmac_key=KEY, first_seen=lambda _e: None, now=NOW)
        assert isinstance(out, Routed), out
        assert out.value == codec.encode(tokenise_event(codec.decode(value), KEY)), r.event_type
        forwarded += out.value is value
    assert 0 < forwarded < len(records)  # both paths were taken


def test_foreign_writer_schema_is_resolved_and_re_encoded_with_ours(codec: AvroCodec) -> None:
    """A body written with another (compatible) schema id is resolved to ours, never forwarded as it is."""
    event = example("AirQualityReading")
    ours = codec.encode(event)
    definition = json.loads(schema_of("AirQualityReading").text)
    definition["fields"].append({"name": "extra_note", "type": ["null", "string"], "default": None})
    foreign_id = codec.client.register_schema("other-AirQualityReading", Schema(json.dumps(definition), "AVRO"))
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(definition), {**event.to_avro(), "extra_note": "x"})
    topic = f"p.ingress.{event.regency_code}"
    out = screen(topic, 0, 1, b"k", frame(foreign_id, body.getvalue()), [], codec=codec,
                 routing=Routing(ingress={topic: event.regency_code}, canonical=ROUTING.canonical, dlq="p.dlq"),
                 hmac_key=KEY, first_seen=lambda _e: None, now=NOW)
    assert isinstance(out, Routed)
    assert out.value == ours
