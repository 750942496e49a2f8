"""Alert rules: each fires on its anomaly, not on clean data, once per subject, with a stable id."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from schemas.examples import example
from schemas.outcomes import AlertRule
from schemas.reference import add_working_days
from streams.alerts.rules import Deduplicator, RulesConfig, evaluate, load_rules, partition_key
from streams.exceptions import RulesConfigError
from schemas.nik import tokenise_event
from schemas.records import alert_id

RULES = load_rules()
T0 = datetime(2025, 3, 3, 2, 0, tzinfo=UTC)  # a Monday
NOW = datetime(2025, 3, 20, tzinfo=UTC)


def eid(*parts: object) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, "test:" + ":".join(map(str, parts)))


def fire(events, state=None, cfg: RulesConfig = RULES):  # type: ignore[no-untyped-def]
    state = {} if state is None else state
    dedup = Deduplicator({})
    out = []
    for e in events:
        out.extend(dedup.new(evaluate(e, cfg, state, NOW)))
    return out


def test_rules_file_declares_every_rule_with_the_spec_defaults() -> None:
    assert all(getattr(RULES, r.value).enabled for r in AlertRule)
    assert (RULES.complaint_spike.min_count, RULES.complaint_spike.multiple) == (10, 3.0)
    assert (RULES.air_quality.pm25, RULES.air_quality.pm10) == (55.4, 150.0)
    assert RULES.price_jump.jump_ratio == 1.2


def test_unknown_rule_in_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("rules:\n  no_such_rule: {}\n")
    with pytest.raises(RulesConfigError, match="no_such_rule"):
        load_rules(path)


def completed(case: str, hours: float, regency: str = "3374", service: str = "KTP_EL", fee: int = 0):  # type: ignore[no-untyped-def]
    return example("ServiceRequestCompleted", event_id=eid(case, hours, fee), case_id=case, regency_code=regency,
                   service_code=service, occurred_at=T0, submitted_at=T0 - timedelta(hours=hours),
                   fee_charged_idr=fee, source_system="s")


def test_sla_breach() -> None:
    assert fire([completed("A", 20)]) == []  # KTP_EL standard is 24 h
    alerts = fire([completed("B", 30), completed("B", 31)])
    assert [a.rule for a in alerts] == [AlertRule.SLA_BREACH]
    assert alerts[0].severity == "warning" and alerts[0].subject == ["3374", "B"]
    assert alerts[0].alert_id == alert_id("sla_breach", ["3374", "B"])
    assert fire([completed("C", 50)])[0].severity == "critical"


def test_sla_breach_honours_regency_override() -> None:
    # PBG: no provincial standard; 3374 overrides it to 24 h
    assert fire([completed("P1", 30, regency="3301", service="PBG")]) == []
    assert [a.rule for a in fire([completed("P2", 30, regency="3374", service="PBG")])] == [AlertRule.SLA_BREACH]


def test_fee_above_tariff_once_per_case() -> None:
    submitted = example("ServiceRequestSubmitted", event_id=eid("F", 1), case_id="F", fee_charged_idr=50_000)
    alerts = fire([submitted, completed("F", 5, fee=50_000)])
    assert [a.rule for a in alerts] == [AlertRule.FEE_ABOVE_TARIFF]
    assert fire([example("ServiceRequestSubmitted", fee_charged_idr=0), completed("G", 5)]) == []


def filed(case: str, at: datetime, category: str = "PUNGLI", regency: str = "3374"):  # type: ignore[no-untyped-def]
    return example("ComplaintFiled", event_id=eid("filed", case), case_id=case, occurred_at=at, category=category,
                   regency_code=regency)


def status(case: str, at: datetime, to: str, frm: str = "FORWARDED"):  # type: ignore[no-untyped-def]
    return example("ComplaintStatusChanged", event_id=eid("st", case, to, at), case_id=case, occurred_at=at,
                   from_status=frm, to_status=to)


def test_working_days() -> None:
    assert add_working_days(T0, 8) == T0 + timedelta(days=10)  # Monday + 8 working days = Thursday next week
    friday = datetime(2025, 3, 7, tzinfo=UTC)
    assert add_working_days(friday, 1) == datetime(2025, 3, 10, tzinfo=UTC)


def test_complaint_overdue() -> None:
    assert fire([filed("K1", T0), status("K1", T0 + timedelta(days=2), "IN_PROGRESS")]) == []
    late = fire([filed("K2", T0), status("K2", T0 + timedelta(days=11), "IN_PROGRESS"),
                 status("K2", T0 + timedelta(days=12), "RESOLVED", "IN_PROGRESS")])
    assert [a.rule for a in late] == [AlertRule.COMPLAINT_OVERDUE]
    assert late[0].subject == ["3374", "K2"]
    unanswered = fire([filed("K3", T0), status("K3", T0 + timedelta(days=1), "UNANSWERED")])
    assert [a.rule for a in unanswered] == [AlertRule.COMPLAINT_OVERDUE]
    # followed up in time, later unanswered: no alert
    assert fire([filed("K4", T0), status("K4", T0 + timedelta(days=1), "IN_PROGRESS"),
                 status("K4", T0 + timedelta(days=20), "UNANSWERED", "IN_PROGRESS")]) == []


def test_complaint_spike() -> None:
    clean = [filed(f"c{i}", T0 + timedelta(minutes=i)) for i in range(9)]
    assert fire(clean) == []
    burst = [filed(f"b{i}", T0 + timedelta(minutes=i)) for i in range(25)]
    alerts = fire(burst + burst)  # replayed events are not counted twice
    assert [a.rule for a in alerts] == [AlertRule.COMPLAINT_SPIKE]
    assert alerts[0].subject == ["3374", "PUNGLI", T0.isoformat()]
    assert alerts[0].details["count"] == 10
    # a steady baseline of 4/hour: 12 in an hour is not above 3x the mean
    steady = [filed(f"s{h}-{i}", T0 + timedelta(hours=h, minutes=i)) for h in range(24) for i in range(4)]
    hour = [filed(f"h{i}", T0 + timedelta(hours=24, minutes=i)) for i in range(12)]
    assert fire(steady + hour) == []


def air(station: str, pm25: float, pm10: float, minute: int = 0):  # type: ignore[no-untyped-def]
    return example("AirQualityReading", event_id=eid("aq", station, pm25, minute), case_id=station,
                   station_code=station, pm25=pm25, pm10=pm10, occurred_at=T0 + timedelta(minutes=minute))


def test_air_quality_once_per_station_hour() -> None:
    assert fire([air("S1", 40, 100)]) == []
    alerts = fire([air("S2", 60, 100), air("S2", 70, 100, minute=10)])
    assert [a.rule for a in alerts] == [AlertRule.AIR_QUALITY]
    assert alerts[0].severity == "warning" and alerts[0].subject == ["3374", "S2", T0.isoformat()]
    assert fire([air("S3", 20, 400)])[0].severity == "critical"


def price(series: str, value: int, n: int):  # type: ignore[no-untyped-def]
    return example("StapleFoodPriceObserved", event_id=eid("p", series, n), market_code=series, price_idr=value,
                   case_id=f"{series}:CABAI_RAWIT", occurred_at=T0 + timedelta(hours=n))


def test_price_jump() -> None:
    assert fire([price("M1", v, i) for i, v in enumerate([42000, 42500, 41800, 43000, 42200, 41900])]) == []
    series = [price("M2", v, i) for i, v in enumerate([42000, 42500, 41800])] + [price("M2", 57000, 3),
                                                                               price("M2", 58000, 4)]
    alerts = fire(series)
    assert [a.rule for a in alerts] == [AlertRule.PRICE_JUMP]
    assert alerts[0].subject == ["3374", "M2", "CABAI_RAWIT", T0.date().isoformat()]
    assert fire([price("M3", 42000, 0), price("M3", 60000, 1)]) == []  # fewer than 3 earlier observations


def aid(regency: str, nik: str, n: int):  # type: ignore[no-untyped-def]
    return tokenise_event(example("SocialAidDisbursed", event_id=eid("aid", regency, nik, n), regency_code=regency,
                                  recipient_nik=nik, case_id=f"PKH-{regency}-{n}"), b"k")


def test_aid_double_payment() -> None:
    assert fire([aid("3374", "3374015502900004", 1), aid("3374", "3374015502900004", 2)]) == []
    alerts = fire([aid("3374", "3374015502900009", 1), aid("3301", "3374015502900009", 2),
                   aid("3302", "3374015502900009", 3)])
    assert [a.rule for a in alerts] == [AlertRule.AID_DOUBLE_PAYMENT]
    assert alerts[0].regency_code == "3301"
    assert alerts[0].subject[1:] == ["PKH", "2025-03"] and alerts[0].subject[0].startswith("nik:")


def test_partition_key_groups_state_sharing_events() -> None:
    a, b = aid("3374", "3374015502900009", 1), aid("3301", "3374015502900009", 2)
    assert partition_key(a) == partition_key(b)
    assert partition_key(filed("x", T0)) == partition_key(status("y", T0, "IN_PROGRESS")) == "3374|PUNGLI"
