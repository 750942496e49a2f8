"""The spec's "Simulator guarantees", recomputed from the planned events (never from the generator's counters).

A small reference reading of every alert rule of the pipeline spec runs over the valid events in plan order:
clean traffic must raise nothing, and the default mix must raise exactly the manifest's expected subjects.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import pytest

from producers.simulator import FaultMix, plan
from producers.simulator.traffic import Expect, Plan, nik_token
from schemas.catalog import nik_fields
from schemas.models import Event
from schemas.outcomes import AlertRule
from schemas.reference import commodities, complaint_categories, standard_for
from schemas.reference.roads import handling_actions, handling_target_hours

KEY = "simulator-test-nik-key"  # an installation's NIK key; the plan names tokens with it

Subjects = dict[str, set[tuple[str, ...]]]


def valid_events(p: Plan) -> list[Event]:
    return [r.event for r in p.records if r.expect is Expect.EVENT]


def add_working_days(start: datetime, days: int) -> datetime:
    at = start
    while days:
        at += timedelta(days=1)
        if at.weekday() < 5:
            days -= 1
    return at


def hour_of(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def evaluate(events: Iterable[Event], key: str = KEY) -> Subjects:
    """The spec's alert rules, literally, over events in arrival order; returns the raised subjects per rule."""
    out: Subjects = {rule.value: set() for rule in AlertRule}
    filed: dict[tuple[str, str], datetime] = {}
    followed_in_time: set[tuple[str, str]] = set()
    hourly: Counter[tuple[str, str, datetime]] = Counter()
    series: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    payers: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    road_handled: set[tuple[str, str]] = set()
    quotas: dict[tuple[str, str, int], dict[str, Any]] = {}  # school, level, year -> its quota
    admitted: dict[tuple[str, str, int], list[Event]] = defaultdict(list)
    admitted_by: dict[tuple[str, str, int], set[str]] = defaultdict(set)  # NIK token, level, year -> schools
    for e in events:
        kind, d = type(e).event_type, e.model_dump()
        reg = e.regency_code
        if kind in ("ServiceRequestSubmitted", "ServiceRequestCompleted"):
            std = standard_for(d["service_code"], reg)
            if std.official_fee_idr is not None and d["fee_charged_idr"] > std.official_fee_idr:
                out["fee_above_tariff"].add((reg, e.case_id))
            hours = std.completion_time_hours
            if kind == "ServiceRequestCompleted" and d["outcome"] == "ISSUED" and hours is not None and \
                    (e.occurred_at - d["submitted_at"]).total_seconds() / 3600 > hours:
                out["sla_breach"].add((reg, e.case_id))
        elif kind == "ComplaintFiled":
            filed[(reg, e.case_id)] = e.occurred_at
            window = hour_of(e.occurred_at)
            hourly[(reg, d["category"], window)] += 1
            count = hourly[(reg, d["category"], window)]
            mean = sum(hourly[(reg, d["category"], window - timedelta(hours=k))] for k in range(1, 25)) / 24
            if count >= 10 and count > 3 * mean:
                out["complaint_spike"].add((reg, d["category"], window.isoformat()))
        elif kind == "ComplaintStatusChanged":
            case = (reg, e.case_id)
            deadlines = complaint_categories()[d["category"]].deadlines
            deadline = add_working_days(filed[case], deadlines.verify_and_forward_working_days
                                        + deadlines.follow_up_working_days)
            if d["to_status"] == "UNANSWERED":
                out["complaint_overdue"].add(case)
            elif d["to_status"] in ("IN_PROGRESS", "RESOLVED"):
                if e.occurred_at <= deadline:
                    followed_in_time.add(case)
                elif case not in followed_in_time:
                    out["complaint_overdue"].add(case)
        elif kind == "AirQualityReading":
            if (d["pm25"] or 0) > 55.4 or (d["pm10"] or 0) > 150.0:
                out["air_quality"].add((reg, d["station_code"], hour_of(e.occurred_at).isoformat()))
        elif kind == "StapleFoodPriceObserved":
            prev = series[(reg, d["market_code"], d["commodity_code"])]
            recent = prev[-5:]
            if len(recent) >= 3 and d["price_idr"] > sum(recent) / len(recent) * 1.20:
                out["price_jump"].add((reg, d["market_code"], d["commodity_code"], e.occurred_at.date().isoformat()))
            prev.append(d["price_idr"])
        elif kind == "SocialAidDisbursed":
            group = (nik_token(key, d["recipient_nik"]), d["programme"], d["period"])
            payers[group].add(reg)
            if len(payers[group]) == 2:
                out["aid_double_payment"].add(group)
        # -- education: whichever comes first, the quota or the admissions --
        elif kind in ("SchoolQuotaPublished", "SchoolAdmissionDecided"):
            school = (d["school_id"], d["school_level"], d["admission_year"])
            if kind == "SchoolQuotaPublished":
                quotas[school] = d
            elif d["decision"] == "ADMITTED":
                admitted[school].append(e)
                applicant = (nik_token(key, d["applicant_nik"]), d["school_level"], str(d["admission_year"]))
                admitted_by[applicant].add(d["school_id"])
                if len(admitted_by[applicant]) == 2:
                    out["admission_double"].add(applicant)
            q = quotas.get(school)
            for a in admitted[school] if q else []:
                on_route = {x.case_id for x in admitted[school] if x.route == a.route}  # type: ignore[attr-defined]
                if len(on_route) > q[f"seats_{a.route.lower()}"]:  # type: ignore[attr-defined]
                    out["admission_over_quota"].add((a.regency_code, *map(str, school), a.route))  # type: ignore[attr-defined]
                if a.decided_at > q["decision_deadline"]:  # type: ignore[attr-defined]
                    out["admission_after_deadline"].add((a.regency_code, school[0], a.case_id))
        # -- infrastructure --
        elif kind == "RoadDamageHandled":
            case = (reg, e.case_id)
            target = handling_target_hours(d["road_status"])
            if d["action"] in handling_actions() and case not in road_handled:
                road_handled.add(case)
                if target is not None and (e.occurred_at - d["reported_at"]).total_seconds() / 3600 > target:
                    out["road_handling_overdue"].add(case)
        elif kind == "PublicWorksProgress":
            if d["payment_pct"] > d["physical_progress_pct"]:
                out["payment_ahead_of_progress"].add((reg, d["contract_id"]))
    return out


