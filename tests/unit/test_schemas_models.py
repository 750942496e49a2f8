"""pydantic models built from the .avsc: types, field-path errors, regency codes, the Avro translation."""

from __future__ import annotations

import io
import json
import traceback
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, get_args

import fastavro
import pytest

from schemas import reference
from schemas.catalog import event_types, schema_of
from schemas.examples import example, examples
from schemas.exceptions import EventValidationError, UnknownEventType
from schemas.models import MODELS, Event, model_for, parse_event
from schemas.nik import NikContext, is_nik_token, tokenise_nik, validation_context

ALL = event_types()


def _data(event_type: str, **changes: Any) -> dict[str, Any]:
    data = example(event_type).model_dump()
    data.update(changes)
    return data


# ---- one source of truth: the models follow the schemas -----------------------------------------------------

@pytest.mark.parametrize("event_type", ALL)
def test_model_fields_follow_the_schema(event_type: str) -> None:
    model = MODELS[event_type]
    schema = schema_of(event_type)
    assert list(model.model_fields) == [f["name"] for f in schema.fields]
    for f in schema.fields:
        info = model.model_fields[f["name"]]
        assert info.is_required() == ("default" not in f), f["name"]
        assert info.description == f["doc"]
    assert model.event_type == event_type and model.family == schema.family
    assert issubclass(model, Event)


def test_enums_are_literals_of_the_symbols() -> None:
    ann = MODELS["ComplaintFiled"].model_fields["category"].annotation
    assert set(get_args(ann)) == set(reference.complaint_categories())


@pytest.mark.parametrize("event_type", ALL)
def test_example_round_trips_through_fastavro(event_type: str) -> None:
    event = example(event_type)
    schema = schema_of(event_type)
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, schema.parsed, event.to_avro())
    buf.seek(0)
    back = MODELS[event_type].from_avro(fastavro.schemaless_reader(buf, schema.parsed, schema.parsed))
    assert back == event


@pytest.mark.parametrize("event_type", ALL)
def test_json_round_trip(event_type: str) -> None:
    event = example(event_type)
    assert model_for(event_type).model_validate_json(event.model_dump_json()) == event
    assert parse_event(event_type, json.loads(event.model_dump_json())) == event


def test_every_model_exposes_case_id_and_ordering_key() -> None:
    for event in examples().values():
        assert event.case_id
        assert event.ordering_key == f"{event.regency_code}:{event.case_id}"


# ---- regency_code: exactly the 35 ----------------------------------------------------------------------------

def test_exactly_the_35_regency_codes_are_accepted() -> None:
    candidates = {f"{p}{n:02d}" for p in ("31", "32", "33", "34", "35") for n in range(0, 100)}
    candidates |= {"", "33", "3374 ", "33.74", "03374", "333"}
    accepted = set()
    for code in candidates:
        try:
            example("AirQualityReading", regency_code=code)
            accepted.add(code)
        except EventValidationError as exc:
            assert exc.fields == ["regency_code"]
    assert accepted == reference.regency_codes()
    assert len(accepted) == 35


@pytest.mark.parametrize("code,ok", [("3374", True), ("3375", True), ("3301", True), ("3376", True),
                                     ("3171", False), ("3377", False), ("3330", False), ("3300", False)])
def test_regency_examples(code: str, ok: bool) -> None:
    if ok:
        assert example("ComplaintFiled", regency_code=code).regency_code == code
    else:
        with pytest.raises(EventValidationError, match=r"regency_code: '\d+' is not one of the 35"):
            example("ComplaintFiled", regency_code=code)


# ---- validation errors name the field ------------------------------------------------------------------------

def test_errors_name_every_bad_field() -> None:
    data = _data("ServiceRequestSubmitted", service_code="SIM_A", channel="FAX", fee_charged_idr=-5,
                 applicant_nik="12345", unexpected=1)
    del data["office_code"]
    with pytest.raises(EventValidationError) as info:
        parse_event("ServiceRequestSubmitted", data)
    err = info.value
    assert sorted(err.fields) == sorted(["service_code", "channel", "fee_charged_idr", "applicant_nik", "office_code", "unexpected"])
    text = str(err)
    assert "ServiceRequestSubmitted" in text and "office_code: required field is missing" in text
    assert "unexpected: unknown field" in text and "16-digit NIK" in text


