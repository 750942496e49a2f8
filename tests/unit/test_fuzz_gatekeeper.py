"""Property-based fuzzing of the gatekeeper's pure decision (`screen`) and its crash recovery (`Recovered`), with an
in-memory registry (no broker): whatever bytes and headers arrive, `screen` answers an outcome instead of raising,
a DLQ record seals the original key, value and headers (they open back exactly, bound to where the input came
from) and carries only our own headers in the clear, and reading that DLQ record back at start-up marks exactly
that input as done.
"""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from memory_registry import MemoryRegistry

from schemas.catalog import event_types, nik_fields
from schemas.codec import AvroCodec
from schemas.dlq_seal import DlqSeal, Original
from schemas.examples import example as example_event
from schemas.nik import NikContext
from schemas.outcomes import Header
from streams.gatekeeper.logic import (
    AlreadyDone,
    Duplicate,
    Rejected,
    Routed,
    Routing,
    screen,
    source_of,
)
from streams.gatekeeper.recovery import Recovered

NOW = datetime(2025, 3, 3, 3, 0, tzinfo=UTC)
ROUTING = Routing(
    ingress={"p.ingress.3374": "3374", "p.ingress.3301": "3301"},
    canonical={f: f"p.events.{f}" for f in ("governance", "living", "economy", "environment", "society", "branding")},
    dlq="p.dlq",
)
HEADER_NAMES = [v for k, v in vars(Header).items() if k.isupper()] + ["x-trace"]
OURS = {Header.REASON, Header.REASON_MESSAGE, Header.SOURCE_TOPIC, Header.SOURCE_PARTITION, Header.SOURCE_OFFSET,
        Header.REJECTED_AT}
SEAL = DlqSeal("fuzz-dlq-key-0123456789abcdefghijklmnopqrstuv")
FUZZ = settings(max_examples=300, derandomize=True, database=None, deadline=None,
                suppress_health_check=list(HealthCheck))


CODEC = AvroCodec(MemoryRegistry())  # type: ignore[arg-type]
CODEC.register_all()
VALID = {t: CODEC.encode(example_event(t, regency_code="3374") if t != "TourismVisitCount" else example_event(t))
         for t in event_types()}

headers_st = st.lists(st.tuples(st.sampled_from(HEADER_NAMES), st.binary(max_size=30)), max_size=4)


def decide(key: bytes | None, value: bytes | None, headers, offset: int = 7):  # type: ignore[no-untyped-def]
    return screen("p.ingress.3374", 1, offset, key, value, headers, codec=CODEC, routing=ROUTING, hmac_key=b"k",
                  seal=SEAL, first_seen=lambda _id: None, now=NOW)


def check_outcome(out, key, value, headers, offset: int = 7) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(out, (Routed, Rejected, Duplicate, AlreadyDone))
    if isinstance(out, Rejected):
        assert (out.key, out.topic) == (None, "p.dlq")
        # the sender's key, value and headers are sealed, exactly, and open only for this source
        assert SEAL.open(out.value, source_of("p.ingress.3374", 1, offset)) == Original(key, value, tuple(headers))
        # in the clear: our own headers, nothing of the sender's
        assert set(dict(out.headers)) == OURS and len(out.headers) == len(OURS)
        ours = dict(out.headers)
        assert ours[Header.SOURCE_TOPIC] == b"p.ingress.3374" and ours[Header.SOURCE_OFFSET] == str(offset).encode()
        assert ours[Header.REASON] and ours[Header.REASON_MESSAGE]
    if isinstance(out, Routed):
        assert CODEC.decode(out.value, NikContext.CANONICAL).regency_code == "3374"


@FUZZ
@given(st.none() | st.binary(max_size=64), st.none() | st.binary(max_size=512), headers_st)
def test_random_bytes_get_an_outcome_never_an_exception(key, value, headers) -> None:  # type: ignore[no-untyped-def]
    out = decide(key, value, headers)
    check_outcome(out, key, value, headers)
    assert isinstance(out, Rejected) or value is not None


