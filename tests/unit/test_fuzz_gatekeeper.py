"""Property-based fuzzing of the gatekeeper's pure decision (`screen`) and its crash recovery (`Recovered`), with an
in-memory registry (no broker): whatever bytes and headers arrive, `screen` answers an outcome instead of raising,
a DLQ record carries the original key, value and headers plus where the input came from, and reading that DLQ
record back at start-up marks exactly that input as done.
"""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from memory_registry import MemoryRegistry

from schemas.catalog import event_types
from schemas.codec import AvroCodec
from schemas.examples import example as example_event
from schemas.outcomes import Header
from streams.gatekeeper.logic import (
    NULL_VALUE_HEADER,
    UNTRUSTED_PREFIX,
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
FUZZ = settings(max_examples=300, derandomize=True, database=None, deadline=None,
                suppress_health_check=list(HealthCheck))


CODEC = AvroCodec(MemoryRegistry())  # type: ignore[arg-type]
CODEC.register_all()
VALID = {t: CODEC.encode(example_event(t, regency_code="3374") if t != "TourismVisitCount" else example_event(t))
         for t in event_types()}

headers_st = st.lists(st.tuples(st.sampled_from(HEADER_NAMES), st.binary(max_size=30)), max_size=4)


def decide(key: bytes | None, value: bytes | None, headers, offset: int = 7):  # type: ignore[no-untyped-def]
    return screen("p.ingress.3374", 1, offset, key, value, headers, codec=CODEC, routing=ROUTING, hmac_key=b"k",
                  first_seen=lambda _id: None, now=NOW)


def check_outcome(out, key, value, headers) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(out, (Routed, Rejected, Duplicate, AlreadyDone))
    if isinstance(out, Rejected):
        assert (out.key, out.value, out.topic) == (key, value if value is not None else b"", "p.dlq")
        h = out.headers
        # the sender's headers are kept; those in our reserved namespace renamed, so they never pass for ours
        assert h[:len(headers)] == [(UNTRUSTED_PREFIX + k if k.startswith("simpul.") else k,
                                     v if v is not None else b"") for k, v in headers]
        ours = dict(h[len(headers):])
        assert (ours.get(NULL_VALUE_HEADER) == b"null") == (value is None)
        assert ours[Header.SOURCE_TOPIC] == b"p.ingress.3374" and ours[Header.SOURCE_OFFSET] == b"7"
        assert ours[Header.REASON] and ours[Header.REASON_MESSAGE]
    if isinstance(out, Routed):
        assert CODEC.decode(out.value).regency_code == "3374"


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
    """Kafka clients refuse a record with neither key nor value (aiokafka: 'Need at least one: key or value')."""
    out = decide(None, None, headers)
    assert isinstance(out, Rejected)
    assert out.key is not None or out.value is not None


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
