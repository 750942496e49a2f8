"""The simulator's roads and public works, read from the planned events: clean traffic keeps every provincial
report's first handling within 24 h and every payment within its verified progress; each planted anomaly is one
case the manifest names, and raises exactly that (the rule's reading in test_simulator_guarantees.evaluate)."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

import pytest

from producers.simulator import FaultMix, plan
from producers.simulator.traffic import Expect, Plan
from schemas.models import Event
from schemas.outcomes import AlertRule, RejectReason
from schemas.reference import roads

KEY = "simulator-test-nik-key"


def valid(p: Plan, *types: str) -> list[Event]:
    return [r.event for r in p.records if r.expect is Expect.EVENT and type(r.event).event_type in types]


def cases(events: list[Event]) -> dict[tuple[str, str], list[Any]]:
    out: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for e in events:
        out[(e.regency_code, e.case_id)].append(e)
    return out


@pytest.fixture(scope="module")
def clean() -> Plan:
    return plan(3000, 11, FaultMix.clean(), nik_hmac_key=KEY)


@pytest.fixture(scope="module")
def faulty() -> Plan:
    return plan(5000, 23, nik_hmac_key=KEY)


def test_clean_reports_are_in_the_province_and_handled_in_order_within_target(clean: Plan) -> None:
    box = roads.central_java_box()
    reports = {(e.regency_code, e.case_id): e for e in valid(clean, "RoadDamageReported")}
    assert len({e.road_status for e in reports.values()}) == 4  # type: ignore[attr-defined]
    assert all(box.contains(e.latitude, e.longitude) for e in reports.values())  # type: ignore[attr-defined]
    by_case = cases(valid(clean, "RoadDamageHandled"))
    assert by_case and set(by_case) <= set(reports)
    for case, steps in by_case.items():
        report = reports[case]
        assert [s.occurred_at for s in steps] == sorted(s.occurred_at for s in steps)
        first = steps[0]
        assert all(s.reported_at == report.occurred_at and s.road_status == report.road_status for s in steps)  # type: ignore[attr-defined]
        target = roads.handling_target_hours(report.road_status)  # type: ignore[attr-defined]
        if target is None:
            assert first.action == "FORWARDED"
            assert first.forwarded_to == roads.authority_for(report.road_status).authority  # type: ignore[attr-defined]
        else:
            assert first.action in roads.handling_actions()
            assert first.occurred_at - report.occurred_at <= timedelta(hours=target)


def test_clean_contracts_rise_and_are_never_paid_ahead(clean: Plan) -> None:
    contracts = cases(valid(clean, "PublicWorksProgress"))
    assert contracts and any(len(v) > 1 for v in contracts.values())
    for reports in contracts.values():
        progress = [r.physical_progress_pct for r in reports]
        assert progress == sorted(progress)
        assert all(r.payment_pct <= r.physical_progress_pct for r in reports)
        assert len({(r.contract_value_idr, r.work_name) for r in reports}) == 1


def test_clean_run_plants_nothing(clean: Plan) -> None:
    m = clean.manifest
    assert m.alerts[AlertRule.ROAD_HANDLING_OVERDUE] == m.alerts[AlertRule.PAYMENT_AHEAD_OF_PROGRESS] == 0
    assert m.injected["road_overdue"] == m.injected["payment_ahead"] == 0


def test_each_planted_case_is_named_by_the_manifest_on_its_alerting_record(faulty: Plan) -> None:
    m = faulty.manifest
    assert m.injected["road_overdue"] == m.alerts[AlertRule.ROAD_HANDLING_OVERDUE] == 10
    assert m.injected["payment_ahead"] == m.alerts[AlertRule.PAYMENT_AHEAD_OF_PROGRESS] == 10
    marked = [r for r in faulty.records if r.alert in (AlertRule.ROAD_HANDLING_OVERDUE, AlertRule.PAYMENT_AHEAD_OF_PROGRESS)]
    assert sorted(list(r.alert_subject or ()) for r in marked if r.alert is AlertRule.ROAD_HANDLING_OVERDUE) == \
        m.expected_alert_subjects[AlertRule.ROAD_HANDLING_OVERDUE]
    for r in marked:
        e: Any = r.event
        assert tuple(r.alert_subject or ()) == (e.regency_code, e.case_id) and r.expect is Expect.EVENT
        if r.alert is AlertRule.ROAD_HANDLING_OVERDUE:
            assert e.road_status == "PROVINCIAL" and e.action == "CREW_ON_SITE"
            assert timedelta(hours=24) < e.occurred_at - e.reported_at < timedelta(hours=72)
        else:
            assert 5 <= e.payment_pct - e.physical_progress_pct <= 25


def test_invalid_infrastructure_records_go_to_the_dlq_as_invalid_events() -> None:
    p = plan(6000, 5, FaultMix.clean().model_copy(update={"invalid": 3.0}), nik_hmac_key=KEY)
    bad = [r for r in p.records if r.fault == "invalid" and r.raw is None
           and r.event_type in ("RoadDamageReported", "PublicWorksProgress")]
    assert {r.event_type for r in bad} == {"RoadDamageReported", "PublicWorksProgress"}
    for r in bad:
        assert r.expect is Expect.DLQ and r.dlq_reason is RejectReason.INVALID_EVENT
        assert set(r.override or {}) in ({"latitude", "longitude"}, {"payment_pct"})
