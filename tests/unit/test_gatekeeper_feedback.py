"""The regency's outcome record (`streams.gatekeeper.logic.feedback`): one per ingress record, to the outcome topic of
the regency that owns the ingress topic, keyed by event id, naming the reason and the field but no value sent."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from memory_registry import MemoryRegistry

from schemas.codec import AvroCodec
from schemas.dlq_seal import DlqSeal
from schemas.examples import example
from schemas.feedback import OutcomeStatus, RegencyOutcome, parse_outcome, without_values
from schemas.outcomes import RejectReason
from streams.gatekeeper.logic import AlreadyDone, Routing, feedback, screen
from topics.catalog import topic_names

NIK = "3374015502900001"
AT = "2025-03-03T03:00:00.000+00:00"
ROUTING = Routing(
    ingress={"p.ingress.3374": "3374", "p.ingress.3301": "3301"},
    canonical={f: f"p.events.{f}" for f in ("governance", "living", "economy", "environment", "society", "branding")},
    dlq="p.dlq",
    outcomes={"p.ingress.3374": "p.outcomes.3374", "p.ingress.3301": "p.outcomes.3301"},
)


@pytest.fixture(scope="module")
def codec() -> AvroCodec:
    c = AvroCodec(MemoryRegistry())  # type: ignore[arg-type]
    c.register_all()
    return c


def told(codec: AvroCodec, value: bytes | None, *, topic: str = "p.ingress.3374", seen: dict[str, str] | None = None,
         ) -> tuple[str, bytes, RegencyOutcome, bytes]:
    outcome = screen(topic, 1, 7, b"k", value, [], codec=codec, routing=ROUTING, hmac_key=b"k",
                     seal=DlqSeal("test-dlq-key-0123456789abcdefghijklmnopqrstu"), first_seen=(seen or {}).get,
                     now=datetime(2025, 3, 3, 3, tzinfo=UTC))
    found = feedback(outcome, topic, ROUTING, AT)
    assert found is not None
    target, key, raw = found
    return target, key, parse_outcome(raw), raw


def test_routed_event_is_told_to_its_regency(codec: AvroCodec) -> None:
    event = example("ServiceRequestSubmitted")
    target, key, out, raw = told(codec, codec.encode(event))
    assert (target, key) == ("p.outcomes.3374", str(event.event_id).encode())
    assert (out.status, out.event_id, out.event_type, out.case_id) == (
        OutcomeStatus.ROUTED, str(event.event_id), "ServiceRequestSubmitted", event.case_id)
    assert (out.regency_code, out.source, out.reason, out.problems) == ("3374", "p.ingress.3374:1:7", None, [])
    assert out.at == datetime(2025, 3, 3, 3, tzinfo=UTC)
    assert event.applicant_nik and event.applicant_nik.encode() not in raw  # the NIK is not in it, not even tokenised
    assert b"nik:" not in raw


def test_a_duplicate_is_told_without_where_the_first_copy_is(codec: AvroCodec) -> None:
    event = example("ServiceRequestSubmitted")
    target, key, out, raw = told(codec, codec.encode(event), seen={str(event.event_id): "p.ingress.3301:0:1"})
    assert (target, key, out.status, out.event_id) == (
        "p.outcomes.3374", str(event.event_id).encode(), OutcomeStatus.DUPLICATE, str(event.event_id))
    assert b"3301" not in raw  # the first copy came from another regency: nothing of it is told


def test_an_invalid_event_names_each_field_and_reason_without_the_values(codec: AvroCodec) -> None:
    event = example("ServiceRequestSubmitted")
    datum = {**event.to_avro(), "service_code": NIK, "office_code": "kantor-" + NIK, "fee_charged_idr": -5}
    target, key, out, raw = told(codec, codec.encode_datum("ServiceRequestSubmitted", datum))
    assert (target, key) == ("p.outcomes.3374", str(event.event_id).encode())
    assert (out.status, out.reason, out.event_id, out.case_id) == (
        OutcomeStatus.REJECTED, RejectReason.INVALID_EVENT, str(event.event_id), event.case_id)
    fields = [p.field for p in out.problems]
    assert "service_code" in fields and out.field == fields[0]
    assert "fee_charged_idr" in fields
    service = next(p for p in out.problems if p.field == "service_code")
    assert "is not a service code" in service.reason and "the value" in service.reason
    assert NIK.encode() not in raw and not re.search(rb"[0-9]{16}", raw)
    fee = next(p for p in out.problems if p.field == "fee_charged_idr")
    assert "-5" not in fee.reason and "greater than or equal to 0" in fee.reason
    assert out.message == "; ".join(f"{p.field}: {p.reason}" for p in out.problems)


def test_regency_mismatch_goes_to_the_owner_of_the_ingress_topic(codec: AvroCodec) -> None:
    event = example("ServiceRequestSubmitted")  # a 3374 event, written to 3301's ingress topic
    target, _key, out, _raw = told(codec, codec.encode(event), topic="p.ingress.3301")
    assert (target, out.regency_code, out.reason, out.field) == (
        "p.outcomes.3301", "3301", RejectReason.REGENCY_MISMATCH, "regency_code")


@pytest.mark.parametrize("value", [b"garbage", None])
def test_an_unreadable_record_is_keyed_by_its_source(codec: AvroCodec, value: bytes | None) -> None:
    target, key, out, _raw = told(codec, value)
    assert (target, key, out.event_id, out.reason, out.field) == (
        "p.outcomes.3374", b"p.ingress.3374:1:7", None, RejectReason.UNDECODABLE, "<record>")


def test_nothing_is_told_for_a_record_done_before_or_a_topic_of_no_regency(codec: AvroCodec) -> None:
    assert feedback(AlreadyDone("p.ingress.3374:1:7"), "p.ingress.3374", ROUTING, AT) is None
    outcome = screen("p.other", 0, 1, None, b"x", [], codec=codec, routing=ROUTING, hmac_key=b"k",
                     seal=DlqSeal("test-dlq-key-0123456789abcdefghijklmnopqrstu"), first_seen={}.get)
    assert feedback(outcome, "p.other", ROUTING, AT) is None


def test_routing_from_the_catalog_maps_each_ingress_topic_to_its_own_outcomes() -> None:
    routing = Routing.from_topic_set(topic_names("jateng"))
    assert len(routing.outcomes) == 35
    assert all(o == i.replace(".ingress.", ".outcomes.") for i, o in routing.outcomes.items())


def test_without_values_takes_out_quoted_and_own_values() -> None:
    record = {"service_code": "XYZ", "unit": "ons", "nested": {"name": "Budi"}}
    assert without_values("'XYZ' is not a service code", record, "service_code") == "the value is not a service code"
    assert without_values("beras is priced per kg, not per ons", record, "unit") == (
        "beras is priced per kg, not per the value")
    assert without_values('name "Budi" refused', record) == "name the value refused"
    assert without_values(f"holds {NIK}", None) == "holds 3374************"


@pytest.mark.parametrize("case_id", ["SR-3374-2025-000123", 'a "quoted" \\ case\n', "kasus-é-✓", f"NIK-{NIK}", ""])
def test_the_template_of_an_accepted_event_is_the_json_of_its_outcome(case_id: str) -> None:
    from schemas.feedback import accepted_value, outcome_value

    args = ("3374", "0b6f9a3e-2f55-4a39-9a0b-5d1c5f3a0001", "ServiceRequestSubmitted")
    fast = parse_outcome(accepted_value(*args, case_id, "routed", "p.ingress.3374:0:9", AT))
    slow = parse_outcome(outcome_value(*args, (case_id or None) if NIK not in case_id else f"NIK-{NIK[:4]}{'*' * 12}",
                                       OutcomeStatus.ROUTED, "p.ingress.3374:0:9", AT))
    assert fast == slow
    assert NIK not in fast.model_dump_json()
