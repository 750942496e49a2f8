"""Fuzz inputs: hypothesis strategies for ingress records, and the oracle of their fate.

Used by the suite's ingress fuzz (a bounded number of examples) and `python -m bench.fuzz` (many more). Hypothesis
serves as a seeded generator (`collect`): the inputs of one run are written to the broker together and checked
together, since one example per gatekeeper round-trip would take hours.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import fastavro
from hypothesis import HealthCheck, Phase, given
from hypothesis import seed as hseed
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from schemas.catalog import default_catalog, event_types, nik_fields
from schemas.codec import AvroCodec, frame
from schemas.examples import example
from schemas.exceptions import EventValidationError
from schemas.outcomes import Header
from schemas.reference import regency_codes


REGENCIES = sorted(regency_codes())
HEADER_NAMES = [v for k, v in vars(Header).items() if k.isupper()] + ["x-trace", ""]


@dataclass
class Input:
    """One record to write onto an ingress topic, and (if known) the fate it must get."""

    kind: str
    regency: str  # of the ingress topic
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    expect: str | None = None  # `event:<family>`, `dlq:<reason>`, `dlq` (any reason) or None (either)


def collect(strategy: st.SearchStrategy[Any], n: int, seed: int = 0) -> list[Any]:
    """`n` deterministic examples of `strategy` (no shrinking: they are checked together afterwards)."""
    out: list[Any] = []

    @hseed(seed)
    @hsettings(max_examples=n, database=None, deadline=None, phases=[Phase.generate],
               suppress_health_check=list(HealthCheck))
    @given(strategy)
    def gather(value: Any) -> None:
        out.append(value)

    gather()
    return out


# ---- (a) random bytes ------------------------------------------------------------------------------------------

_headers = st.lists(st.tuples(st.sampled_from(HEADER_NAMES), st.binary(max_size=40)), max_size=3)

random_bytes = st.builds(
    lambda regency, key, value, hdrs: Input("bytes", regency, key, value, hdrs, expect="dlq"),
    st.sampled_from(REGENCIES), st.none() | st.binary(max_size=64),
    st.none() | st.binary(max_size=2048) | st.binary(min_size=5, max_size=64).map(lambda b: b"\x00" + b[1:]),
    _headers,
)
"""Arbitrary key/value/header bytes (a fifth of the values start with the magic byte 0; headers include forged
`simpul.*` ones, which the gatekeeper must keep renamed and never trust)."""


# ---- (b) framed Avro, valid encodings mutated --------------------------------------------------------------------

@dataclass
class Mutation:
    event_type: str
    op: str
    at: float
    data: bytes
    count: int
    schema_id_of: str | None


mutations = st.builds(
    Mutation, st.sampled_from(event_types()),
    st.sampled_from(["flip", "flip", "truncate", "extend", "splice", "schema_id", "header"]),
    st.floats(0, 1, exclude_max=True), st.binary(min_size=1, max_size=32), st.integers(1, 4),
    st.none() | st.sampled_from(event_types()),
)


def framed_mutation(m: Mutation, codec: AvroCodec, index: int, run: str) -> Input:
    ev = example(m.event_type, event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"fuzz:{run}:b:{index}"))
    good = codec.encode(ev)
    body = bytearray(good)
    pos = 5 + int(m.at * (len(good) - 5))
    if m.op == "flip":
        for i in range(m.count):
            j = 5 + (pos - 5 + i * 7) % (len(good) - 5)
            body[j] ^= m.data[i % len(m.data)] or 0xFF
    elif m.op == "truncate":
        del body[pos:]
    elif m.op == "extend":
        body += m.data
    elif m.op == "splice":
        body[pos:pos + len(m.data)] = m.data
    elif m.op == "schema_id":
        other = codec.schema_id(m.schema_id_of) if m.schema_id_of else int.from_bytes(m.data[:4].ljust(4, b"\0"))
        body[1:5] = other.to_bytes(4, "big")
    elif m.op == "header":
        body[0] = m.data[0] or 1
    return Input("framed", ev.regency_code, ev.ordering_key.encode(), bytes(body), [],
                 expect="dlq" if m.op in ("truncate", "header") else None)


# ---- (c) valid events with fields mutated by their Avro type ------------------------------------------------------

_ints = {"int": st.integers(-2**31, 2**31 - 1), "long": st.integers(-2**63, 2**63 - 1)}
_codes = st.sampled_from(["", " ", "KTP_EL", "XXX", "3374", "9999", "0000", "PUNGLI", "CABAI_RAWIT",
                          "AQMS-SMG-01", "ISSUED", "nik:abc", "🙂", "a" * 300])


def _value_for(avro_type: Any, name: str) -> st.SearchStrategy[Any]:
    if isinstance(avro_type, list):
        return st.one_of(*[_value_for(t, name) for t in avro_type])
    if isinstance(avro_type, dict):
        t = avro_type.get("type")
        if t == "enum":
            return st.sampled_from(avro_type["symbols"])
        if t in ("int", "long"):
            return _ints[t] | st.integers(-5, 5)
        if t == "string":
            return st.text(max_size=40) | _codes
        if t in ("array", "map", "record", "fixed"):
            return st.nothing()
        return _value_for(t, name)
    if avro_type == "null":
        return st.none()
    if avro_type == "boolean":
        return st.booleans()
    if avro_type in _ints:
        return _ints[avro_type] | st.integers(-5, 5) | st.integers(0, 10**9)
    if avro_type in ("float", "double"):
        return st.floats(allow_nan=True, allow_infinity=True, width=32 if avro_type == "float" else 64)
    if avro_type == "string":
        if name == "regency_code":
            return st.sampled_from(REGENCIES) | _codes
        if "nik" in name:
            return st.from_regex(r"\A[0-9]{14,18}\Z") | st.text(max_size=20) | st.just("3374015502900001")
        return st.text(max_size=40) | _codes
    return st.nothing()


@st.composite
def mutated_events(draw: Callable[..., Any]) -> tuple[str, dict[str, Any], str]:
    """(event type, Avro datum with 0-3 fields replaced, ingress regency)."""
    event_type = draw(st.sampled_from(event_types()))
    schema = default_catalog().get(event_type).parsed
    datum = example(event_type).to_avro()
    fields = [f for f in schema["fields"] if f["name"] != "event_id"]
    for f in draw(st.lists(st.sampled_from(fields), max_size=3, unique_by=lambda f: f["name"])):
        datum[f["name"]] = draw(_value_for(f["type"], f["name"]))
    ingress = draw(st.sampled_from([datum.get("regency_code")] * 3 + REGENCIES[:2]))
    if ingress not in REGENCIES:
        ingress = REGENCIES[0]
    return event_type, datum, ingress


def mutated_event_input(item: tuple[str, dict[str, Any], str], codec: AvroCodec, index: int, run: str) -> Input | None:
    """Encode with fastavro directly (the codec only encodes valid events); None if Avro cannot carry the value."""
    event_type, datum, ingress = item
    datum = {**datum, "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"fuzz:{run}:c:{index}"))}
    schema = codec.catalog.get(event_type).parsed
    out = io.BytesIO()
    try:
        fastavro.schemaless_writer(out, schema, datum)
    except (ValueError, TypeError, OverflowError, AttributeError):
        return None
    value = frame(codec.schema_id(event_type), out.getvalue())
    key = f"{datum.get('regency_code')}:{datum.get('case_id')}".encode()
    return Input("mutated", ingress, key, value, [], expect=oracle(event_type, out.getvalue(), ingress, codec))


def oracle(event_type: str, body: bytes, ingress: str, codec: AvroCodec) -> str:
    """The fate the pipeline spec gives a body of our own schema written to `ingress`'s topic."""
    schema = codec.catalog.get(event_type)
    try:
        record = fastavro.schemaless_reader(io.BytesIO(body), schema.parsed, schema.parsed)
    except Exception:  # noqa: BLE001
        return "dlq:undecodable"
    try:
        event = codec.models[event_type].from_avro(record)
    except EventValidationError:
        return "dlq:invalid_event"
    if event.regency_code != ingress:
        return "dlq:regency_mismatch"
    assert all(getattr(event, f) is None or isinstance(getattr(event, f), str) for f in nik_fields(event_type))
    return f"event:{type(event).family}"
