"""Education (SPMB): the content checks name the field, and the three admission rules fire on their anomaly only,
once per subject, whichever order a school's quota and its decisions arrive in and under which key."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas.examples import example
from schemas.exceptions import EventValidationError
from schemas.models import Event
from schemas.nik import tokenise_event
from schemas.outcomes import AlertRule
from schemas.reference import reference_sources
from schemas.reference.spmb import spmb_levels
from streams.alerts.rules import (
    Deduplicator,
    applicant_key,
    evaluate,
    load_rules,
    partition_key,
    partition_keys,
    school_key,
)

RULES = load_rules()
T0 = datetime(2025, 6, 20, 2, 0, tzinfo=UTC)
DEADLINE = datetime(2025, 6, 30, 9, 0, tzinfo=UTC)
NOW = datetime(2025, 7, 1, tzinfo=UTC)
KEY = b"test-nik-key"


def eid(*parts: object) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, "edu:" + ":".join(map(str, parts)))


def quota(school: str = "20328954", seats: tuple[int, int, int, int] = (3, 3, 1, 3), regency: str = "3374",
          deadline: datetime = DEADLINE, at: datetime = T0 - timedelta(days=20)) -> Event:
    d, a, m, p = seats
    return example("SchoolQuotaPublished", event_id=eid("q", school, seats, deadline, at), regency_code=regency,
                   case_id=f"SPMB-2025-{school}-SMA", school_id=school, seats_domisili=d, seats_afirmasi=a,
                   seats_mutasi=m, seats_prestasi=p, decision_deadline=deadline, occurred_at=at)


def decided(n: int, route: str = "DOMISILI", school: str = "20328954", nik: str | None = None,
            at: datetime = T0, decision: str = "ADMITTED", regency: str = "3374") -> Event:
    nik = nik or f"3374015502{n:06d}"
    event = example("SchoolAdmissionDecided", event_id=eid("d", school, n, route, decision, at), regency_code=regency,
                    case_id=f"SPMB-2025-SMA-{school}-{n}", school_id=school, route=route, applicant_nik=nik,
                    decision=decision, applied_at=at - timedelta(days=5), decided_at=at, occurred_at=at)
    return tokenise_event(event, KEY)


def fire(events: list[Event], *, keyed: bool = False) -> list[Any]:
    """Every new alert; `keyed` evaluates as the worker does, once per partition key with its own state."""
    states: dict[str, dict[str, Any]] = {}
    dedup = Deduplicator({})
    out = []
    for e in events:
        keys = partition_keys(e) if keyed else (None,)
        for key in keys:
            state = states.setdefault(key or "", {})
            out.extend(dedup.new(evaluate(e, RULES, state, NOW, key=key)))
    return out


# ---- reference data and content checks -------------------------------------------------------------------------

def test_quota_shares_are_the_cited_announcement() -> None:
    levels = spmb_levels()
    assert not levels["SD"].allows("PRESTASI")
    assert (levels["SD"].routes["DOMISILI"].min_pct, levels["SD"].routes["AFIRMASI"].min_pct,
            levels["SD"].routes["MUTASI"].max_pct) == (70, 15, 5)
    assert [levels["SMP"].routes[r].min_pct for r in ("DOMISILI", "AFIRMASI", "PRESTASI")] == [40, 20, 25]
    assert [levels["SMA"].routes[r].min_pct for r in ("DOMISILI", "AFIRMASI", "PRESTASI")] == [30, 30, 30]
    assert levels["SMA"].authority == levels["SMK"].authority == "province" and levels["SD"].authority == "regency"
    sources = reference_sources()["spmb_quotas.yaml"]
    assert any("Permendikdasmen 3/2025" in s for s in sources) and any("kabar24.id" in s for s in sources)


def problems(event_type: str, **overrides: Any) -> dict[str, str]:
    with pytest.raises(EventValidationError) as caught:
        example(event_type, **overrides)
    return {p.path: p.message for p in caught.value.problems}


def test_prestasi_is_refused_at_sd_naming_the_field() -> None:
    assert "is not an SPMB route of SD" in problems("SchoolAdmissionApplied", school_level="SD", route="PRESTASI")["route"]
    assert "route" in problems("SchoolAdmissionDecided", school_level="SD", route="PRESTASI")
    example("SchoolAdmissionApplied", school_level="SMP", route="PRESTASI")  # SMP has it
    example("SchoolAdmissionApplied", school_level="SMK", route="DOMISILI")  # SMK: no share fixed, every route


def test_a_decision_before_its_application_is_refused() -> None:
    at = datetime(2025, 6, 1, tzinfo=UTC)
    found = problems("SchoolAdmissionDecided", applied_at=at, decided_at=at - timedelta(seconds=1), occurred_at=at)
    assert "before applied_at" in found["decided_at"]
    found = problems("SchoolAdmissionDecided", applied_at=at, decided_at=at + timedelta(hours=1), occurred_at=at)
    assert "after occurred_at" in found["decided_at"]


def test_a_quota_outside_the_shares_or_negative_is_refused_naming_the_route() -> None:
    assert "must be 0" in problems("SchoolQuotaPublished", school_level="SD", seats_domisili=80, seats_afirmasi=15,
                                   seats_mutasi=5, seats_prestasi=10)["seats_prestasi"]
    found = problems("SchoolQuotaPublished", seats_domisili=60, seats_afirmasi=108, seats_mutasi=60,
                     seats_prestasi=132)
    assert set(found) == {"seats_domisili", "seats_mutasi"}
    assert "at least 30%" in found["seats_domisili"] and "at most 5%" in found["seats_mutasi"]
    assert "seats_afirmasi" in problems("SchoolQuotaPublished", seats_afirmasi=-1)
    assert "no seat" in problems("SchoolQuotaPublished", seats_domisili=0, seats_afirmasi=0, seats_mutasi=0,
                                 seats_prestasi=0)["seats_domisili"]
    example("SchoolQuotaPublished", school_level="SD", seats_domisili=28, seats_afirmasi=6, seats_mutasi=2,
            seats_prestasi=0)  # 36 seats: 70% is 25.2, 15% is 5.4, 5% is 1.8 (rounded in the school's favour: 2)


# ---- alert rules -----------------------------------------------------------------------------------------------

def test_admissions_within_quota_and_deadline_raise_nothing_and_rejections_never_count() -> None:
    events = [quota(), *(decided(i, "DOMISILI") for i in range(3)), decided(3, "MUTASI"),
              *(decided(10 + i, "DOMISILI", decision="REJECTED") for i in range(5))]
    assert fire(events) == [] and fire(events, keyed=True) == []


@pytest.mark.parametrize("keyed", [False, True])
def test_over_quota_fires_once_per_school_and_route_in_any_order(keyed: bool) -> None:
    events = [quota(), *(decided(i, "AFIRMASI") for i in range(6)), decided(9, "DOMISILI")]
    for order in (events, events[1:] + events[:1], random.Random(4).sample(events, len(events))):
        alerts = fire(order, keyed=keyed)
        assert [a.rule for a in alerts] == [AlertRule.ADMISSION_OVER_QUOTA]
        a = alerts[0]
        assert a.subject == ["3374", "20328954", "SMA", "2025", "AFIRMASI"]
        assert a.details["quota"] == 3 and 3 < a.details["admitted"] <= 6  # raised at the first admission beyond
        assert len(a.evidence_event_ids) == 1 + a.details["admitted"] - 3  # the quota and the admissions beyond it


def test_over_quota_counts_an_application_once_and_follows_the_latest_quota() -> None:
    again = decided(1, "MUTASI")
    assert fire([quota(), again, again, decided(1, "MUTASI", at=T0 + timedelta(hours=1))]) == []  # one application
    alerts = fire([quota(), decided(0, "MUTASI"), decided(1, "MUTASI")])
    assert [a.subject[-1] for a in alerts] == ["MUTASI"]
    corrected = quota(seats=(10, 10, 2, 10), at=T0 - timedelta(days=10))
    assert fire([quota(), corrected, decided(0, "MUTASI"), decided(1, "MUTASI")]) == []
    assert fire([corrected, quota(), decided(0, "MUTASI"), decided(1, "MUTASI")]) == []  # the older one is ignored


@pytest.mark.parametrize("keyed", [False, True])
def test_admission_after_the_deadline_fires_per_application_even_before_the_quota_is_known(keyed: bool) -> None:
    late = decided(1, at=DEADLINE + timedelta(hours=3))
    rejected_late = decided(2, at=DEADLINE + timedelta(hours=4), decision="REJECTED")
    for order in ([quota(), decided(0), late, rejected_late], [late, rejected_late, decided(0), quota()]):
        alerts = fire(order, keyed=keyed)
        assert [(a.rule, a.subject) for a in alerts] == [
            (AlertRule.ADMISSION_AFTER_DEADLINE, ["3374", "20328954", late.case_id])]
        assert alerts[0].window_end == DEADLINE + timedelta(hours=3)


@pytest.mark.parametrize("keyed", [False, True])
def test_one_applicant_admitted_by_two_schools(keyed: bool) -> None:
    nik = "3374015502900077"
    first = decided(1, school="20328954", nik=nik)
    second = decided(2, school="20300001", nik=nik, regency="3301")
    assert fire([quota(), first, decided(3, school="20328954", nik=nik)], keyed=keyed) == []  # one school twice
    alerts = fire([quota(), quota("20300001", regency="3301"), first, second,
                   decided(4, school="20300002", nik=nik)], keyed=keyed)
    assert [a.rule for a in alerts] == [AlertRule.ADMISSION_DOUBLE]
    a = alerts[0]
    assert a.subject[0].startswith("nik:") and a.subject[1:] == ["SMA", "2025"] and nik not in a.message
    assert a.details["regencies"] == ["3301", "3374"]
    rejected = decided(5, school="20300001", nik="3374015502900078", decision="REJECTED")
    assert fire([decided(6, nik="3374015502900078"), rejected], keyed=keyed) == []


def test_a_decision_goes_under_its_school_and_its_applicant() -> None:
    d, q = decided(1), quota()
    assert partition_keys(d) == (school_key(d), applicant_key(d)) and partition_key(d) == school_key(d)
    assert partition_keys(q) == (school_key(q),) == (school_key(d),)
    applied = tokenise_event(example("SchoolAdmissionApplied"), KEY)
    assert partition_keys(applied) == (applied.ordering_key,)
    # under the applicant's key only the applicant rule runs, under the school's key only the school rules
    state: dict[str, Any] = {}
    evaluate(d, RULES, state, NOW, key=applicant_key(d))
    assert [k.split("|")[0] for k in state] == ["admitted"]
    state.clear()
    evaluate(d, RULES, state, NOW, key=school_key(d))
    assert sorted(k.split("|")[0] for k in state) == ["deadline", "quota"]


# ---- aggregates ------------------------------------------------------------------------------------------------

def test_admissions_aggregate_per_school_and_route_with_the_published_seats() -> None:
    from streams.aggregates.logic import METRICS, observe

    assert "school_admissions" in METRICS
    seats = {o.dimension_value: o.values["quota_seats"] for o in observe(quota())}
    assert seats == {"20328954/SMA/DOMISILI": 3, "20328954/SMA/AFIRMASI": 3, "20328954/SMA/MUTASI": 1,
                     "20328954/SMA/PRESTASI": 3}
    [applied] = observe(tokenise_event(example("SchoolAdmissionApplied", route="PRESTASI"), KEY))
    assert (applied.metric, applied.dimension, applied.dimension_value, applied.counts) == (
        "school_admissions", "school_route", "20328954/SMA/PRESTASI", {"applied": 1})
    assert [o.counts for o in observe(decided(1, "MUTASI"))] == [{"admitted": 1}]
    assert [o.counts for o in observe(decided(2, decision="REJECTED"))] == [{"rejected": 1}]


# ---- the real rules over the simulator's plan -------------------------------------------------------------------

@pytest.mark.parametrize("shuffle", [False, True])
def test_the_rules_raise_exactly_the_planned_education_alerts_in_any_arrival_order(shuffle: bool) -> None:
    """The worker's rules (per partition key, own state) over a seeded plan's valid events: each planted anomaly
    raises its manifest subject, nothing else; shuffled, since quotas and decisions travel on different
    partitions."""
    from producers.simulator import plan
    from producers.simulator.traffic import Expect

    key = "k" * 43
    p = plan(3000, 11, nik_hmac_key=key)
    events = [tokenise_event(r.event, key.encode()) for r in p.records if r.expect is Expect.EVENT
              and type(r.event).event_type.startswith("School")]
    if shuffle:
        events = random.Random(2).sample(events, len(events))
    states: dict[str, dict[str, Any]] = {}
    dedup = Deduplicator({})
    raised: dict[str, list[list[str]]] = {r: [] for r in ("admission_over_quota", "admission_after_deadline",
                                                          "admission_double")}
    for e in events:
        for k in partition_keys(e):
            for a in dedup.new(evaluate(e, RULES, states.setdefault(k, {}), NOW, key=k)):
                raised[a.rule.value].append(a.subject)
    planned = {rule: sorted(p.manifest.expected_alert_subjects[rule]) for rule in raised}
    assert all(planned.values())
    assert {rule: sorted(s) for rule, s in raised.items()} == planned


def test_a_replay_after_a_crash_raises_the_lost_alert_again_and_counts_nothing_twice() -> None:
    """The state was written but the alert never left (a crash in between): the replayed events raise it again;
    the dedup table drops a copy that did leave."""
    nik = "3374015502900088"
    events = [quota(), *(decided(i, "MUTASI") for i in range(2)), decided(5, at=DEADLINE + timedelta(hours=1)),
              decided(7, school="20300001", nik=nik), decided(8, school="20300002", nik=nik, regency="3301")]
    state: dict[str, Any] = {}
    first = [a for e in events for a in evaluate(e, RULES, state, NOW)]
    assert sorted(a.rule.value for a in first) == ["admission_after_deadline", "admission_double",
                                                   "admission_over_quota"]
    replayed = [a for e in events for a in evaluate(e, RULES, state, NOW)]  # state kept, alerts lost
    assert {a.alert_id for a in replayed} == {a.alert_id for a in first}
    assert next(a for a in replayed if a.rule is AlertRule.ADMISSION_OVER_QUOTA).details["admitted"] == 2
    raised: dict[str, Any] = {}
    Deduplicator(raised).new(first)
    assert Deduplicator(raised).new(replayed) == []