def expected(p: Plan) -> Subjects:
    return {rule: {tuple(s) for s in subjects} for rule, subjects in p.manifest.expected_alert_subjects.items()}


@pytest.fixture(scope="module", params=[(3000, 1), (2000, 99)])
def clean_plan(request: Any) -> Plan:
    n, seed = request.param
    return plan(n, seed, FaultMix.clean(), nik_hmac_key=KEY)


def test_clean_traffic_raises_no_alert_and_fills_no_dlq(clean_plan: Plan) -> None:
    assert all(not v for v in evaluate(valid_events(clean_plan)).values())
    assert all(r.expect is Expect.EVENT for r in clean_plan.records)
    m = clean_plan.manifest
    assert sum(m.alerts.values()) == sum(m.dlq.values()) == m.duplicates_sent == m.late_events == 0


def test_clean_service_requests_finish_within_standard_at_tariff(clean_plan: Plan) -> None:
    for e in valid_events(clean_plan):
        kind, d = type(e).event_type, e.model_dump()
        if kind not in ("ServiceRequestSubmitted", "ServiceRequestCompleted"):
            continue
        std = standard_for(d["service_code"], e.regency_code)
        if std.official_fee_idr is not None:
            assert d["fee_charged_idr"] == std.official_fee_idr
        if kind == "ServiceRequestCompleted" and std.completion_time_hours is not None:
            assert (e.occurred_at - d["submitted_at"]) <= timedelta(hours=0.8 * std.completion_time_hours)


