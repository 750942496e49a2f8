"""Confluent wire format and the codec, against an in-memory stand-in for the registry client."""

from __future__ import annotations

import io
import json
import struct

import fastavro
import pytest
from confluent_kafka.schema_registry import Schema
from memory_registry import MemoryRegistry

from schemas.catalog import event_types, schema_of
from schemas.codec import AvroCodec, frame, unframe
from schemas.examples import example
from schemas.exceptions import SchemaNotRegistered, UnknownEventType, WireFormatError


def test_frame_and_unframe() -> None:
    data = frame(258, b"body")
    assert data[:5] == b"\x00\x00\x00\x01\x02"
    assert unframe(data) == (258, b"body")


@pytest.mark.parametrize("data,match", [(b"\x00\x00", "shorter"), (b"\x01\x00\x00\x00\x01xx", "magic byte")])
def test_unframe_refuses_garbage(data: bytes, match: str) -> None:
    with pytest.raises(WireFormatError, match=match):
        unframe(data)


def test_encode_needs_a_registered_schema_when_auto_register_is_off() -> None:
    codec = AvroCodec(MemoryRegistry())  # type: ignore[arg-type]
    with pytest.raises(SchemaNotRegistered, match="simpul schemas register"):
        codec.encode(example("AirQualityReading"))


def test_register_all_sets_the_rule_per_subject() -> None:
    reg = MemoryRegistry()
    regs = AvroCodec(reg).register_all()  # type: ignore[arg-type]
    assert {r.subject for r in regs} == {schema_of(t).subject for t in event_types()}
    assert set(reg.rules.values()) == {"FULL_TRANSITIVE"}


def test_several_event_types_round_trip_and_writer_schemas_are_cached() -> None:
    reg = MemoryRegistry()
    producer = AvroCodec(reg)  # type: ignore[arg-type]
    producer.register_all()
    consumer = AvroCodec(reg)  # type: ignore[arg-type]
    for t in event_types():
        for _ in range(3):
            event = example(t)
            data = producer.encode(event)
            assert data[0] == 0
            assert struct.unpack(">I", data[1:5])[0] == reg.subjects[schema_of(t).subject]
            assert consumer.decode(data) == event
    assert reg.fetches == len(event_types())


def test_body_is_plain_avro_after_the_header() -> None:
    reg = MemoryRegistry()
    codec = AvroCodec(reg, auto_register=True)  # type: ignore[arg-type]
    event = example("SocialAidDisbursed")
    data = codec.encode(event)
    schema = fastavro.parse_schema(json.loads(reg.by_id[unframe(data)[0]]), named_schemas={})
    record = fastavro.schemaless_reader(io.BytesIO(data[5:]), schema, schema)
    assert record["recipient_nik"] == event.recipient_nik


def test_decoding_an_unknown_record_or_id() -> None:
    reg = MemoryRegistry()
    codec = AvroCodec(reg)  # type: ignore[arg-type]
    foreign = '{"type":"record","name":"Other","namespace":"org.example","fields":[{"name":"a","type":"int"}]}'
    sid = reg.register_schema("org.example.Other", Schema(foreign, "AVRO"))
    with pytest.raises(UnknownEventType):
        codec.decode(frame(sid, b"\x02"))
    with pytest.raises(WireFormatError, match="unknown to the registry"):
        codec.decode(frame(999, b"\x02"))


def test_truncated_body_is_a_wire_format_error() -> None:
    reg = MemoryRegistry()
    codec = AvroCodec(reg, auto_register=True)  # type: ignore[arg-type]
    data = codec.encode(example("ComplaintFiled"))
    with pytest.raises(WireFormatError, match="cannot read a ComplaintFiled"):
        codec.decode(data[:20])
