"""The DLQ view: sealed records opened with the installation's keys, decoded, and shown with every NIK masked."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from memory_registry import MemoryRegistry

from monitor.dlq import DlqRecord, describe, masked_payload, restore_masked
from schemas.codec import AvroCodec
from schemas.dlq_seal import DlqSeal
from schemas.examples import example
from schemas.outcomes import Header, RejectReason
from streams.gatekeeper.logic import Routing, reject

NIK = "3374014107770031"
SEAL = DlqSeal("view-dlq-key-0123456789abcdefghijklmnopqrstu")
ROUTING = Routing(ingress={"p.ingress.3374": "3374"}, canonical={}, dlq="p.dlq")


@dataclass
class Message:
    """What describe reads of a confluent_kafka.Message."""

    _value: bytes | None
    _headers: list[tuple[str, bytes]]
    _key: bytes | None = None
    _partition: int = 0
    _offset: int = 3
    _timestamp: tuple[int, int] = field(default=(1, 1_741_000_000_000))

    def value(self) -> bytes | None:
        return self._value

    def key(self) -> bytes | None:
        return self._key

    def headers(self) -> list[tuple[str, bytes]]:
        return self._headers

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def timestamp(self) -> tuple[int, int]:
        return self._timestamp


@pytest.fixture(scope="module")
def codec() -> AvroCodec:
    c = AvroCodec(MemoryRegistry())  # type: ignore[arg-type]
    c.register_all()
    return c


def _rejected(codec: AvroCodec, key: bytes | None, **changes: object) -> tuple[Message, bytes]:
    value = codec.encode_datum("ServiceRequestSubmitted", {
        **example("ServiceRequestSubmitted").to_avro(), "applicant_nik": NIK, **changes})
    out = reject(ROUTING, RejectReason.INVALID_EVENT, "fee_charged_idr: must be >= 0", "p.ingress.3374", 1, 7, key,
                 value, [("x-citizen", NIK.encode())], datetime(2025, 3, 3, tzinfo=UTC), SEAL)
    return Message(out.value, out.headers, out.key), value


def test_a_sealed_record_is_shown_decoded_with_nik_fields_masked(codec: AvroCodec) -> None:
    msg, value = _rejected(codec, NIK.encode(), fee_charged_idr=-5)
    record = describe(msg, codec, SEAL)
    assert record.sealed and record.problem is None
    assert record.reason == "invalid_event" and record.source_topic == "p.ingress.3374"
    assert (record.source_partition, record.source_offset, record.size) == (1, 7, len(value))
    assert record.event_type == "ServiceRequestSubmitted" and record.payload is not None
    assert record.payload["applicant_nik"] == "3374************" and record.payload["fee_charged_idr"] == -5
    assert record.key == "3374************"  # a 16-digit key is shown masked too
    assert NIK not in record.model_dump_json()


def test_a_record_that_does_not_open_is_shown_without_its_original(codec: AvroCodec) -> None:
    msg, _ = _rejected(codec, b"3374:SR-1")
    record = describe(msg, codec, DlqSeal("another-dlq-key-0123456789abcdefghijklmno"))
    assert record.sealed and record.payload is None and record.key is None
    assert record.problem is not None and "key id" in record.problem
    moved = Message(msg.value(), [(k, b"8" if k == Header.SOURCE_OFFSET else v) for k, v in msg.headers()])
    assert "does not authenticate" in (describe(moved, codec, SEAL).problem or "")


def test_a_record_from_before_sealing_is_shown_masked(codec: AvroCodec) -> None:
    value = codec.encode(example("ServiceRequestSubmitted", applicant_nik=NIK))
    legacy = Message(value, [(Header.REASON, b"invalid_event"), (Header.SOURCE_TOPIC, b"p.ingress.3374")],
                     NIK.encode())
    record = describe(legacy, codec, SEAL)
    assert not record.sealed and record.payload is not None
    assert record.payload["applicant_nik"] == "3374************" and record.key == "3374************"


def test_a_dlq_record_cannot_carry_a_raw_nik() -> None:
    record = DlqRecord(partition=0, offset=1, timestamp=None, reason=f"forged {NIK}",
                       message=f"service_code: '{NIK}' is unknown", source_topic=f"t.{NIK}", source_partition=0,
                       source_offset=1, key=NIK, event_type="SocialAidDisbursed",
                       payload={"recipient_nik": NIK, "note": f"see {NIK}", "nested": [{"n": int(NIK)}]}, size=1)
    assert NIK not in record.model_dump_json()
    assert record.payload == {"recipient_nik": "3374************", "note": "see 3374************",
                              "nested": [{"n": "3374************"}]}
    assert DlqRecord.model_validate(record.model_dump()) == record  # masking twice changes nothing


def test_masked_fields_left_as_shown_get_the_original_back(codec: AvroCodec) -> None:
    datum = {**example("ServiceRequestSubmitted").to_avro(), "applicant_nik": NIK, "fee_charged_idr": -5}
    shown = masked_payload("ServiceRequestSubmitted", json.loads(json.dumps(datum, default=str)))
    assert shown["applicant_nik"] == "3374************"
    fixed = restore_masked("ServiceRequestSubmitted", datum, {**shown, "fee_charged_idr": 0})
    assert fixed["applicant_nik"] == NIK and fixed["fee_charged_idr"] == 0
    left_out = restore_masked("ServiceRequestSubmitted", datum, {k: v for k, v in shown.items() if k != "applicant_nik"})
    assert left_out["applicant_nik"] == NIK
    typed = restore_masked("ServiceRequestSubmitted", datum, {**shown, "applicant_nik": "3374015502900002"})
    assert typed["applicant_nik"] == "3374015502900002"  # an operator who types a NIK means it
    cleared = restore_masked("ServiceRequestSubmitted", datum, {**shown, "applicant_nik": None})
    assert cleared["applicant_nik"] is None