def test_clean_complaints_stay_under_the_spike_floor_and_follow_up_in_two_days(clean_plan: Plan) -> None:
    events = valid_events(clean_plan)
    per_hour = Counter((e.regency_code, e.category, hour_of(e.occurred_at))  # type: ignore[attr-defined]
                       for e in events if type(e).event_type == "ComplaintFiled")
    assert per_hour and max(per_hour.values()) < 10
    filed = {e.case_id: e.occurred_at for e in events if type(e).event_type == "ComplaintFiled"}
    changes = [e for e in events if type(e).event_type == "ComplaintStatusChanged"]
    assert changes
    for e in changes:
        assert e.to_status != "UNANSWERED"  # type: ignore[attr-defined]
        assert timedelta(0) < e.occurred_at - filed[e.case_id] <= timedelta(days=2)


def test_clean_air_and_prices_stay_in_bounds(clean_plan: Plan) -> None:
    events = valid_events(clean_plan)
    readings = [e for e in events if type(e).event_type == "AirQualityReading"]
    assert readings
    for e in readings:
        assert 5 <= e.pm25 <= 40 and 10 <= e.pm10 <= 100  # type: ignore[attr-defined]
    series: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for e in events:
        if type(e).event_type == "StapleFoodPriceObserved":
            series[(e.regency_code, e.market_code, e.commodity_code)].append(e.price_idr)  # type: ignore[attr-defined]
    assert series
    for (_, _, commodity), prices in series.items():
        lo, hi = commodities()[commodity].simulation_price_idr
        assert lo * 0.97 <= min(prices) and max(prices) <= hi * 1.03
        assert max(prices) / min(prices) <= 1.03 / 0.97 + 1e-9  # every price within +-3% of one base


def test_every_nik_belongs_to_its_regency(clean_plan: Plan) -> None:
    payers: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    seen = 0
    for e in valid_events(clean_plan):
        for name in nik_fields(type(e).event_type):
            nik = getattr(e, name)
            if nik is None:
                continue
            seen += 1
            assert len(nik) == 16 and nik.isdigit() and nik[:4] == e.regency_code
        if type(e).event_type == "SocialAidDisbursed":
            payers[(e.recipient_nik, e.programme, e.period)].add(e.regency_code)  # type: ignore[attr-defined]
    assert seen and payers
    assert all(len(regs) == 1 for regs in payers.values())


@pytest.mark.parametrize(("n", "seed"), [(1000, 1), (2000, 42), (5000, 7)])
def test_each_injected_anomaly_raises_exactly_its_expected_alert(n: int, seed: int) -> None:
    p = plan(n, seed, nik_hmac_key=KEY)
    raised = evaluate(valid_events(p))
    assert raised == expected(p)
    for rule in AlertRule:
        assert p.manifest.alerts[rule.value] == p.manifest.injected[_FAULT_OF[rule]] == len(raised[rule.value])


_FAULT_OF = {AlertRule.SLA_BREACH: "sla_breach", AlertRule.FEE_ABOVE_TARIFF: "fee_above_tariff",
             AlertRule.COMPLAINT_OVERDUE: "complaint_overdue", AlertRule.COMPLAINT_SPIKE: "complaint_burst",
             AlertRule.AIR_QUALITY: "air_quality", AlertRule.PRICE_JUMP: "price_jump",
             AlertRule.AID_DOUBLE_PAYMENT: "double_aid",
             # -- education --
             AlertRule.ADMISSION_OVER_QUOTA: "admission_over_quota",
             AlertRule.ADMISSION_AFTER_DEADLINE: "admission_late", AlertRule.ADMISSION_DOUBLE: "double_admission",
             # -- infrastructure --
             AlertRule.ROAD_HANDLING_OVERDUE: "road_overdue", AlertRule.PAYMENT_AHEAD_OF_PROGRESS: "payment_ahead"}