def test_direct_construction_raises_our_error_too() -> None:
    with pytest.raises(EventValidationError) as info:
        MODELS["TourismVisitCount"](**_data("TourismVisitCount", visitors="many"))
    assert info.value.fields == ["visitors"]


def test_types_are_strict_where_it_matters() -> None:
    with pytest.raises(EventValidationError, match="documents_complete"):
        parse_event("ServiceRequestSubmitted", _data("ServiceRequestSubmitted", documents_complete="yes"))
    with pytest.raises(EventValidationError, match="wait_minutes"):
        parse_event("HealthFacilityVisit", _data("HealthFacilityVisit", wait_minutes=2**31))
    with pytest.raises(EventValidationError, match="pm25"):
        parse_event("AirQualityReading", _data("AirQualityReading", pm25=float("nan")))


def test_unknown_event_type() -> None:
    with pytest.raises(UnknownEventType):
        parse_event("Nope", {})


# ---- time, uuid, nik -----------------------------------------------------------------------------------------

def test_occurred_at_must_be_aware_and_becomes_utc_millis() -> None:
    with pytest.raises(EventValidationError, match="occurred_at"):
        example("AirQualityReading", occurred_at=datetime(2025, 1, 1, 8, 0))
    wib = timezone(timedelta(hours=7))
    e = example("AirQualityReading", occurred_at=datetime(2025, 1, 1, 8, 0, 0, 123456, tzinfo=wib))
    assert e.occurred_at == datetime(2025, 1, 1, 1, 0, 0, 123000, tzinfo=UTC)
    assert e.occurred_at.tzinfo == UTC
    in_utc = example("AirQualityReading", occurred_at=datetime(2025, 1, 1, 1, 0, 0, 123456, tzinfo=UTC))
    assert in_utc.occurred_at.microsecond == 123000  # already UTC, still cut to milliseconds
    assert example("AirQualityReading", occurred_at="2025-01-01T01:00:00Z").occurred_at.hour == 1


def test_event_id_is_a_uuid() -> None:
    e = example("AirQualityReading", event_id=str(uuid.UUID(int=7)))
    assert e.event_id == uuid.UUID(int=7)
    with pytest.raises(EventValidationError, match="event_id"):
        example("AirQualityReading", event_id="not-a-uuid")


TOKEN = tokenise_nik(b"k", "3374015502900004")
NOT_RAW = ("nik:3374015502900004", TOKEN, "nik:" + "A" * 43, "337401550290000", "33740155029000011", "abcd",
           "nik:short", " 3374015502900004", "3374015502900004\n", "")


def test_an_ingress_nik_field_takes_a_raw_nik_or_null_only() -> None:
    assert example("SocialAidDisbursed", recipient_nik="3374015502900004").recipient_nik == "3374015502900004"
    assert example("ServiceRequestSubmitted", applicant_nik=None).applicant_nik is None
    for bad in NOT_RAW:  # a token included: only the gatekeeper mints them
        with pytest.raises(EventValidationError, match="recipient_nik: must be a 16-digit NIK") as info:
            example("SocialAidDisbursed", recipient_nik=bad)
        assert info.value.fields == ["recipient_nik"]
        for context in (None, validation_context(NikContext.INGRESS)):
            with pytest.raises(EventValidationError, match="recipient_nik"):
                model_for("SocialAidDisbursed").model_validate(_data("SocialAidDisbursed", recipient_nik=bad),
                                                               context=context)


def test_a_canonical_nik_field_takes_a_gatekeeper_token_or_null_only() -> None:
    model = model_for("SocialAidDisbursed")
    assert is_nik_token(TOKEN)
    datum = {**example("SocialAidDisbursed").to_avro(), "recipient_nik": TOKEN}
    assert model.from_avro(datum, NikContext.CANONICAL).recipient_nik == TOKEN
    assert parse_event("ServiceRequestSubmitted", _data("ServiceRequestSubmitted", applicant_nik=None),
                       NikContext.CANONICAL).applicant_nik is None
    for bad in ("3374015502900004", "nik:3374015502900004", "nik:short", "nik:" + "A" * 44, "abcd"):
        with pytest.raises(EventValidationError, match="recipient_nik: must be a gatekeeper token") as info:
            model.from_avro({**datum, "recipient_nik": bad}, NikContext.CANONICAL)
        assert bad not in str(info.value)


