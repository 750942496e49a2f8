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
from schemas.dlq_seal import DlqSeal, Original
from schemas.examples import example
from schemas.nik import NikContext, is_nik_token, is_raw_nik, tokenise_event, tokenise_nik
from schemas.outcomes import RejectReason
from streams.gatekeeper.logic import (
    AlreadyDone,
    DedupMemory,
    Duplicate,
    Rejected,
    Routed,
    Routing,
    screen,
)

KEY = b"test-hmac-key"
SEAL = DlqSeal("test-dlq-key-0123456789abcdefghijklmnopqrstu")
SENDER_HEADERS = [("simpul.event_type", b"whatever")]
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
    return screen(topic, 1, offset, key, value, SENDER_HEADERS, codec=codec, routing=ROUTING,
                  hmac_key=KEY, seal=SEAL, first_seen=(seen or {}).get, already_done=(done or set()).__contains__, now=NOW)


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
    routed = codec.decode(out.value, NikContext.CANONICAL)
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
    assert not any(k.endswith("event_type") for k in headers)  # the sender's headers are sealed, not beside it
    assert datetime.fromisoformat(headers["simpul.rejected_at"].decode()) == NOW
    assert out.topic == "p.dlq" and out.key is None  # the original key is sealed too
    return out


def _opened(out: Rejected) -> Original:
    original = SEAL.open(out.value, "p.ingress.3374:1:7")
    assert original.key == b"3374:X" and original.headers == tuple(SENDER_HEADERS)
    return original


@pytest.mark.parametrize("value", [b"garbage", b"", b"\x00\x00\x00\x03\xe7xx", None])
def test_undecodable(codec: AvroCodec, value: bytes | None) -> None:
    out = _dlq(run(codec, value), RejectReason.UNDECODABLE)
    assert _opened(out).value == value


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


def _with(codec: AvroCodec, event_type: str, **changes: object) -> bytes:
    """Bytes a plain Kafka client could send: our schema, any datum (no model in the way)."""
    return codec.encode_datum(event_type, {**example(event_type).to_avro(), **changes})


@pytest.mark.parametrize("sent", [
    "nik:3374015502900001",  # a raw NIK dressed as a token: it would reach the canonical topic in the clear
    tokenise_nik(KEY, "3374015502900001"),  # a well-formed token: a regency choosing its own tokens
    tokenise_nik(b"another key", "3374015502900001"),
    "337401550290000", "33740155029000011", "3374-0155-0290-0001", "abcd", "",
])
def test_an_ingress_nik_field_takes_a_raw_nik_only(codec: AvroCodec, sent: str) -> None:
    value = _with(codec, "ServiceRequestSubmitted", applicant_nik=sent)
    out = _dlq(run(codec, value), RejectReason.INVALID_EVENT)
    assert "applicant_nik" in out.message and "16-digit NIK" in out.message
    assert (sent not in out.message) if sent else True
    assert "3374015502900001" not in out.message and b"3374015502900001" not in out.value
    assert _opened(out).value == value  # nothing lost: the sender's bytes, sealed


def test_null_nik_is_valid_and_stays_null(codec: AvroCodec) -> None:
    out = run(codec, _with(codec, "ServiceRequestSubmitted", applicant_nik=None))
    assert isinstance(out, Routed)
    assert codec.decode(out.value, NikContext.CANONICAL).applicant_nik is None


def test_a_raw_nik_in_a_record_rejected_for_another_reason_is_sealed(codec: AvroCodec) -> None:
    nik = "3374014107770031"
    value = _with(codec, "ServiceRequestSubmitted", applicant_nik=nik, fee_charged_idr=-5)
    out = screen("p.ingress.3374", 1, 7, nik.encode(), value, [("x-citizen", nik.encode()), (nik, b"")],
                 codec=codec, routing=ROUTING, hmac_key=KEY, seal=SEAL, first_seen={}.get, now=NOW)
    assert isinstance(out, Rejected) and out.reason is RejectReason.INVALID_EVENT and "fee_charged_idr" in out.message
    clear = [out.value, *(k.encode() for k, _ in out.headers), *(v for _, v in out.headers), out.message.encode()]
    assert not any(nik.encode() in blob for blob in clear)
    assert SEAL.open(out.value, "p.ingress.3374:1:7") == Original(nik.encode(), value,
                                                                    (("x-citizen", nik.encode()), (nik, b"")))


def test_a_nik_in_a_field_where_none_belongs_is_masked_in_the_reason(codec: AvroCodec) -> None:
    value = _with(codec, "ServiceRequestSubmitted", service_code="3374014107770031")
    out = _dlq(run(codec, value), RejectReason.INVALID_EVENT)
    assert "service_code" in out.message and "3374************" in out.message
    assert "3374014107770031" not in out.message


def test_regency_of_another_topic_is_rejected(codec: AvroCodec) -> None:
    value = codec.encode(example("ServiceRequestSubmitted", regency_code="3301"))
    out = _dlq(run(codec, value), RejectReason.REGENCY_MISMATCH)
    assert "3301" in out.message and _opened(out).value == value


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

    records = list(plan(3000, 11, FaultMix.clean(), nik_hmac_key=KEY.decode()).records)
    assert {r.event_type for r in records} >= {"ServiceRequestSubmitted", "ComplaintFiled", "SocialAidDisbursed"}
    forwarded = 0
    for i, r in enumerate(records):
        value = codec.encode(r.event)
        out = screen(f"p.ingress.{r.event.regency_code}", 0, i, r.key, value, [], codec=codec,
                     routing=Routing(ingress={f"p.ingress.{r.event.regency_code}": r.event.regency_code},
                                     canonical=ROUTING.canonical, dlq="p.dlq"),
                     hmac_key=KEY, seal=SEAL, first_seen=lambda _e: None, now=NOW)
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
                 hmac_key=KEY, seal=SEAL, first_seen=lambda _e: None, now=NOW)
    assert isinstance(out, Routed)
    assert out.value == ours