def test_anomalies_have_the_shape_the_spec_describes() -> None:
    p = plan(4000, 5, nik_hmac_key=KEY)
    events = valid_events(p)
    by_fault: dict[str, list[Any]] = defaultdict(list)
    for r in p.records:
        by_fault[r.fault or "clean"].append(r)
    # bursts: 25 complaints in one regency x category hour, nothing of that pair in the previous 24 hours
    for reg, category, start in expected(p)["complaint_spike"]:
        window = datetime.fromisoformat(start)
        same = [e for e in events if type(e).event_type == "ComplaintFiled" and e.regency_code == reg
                and e.category == category]  # type: ignore[attr-defined]
        assert sum(1 for e in same if hour_of(e.occurred_at) == window) == 25
        assert not [e for e in same if window - timedelta(hours=24) <= e.occurred_at < window]
    # price jumps: +35% of the base after >= 3 clean observations of a fresh series
    for reg, market, commodity, _ in expected(p)["price_jump"]:
        prices = [e.price_idr for e in events if type(e).event_type == "StapleFoodPriceObserved"  # type: ignore[attr-defined]
                  and (e.regency_code, e.market_code, e.commodity_code) == (reg, market, commodity)]  # type: ignore[attr-defined]
        assert len(prices) == 4 and max(prices[:3]) / min(prices[:3]) <= 1.03 / 0.97 + 1e-9
        assert prices[3] / (sum(prices[:3]) / 3) > 1.30
    # double aid: a NIK of one regency paid by two, same programme and period
    aid = [r.event for r in by_fault["double_aid"]]
    assert aid and len(aid) % 2 == 0
    by_nik: dict[str, set[str]] = defaultdict(set)
    for e in aid:
        by_nik[e.recipient_nik].add(e.regency_code)
    assert all(len(regs) == 2 and nik[:4] in regs for nik, regs in by_nik.items())
    # late events: 2 to 30 days before they are sent; spoofed: written to another regency's topic
    for r in by_fault["late"]:
        assert timedelta(days=2) <= r.send_at - r.event.occurred_at <= timedelta(days=30)
    assert by_fault["spoofing"] and all(r.ingress != r.event.regency_code for r in by_fault["spoofing"])
    # duplicates: the same event again, after the original
    order = {r.seq: i for i, r in enumerate(p.records)}
    for r in by_fault["duplicates"]:
        assert r.expect is Expect.DUPLICATE and order[r.duplicate_of] < order[r.seq]
        original = p.records[order[r.duplicate_of]]
        assert original.event is r.event and original.key == r.key


def test_multi_event_cases_keep_their_order() -> None:
    p = plan(3000, 12, nik_hmac_key=KEY)
    last: dict[bytes, datetime] = {}
    for r in p.records:
        if r.expect is not Expect.EVENT or type(r.event).event_type not in (
                "ServiceRequestSubmitted", "ServiceRequestStatusChanged", "ServiceRequestCompleted",
                "ComplaintFiled", "ComplaintStatusChanged", "StapleFoodPriceObserved"):
            continue
        assert r.event.occurred_at >= last.get(r.key, r.event.occurred_at)
        last[r.key] = r.event.occurred_at
    first = {}
    for r in p.records:
        first.setdefault((r.key, type(r.event).event_type), r)
    for (key, kind), r in first.items():
        if kind == "ServiceRequestStatusChanged":
            assert (key, "ServiceRequestSubmitted") in first


