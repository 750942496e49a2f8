"""The gatekeeper on SPMB records (in-memory registry, no broker): valid ones reach events.society with the
applicant's NIK tokenised; records breaking an SPMB content rule go to the DLQ as invalid_event, the problem
naming the field and never repeating the NIK."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from memory_registry import MemoryRegistry

from schemas.codec import AvroCodec
from schemas.dlq_seal import DlqSeal
from schemas.examples import example
from schemas.nik import NikContext, tokenise_nik
from schemas.outcomes import RejectReason
from streams.gatekeeper.logic import Rejected, Routed, Routing, screen

KEY = b"test-hmac-key"
SEAL = DlqSeal("test-dlq-key-0123456789abcdefghijklmnopqrstu")
NOW = datetime(2025, 7, 1, tzinfo=UTC)
ROUTING = Routing(
    ingress={"p.ingress.3374": "3374"},
    canonical={f: f"p.events.{f}" for f in ("governance", "living", "economy", "environment", "society", "branding")},
    dlq="p.dlq",
)
NIK = "3374015502900005"


@pytest.fixture
def codec() -> AvroCodec:
    c = AvroCodec(MemoryRegistry())  # type: ignore[arg-type]
    c.register_all()
    return c


def run(codec: AvroCodec, value: bytes) -> Routed | Rejected:
    out = screen("p.ingress.3374", 0, 3, b"3374:SPMB", value, [], codec=codec, routing=ROUTING, hmac_key=KEY,
                 seal=SEAL, first_seen={}.get, already_done=set().__contains__, now=NOW)
    assert isinstance(out, Routed | Rejected)
    return out


@pytest.mark.parametrize("event_type", ["SchoolAdmissionApplied", "SchoolAdmissionDecided", "SchoolQuotaPublished"])
def test_valid_spmb_events_reach_society_tokenised(codec: AvroCodec, event_type: str) -> None:
    event = example(event_type)
    out = run(codec, codec.encode(event))
    assert isinstance(out, Routed) and out.topic == "p.events.society"
    routed = codec.decode(out.value, NikContext.CANONICAL)
    if event_type != "SchoolQuotaPublished":
        assert routed.applicant_nik == tokenise_nik(KEY, NIK) and NIK.encode() not in out.value  # type: ignore[attr-defined]


@pytest.mark.parametrize(("event_type", "changes", "field", "says"), [
    ("SchoolAdmissionApplied", {"school_level": "SD", "route": "PRESTASI"}, "route", "is not an SPMB route of SD"),
    ("SchoolAdmissionDecided", {"school_level": "SD", "route": "PRESTASI"}, "route", "is not an SPMB route of SD"),
    ("SchoolAdmissionDecided", {"decided_at": datetime(2025, 2, 1, tzinfo=UTC)}, "decided_at", "before applied_at"),
    ("SchoolQuotaPublished", {"seats_afirmasi": -3}, "seats_afirmasi", "greater than or equal to 0"),
    ("SchoolQuotaPublished", {"seats_domisili": 10}, "seats_domisili", "at least 30%"),
    ("SchoolQuotaPublished", {"school_level": "SD", "seats_prestasi": 5, "seats_domisili": 300}, "seats_prestasi",
     "must be 0"),
    ("SchoolAdmissionApplied", {"school_id": "2032895"}, "school_id", "match pattern"),
])
def test_spmb_content_rules_reject_naming_the_field(codec: AvroCodec, event_type: str, changes: dict[str, object],
                                                    field: str, says: str) -> None:
    value = codec.encode_datum(event_type, {**example(event_type).to_avro(), **changes})
    out = run(codec, value)
    assert isinstance(out, Rejected) and out.reason is RejectReason.INVALID_EVENT
    problems = dict(out.problems)
    assert field in problems and says in problems[field], out.problems
    assert NIK not in out.message and all(NIK not in p for _, p in out.problems)


def test_a_decision_recorded_before_it_was_made_is_refused(codec: AvroCodec) -> None:
    decided = example("SchoolAdmissionDecided")
    later = decided.occurred_at + timedelta(days=1)  # type: ignore[attr-defined]
    out = run(codec, codec.encode_datum("SchoolAdmissionDecided", {**decided.to_avro(), "decided_at": later}))
    assert isinstance(out, Rejected) and "after occurred_at" in dict(out.problems)["decided_at"]