@FUZZ
@given(st.sampled_from(event_types()), st.integers(0, 10_000), st.binary(min_size=1, max_size=16),
       st.sampled_from(["flip", "truncate", "extend", "splice"]))
def test_mutated_encodings_get_an_outcome_never_an_exception(event_type, at, data, op) -> None:  # type: ignore[no-untyped-def]
    good = bytearray(VALID[event_type])
    i = 5 + at % (len(good) - 5)
    if op == "flip":
        good[i] ^= data[0] or 0xFF
    elif op == "truncate":
        del good[i:]
    elif op == "extend":
        good += data
    else:
        good[i:i + len(data)] = data
    value = bytes(good)
    check_outcome(decide(b"k", value, []), b"k", value, [])


@FUZZ
@given(headers_st)
@example([])
def test_every_dlq_record_can_be_produced(headers) -> None:  # type: ignore[no-untyped-def]
    """Some Kafka clients refuse a record with neither key nor value: the envelope is always a value, and a
    tombstone input (no value) opens back as one."""
    out = decide(None, None, headers)
    assert isinstance(out, Rejected)
    assert out.value
    assert SEAL.open(out.value, source_of("p.ingress.3374", 1, 7)) == Original(None, None, tuple(headers))


@FUZZ
@given(headers_st, st.integers(0, 10**6))
@example([(Header.SOURCE, b"p.ingress.3301:0:5")], 7)
def test_recovery_marks_exactly_the_dead_lettered_input_done(headers, offset) -> None:  # type: ignore[no-untyped-def]
    """Forged `simpul.source`/`simpul.event_id` headers on the input must not make recovery skip another record."""
    out = decide(b"k", b"not avro", headers, offset=offset)
    assert isinstance(out, Rejected)
    recovered = Recovered()
    recovered.absorb(out.headers)
    assert recovered.done_sources == {source_of("p.ingress.3374", 1, offset)}
    assert recovered.event_sources == {}


NIK_EVENTS = {t: nik_fields(t)[0] for t in event_types() if nik_fields(t)}


@FUZZ
@given(st.from_regex(r"[0-9]{16}", fullmatch=True), st.sampled_from(sorted(NIK_EVENTS)),
       st.sampled_from(["as_token", "in_key_and_header", "regency_mismatch", "in_regency_code", "valid"]))
def test_a_nik_sent_anywhere_leaves_only_as_a_token_or_sealed(nik, event_type, where) -> None:  # type: ignore[no-untyped-def]
    """Whatever a sender does with a NIK (a token-shaped value, the key, a header, a field where it does not
    belong, a record rejected for another reason), no byte the gatekeeper writes in the clear holds it."""
    field = NIK_EVENTS[event_type]
    datum = {**example_event(event_type, regency_code="3374").to_avro(), field: nik}
    key, headers = b"3374:case", [("x-trace", b"t")]
    if where == "as_token":
        datum[field] = f"nik:{nik}"
    elif where == "in_key_and_header":
        key, headers = nik.encode(), [("x-citizen", nik.encode()), (f"x-{nik}", b"")]
    elif where == "regency_mismatch":
        datum["regency_code"] = "3301"
    elif where == "in_regency_code":
        datum["regency_code"] = nik
    out = decide(key, CODEC.encode_datum(event_type, datum), headers)
    clear = [out.key or b"", *(k.encode() for k, _ in out.headers), *(v for _, v in out.headers)]  # type: ignore[union-attr]
    assert not any(nik.encode() in blob for blob in clear), where
    assert nik.encode() not in out.value  # type: ignore[union-attr]
    if where == "as_token":
        assert isinstance(out, Rejected) and out.reason.value == "invalid_event"
        assert field in out.message and nik not in out.message
    elif where in ("in_key_and_header", "valid"):
        assert isinstance(out, Routed)