def test_a_heavy_mix_still_gives_one_alert_per_anomaly() -> None:
    """Many bursts share a regency x category (spaced > 24 h apart); many jumps, exceedances and overdue cases."""
    mix = FaultMix(complaint_burst=0.8, price_jump=0.5, air_quality=1, double_aid=0.5, complaint_overdue=1,
                   sla_breach=1, fee_above_tariff=1)
    p = plan(10_000, 3, mix, nik_hmac_key=KEY)
    pairs = Counter((s[0], s[1]) for s in p.manifest.expected_alert_subjects["complaint_spike"])
    assert max(pairs.values()) > 1
    assert evaluate(valid_events(p)) == expected(p)


def test_clean_schools_admit_within_every_route_quota_before_their_deadline(clean_plan: Plan) -> None:
    events = valid_events(clean_plan)
    quotas = {(e.school_id, e.school_level): e for e in events  # type: ignore[attr-defined]
              if type(e).event_type == "SchoolQuotaPublished"}
    decisions = [e for e in events if type(e).event_type == "SchoolAdmissionDecided"]
    applied = {e.case_id: e for e in events if type(e).event_type == "SchoolAdmissionApplied"}
    assert quotas and decisions and {d.decision for d in decisions} == {"ADMITTED", "REJECTED"}  # type: ignore[attr-defined]
    assert {q.school_level for q in quotas.values()} == {"SD", "SMP", "SMA", "SMK"}  # type: ignore[attr-defined]
    per_route: Counter[tuple[str, str, str]] = Counter()
    for d in decisions:
        q = quotas[(d.school_id, d.school_level)]  # type: ignore[attr-defined]
        a = applied[d.case_id]
        assert (a.school_id, a.route, a.applicant_nik) == (d.school_id, d.route, d.applicant_nik)  # type: ignore[attr-defined]
        assert q.occurred_at < a.occurred_at == d.applied_at < d.decided_at == d.occurred_at  # type: ignore[attr-defined]
        assert d.decided_at < q.decision_deadline  # type: ignore[attr-defined]
        per_route[(d.school_id, d.school_level, d.route)] += d.decision == "ADMITTED"  # type: ignore[attr-defined]
    for (school, level, route), n in per_route.items():
        assert n <= getattr(quotas[(school, level)], f"seats_{route.lower()}")


def test_education_anomalies_have_their_shape() -> None:
    p = plan(3000, 8, nik_hmac_key=KEY)
    expected_subjects = expected(p)
    by_fault: dict[str, list[Event]] = defaultdict(list)
    for r in p.records:
        if r.expect is Expect.EVENT and r.fault:
            by_fault[r.fault].append(r.event)
    for reg, school, level, _, route in expected_subjects["admission_over_quota"]:
        evs = [e for e in by_fault["admission_over_quota"] if getattr(e, "school_id", None) == school]
        [q] = [e for e in evs if type(e).event_type == "SchoolQuotaPublished"]
        admitted = [e for e in evs if type(e).event_type == "SchoolAdmissionDecided"]
        assert 1 <= len(admitted) - getattr(q, f"seats_{route.lower()}") <= 2 and q.regency_code == reg
        assert all(e.decided_at <= q.decision_deadline for e in admitted)  # type: ignore[attr-defined]
    for reg, school, case in expected_subjects["admission_after_deadline"]:
        [q] = [e for e in by_fault["admission_late"] if type(e).event_type == "SchoolQuotaPublished"
               and e.school_id == school]  # type: ignore[attr-defined]
        late = [e for e in by_fault["admission_late"] if type(e).event_type == "SchoolAdmissionDecided"
                and e.school_id == school and e.decided_at > q.decision_deadline]  # type: ignore[attr-defined]
        assert [e.case_id for e in late] == [case]
    niks = defaultdict(set)
    for e in by_fault["double_admission"]:
        if type(e).event_type == "SchoolAdmissionDecided":
            niks[e.applicant_nik].add((e.regency_code, e.school_id))  # type: ignore[attr-defined]
    assert len(niks) == len(expected_subjects["admission_double"]) > 0
    assert all(len(v) == 2 and len({reg for reg, _ in v}) == 2 for v in niks.values())