@pytest.mark.parametrize("bad", ["nik:3374015502900004", "3374015502900004x", "33740155029000041"])
def test_a_nik_error_never_repeats_the_value(bad: str) -> None:
    """Neither our message nor anything chained to it (which a logged traceback would print) holds the value."""
    for call in (lambda: example("SocialAidDisbursed", recipient_nik=bad),
                 lambda: model_for("SocialAidDisbursed")(**_data("SocialAidDisbursed", recipient_nik=bad)),
                 lambda: model_for("SocialAidDisbursed").model_validate_json(
                     json.dumps(_data("SocialAidDisbursed", recipient_nik=bad), default=str)),
                 lambda: model_for("SocialAidDisbursed").from_avro(
                     {**example("SocialAidDisbursed").to_avro(), "recipient_nik": bad})):
        with pytest.raises(EventValidationError) as info:
            call()
        assert "recipient_nik" in str(info.value)
        assert "3374015502900004" not in str(info.value)
        assert info.value.__cause__ is None and info.value.__context__ is None
        assert "3374015502900004" not in "".join(traceback.format_exception(info.value))


def test_a_nik_in_a_field_where_none_belongs_is_masked_in_the_message() -> None:
    with pytest.raises(EventValidationError) as info:
        example("ServiceRequestSubmitted", regency_code="3374015502900004", service_code="33740155029000041")
    text = str(info.value)
    assert "regency_code" in text and "service_code" in text
    assert "3374015502900004" not in text and "3374************" in text


# ---- cross-field rules name the field ------------------------------------------------------------------------

@pytest.mark.parametrize("event_type,changes,field", [
    ("ServiceRequestCompleted", {"submitted_at": datetime(2030, 1, 1, tzinfo=UTC)}, "submitted_at"),
    ("StapleFoodPriceObserved", {"unit": "LITRE"}, "unit"),
    ("StapleFoodPriceObserved", {"commodity_code": "DURIAN"}, "commodity_code"),
    ("TourismVisitCount", {"period_end": date(2025, 1, 1)}, "period_end"),
    ("TourismVisitCount", {"foreign_visitors": 10**9}, "foreign_visitors"),
    ("ComplaintFiled", {"anonymous": True}, "reporter_nik"),
    ("ComplaintStatusChanged", {"from_status": "CLOSED", "to_status": "IN_PROGRESS"}, "to_status"),
    ("SocialAidDisbursed", {"period": "2025-13"}, "period"),
    ("DisasterReported", {"latitude": 123.0}, "latitude"),
])
def test_rule_violations_name_the_field(event_type: str, changes: dict[str, Any], field: str) -> None:
    with pytest.raises(EventValidationError) as info:
        parse_event(event_type, _data(event_type, **changes))
    assert info.value.fields == [field]


def test_models_are_frozen() -> None:
    e = example("AirQualityReading")
    with pytest.raises(Exception):
        e.pm25 = 1.0  # type: ignore[misc]


def test_model_validate_validates_once_and_constructor_still_translates_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    """`from_avro` (the gatekeeper's hot path) must not run the whole validation twice through `Event.__init__`."""
    import schemas.models as models

    event_type = "ComplaintFiled"
    model = MODELS[event_type]
    assert model.__pydantic_custom_init__ is False
    good, bad = _data(event_type), _data(event_type, regency_code="9999")
    calls: list[str] = []
    real = models.CROSS_CHECKS.get(event_type, lambda _e: [])
    monkeypatch.setitem(models.CROSS_CHECKS, event_type, lambda e: calls.append("x") or real(e))
    model.from_avro(good)
    assert calls == ["x"]
    with pytest.raises(EventValidationError, match="regency_code"):
        model(**bad)
    with pytest.raises(EventValidationError, match="regency_code"):
        model.from_avro(bad)
