"""Roads and public works through the pure stages: the gatekeeper's content checks (each naming its field), the
observations the aggregates fold, and the two alert rules (fire on the anomaly, not on clean data, once)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from memory_registry import MemoryRegistry

from schemas.codec import AvroCodec
from schemas.dlq_seal import DlqSeal
from schemas.examples import example
from schemas.exceptions import EventValidationError
from schemas.outcomes import AlertRule, RejectReason
from schemas.reference import roads
from streams.aggregates import accumulators as acc
from streams.aggregates.logic import observe
from streams.alerts.rules import Deduplicator, evaluate, load_rules, partition_key
from streams.gatekeeper.logic import Rejected, Routed, Routing, screen

RULES = load_rules()
T0 = datetime(2025, 3, 3, 2, 0, tzinfo=UTC)
NOW = datetime(2025, 3, 20, tzinfo=UTC)
ROUTING = Routing(
    ingress={"p.ingress.3315": "3315"},
    canonical={f: f"p.events.{f}" for f in ("governance", "living", "economy", "environment", "society", "branding")},
    dlq="p.dlq",
)


def eid(*parts: object) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, "infra-test:" + ":".join(map(str, parts)))


def handled(case: str, hours: float, action: str = "CREW_ON_SITE", status: str = "PROVINCIAL", **kw):  # type: ignore[no-untyped-def]
    forwarded = roads.authority_for(status).authority if action == "FORWARDED" else None
    return example("RoadDamageHandled", event_id=eid(case, hours, action), case_id=case, road_status=status,
                   action=action, reported_at=T0, occurred_at=T0 + timedelta(hours=hours), forwarded_to=forwarded,
                   **kw)


def progress(contract: str, done: float, paid: float, day: int = 0):  # type: ignore[no-untyped-def]
    return example("PublicWorksProgress", event_id=eid(contract, done, paid, day), case_id=contract,
                   contract_id=contract, physical_progress_pct=done, payment_pct=paid,
                   occurred_at=T0 + timedelta(days=day))


def fire(events, state=None):  # type: ignore[no-untyped-def]
    state = {} if state is None else state
    dedup = Deduplicator({})
    out = []
    for e in events:
        out.extend(dedup.new(evaluate(e, RULES, state, NOW)))
    return out


# ---- reference data ---------------------------------------------------------------------------------------------

def test_every_road_status_has_an_owner_and_only_the_province_publishes_a_target() -> None:
    owners = {s: roads.authority_for(s).authority for s in roads.ROAD_STATUSES}
    assert owners == {"NATIONAL": "BBPJN", "PROVINCIAL": "DPUBMCK_JATENG", "REGENCY": "DPU_KABKOTA",
                      "VILLAGE": "PEMDES"}
    assert {s: roads.handling_target_hours(s) for s in roads.ROAD_STATUSES} == {
        "NATIONAL": None, "PROVINCIAL": 24, "REGENCY": None, "VILLAGE": None}
    assert "own target" in roads.authority_for("PROVINCIAL").target_origin
    assert any("Jalan Cantik" in s and "1x24" in s for s in roads.sources())
    assert any("BPK" in s for s in roads.sources())


def test_the_box_holds_every_regency_seat_of_the_simulator_and_not_its_neighbours() -> None:
    from producers.simulator.factories.roads import SEATS
    from schemas.reference import regency_codes

    box = roads.central_java_box()
    assert set(SEATS) == regency_codes()
    assert all(box.contains(lat, lon) for lat, lon in SEATS.values())
    assert not any(box.contains(lat, lon) for lat, lon in [(-6.20, 106.82), (-7.25, 112.75), (3.59, 98.67)])
    assert box.contains(-7.80, 110.36)  # a box, not the border: Yogyakarta, enclosed by the province, passes


# ---- content checks (the model, and so the gatekeeper, names the field) -----------------------------------------

@pytest.mark.parametrize(("event_type", "overrides", "field"), [
    ("RoadDamageReported", {"latitude": 3.5952, "longitude": 110.0}, "latitude"),
    ("RoadDamageReported", {"longitude": 106.8}, "longitude"),
    ("RoadDamageReported", {"latitude": -91.0}, "latitude"),
    ("RoadDamageReported", {"longitude": 181.0}, "longitude"),
    ("RoadDamageReported", {"photo_ref": "foto.jpg"}, "photo_ref"),
    ("RoadDamageHandled", {"reported_at": T0 + timedelta(days=400)}, "reported_at"),
    ("RoadDamageHandled", {"action": "FORWARDED", "forwarded_to": "PEMDES"}, "forwarded_to"),
    ("RoadDamageHandled", {"action": "REPAIRED", "forwarded_to": "BBPJN"}, "forwarded_to"),
    ("PublicWorksProgress", {"physical_progress_pct": 100.5}, "physical_progress_pct"),
    ("PublicWorksProgress", {"physical_progress_pct": -1.0}, "physical_progress_pct"),
    ("PublicWorksProgress", {"payment_pct": 120.0}, "payment_pct"),
    ("PublicWorksProgress", {"contract_id": "OTHER-1"}, "contract_id"),
])
def test_content_checks_name_the_field(event_type: str, overrides: dict[str, object], field: str) -> None:
    with pytest.raises(EventValidationError) as caught:
        example(event_type, **overrides)
    assert [p.path for p in caught.value.problems] == [field]


def test_a_handling_at_the_moment_of_its_report_and_a_forward_to_the_owner_are_valid() -> None:
    handled("A", 0)
    for status in roads.ROAD_STATUSES:
        assert handled("B", 2, "FORWARDED", status).forwarded_to == roads.authority_for(status).authority  # type: ignore[attr-defined]


def test_the_gatekeeper_routes_valid_events_and_refuses_a_report_outside_the_province() -> None:
    codec = AvroCodec(MemoryRegistry())  # type: ignore[arg-type]
    codec.register_all()
    seal = DlqSeal("test-dlq-key-0123456789abcdefghijklmnopqrstu")

    def run(value: bytes, offset: int):  # type: ignore[no-untyped-def]
        return screen("p.ingress.3315", 0, offset, b"3315:X", value, [], codec=codec, routing=ROUTING,
                      hmac_key=b"k", seal=seal, first_seen=lambda _e: None, now=NOW)

    for i, event_type in enumerate(("RoadDamageReported", "RoadDamageHandled", "PublicWorksProgress")):
        out = run(codec.encode(example(event_type)), i)
        assert isinstance(out, Routed)
        assert out.topic == ("p.events.governance" if event_type == "PublicWorksProgress" else "p.events.environment")
    datum = {**example("RoadDamageReported").to_avro(), "latitude": 3.5952, "longitude": 98.6722}
    out = run(codec.encode_datum("RoadDamageReported", datum), 9)
    assert isinstance(out, Rejected) and out.reason is RejectReason.INVALID_EVENT
    assert "latitude" in out.message and "longitude" in out.message and "outside Central Java" in out.message
    datum = {**example("PublicWorksProgress").to_avro(), "payment_pct": 130.0}
    out = run(codec.encode_datum("PublicWorksProgress", datum), 10)
    assert isinstance(out, Rejected) and out.reason is RejectReason.INVALID_EVENT and "payment_pct" in out.message


# ---- aggregates -------------------------------------------------------------------------------------------------

def test_observations_count_reports_per_status_and_time_to_repair() -> None:
    (reported,) = observe(example("RoadDamageReported"))
    assert (reported.metric, reported.dimension, reported.dimension_value) == ("road_reports", "road_status", "PROVINCIAL")
    assert reported.counts == {"reported": 1}
    (repaired,) = observe(handled("A", 9.5, "REPAIRED"))
    assert repaired.counts == {"action_repaired": 1} and repaired.values == {"repair_hours": 9.5}
    (crew,) = observe(handled("A", 3, "CREW_ON_SITE"))
    assert crew.counts == {"action_crew_on_site": 1} and crew.values == {}
    state = None
    for o in (reported, repaired, crew, *observe(handled("B", 20.5, "REPAIRED"))):
        state = acc.add(state, o.counts, o.values, o.ratios)
    snap = acc.snapshot(state)
    assert (snap["reported"], snap["action_repaired"], snap["repair_hours_p50"]) == (1, 2, 9.5)


def test_observations_set_works_progress_against_payment() -> None:
    (ok,) = observe(progress("C1", 60.0, 50.0))
    (ahead,) = observe(progress("C2", 40.0, 55.0))
    assert (ok.metric, ok.dimension, ok.dimension_value) == ("works_progress", "work_type", "ROAD")
    assert ok.counts == {"reports": 1, "payment_ahead": 0} and ahead.counts == {"reports": 1, "payment_ahead": 1}
    assert ahead.values["payment_minus_progress_pct"] == 15.0
    snap = acc.snapshot(acc.add(acc.add(None, ok.counts, ok.values, ok.ratios), ahead.counts, ahead.values, ahead.ratios))
    assert snap["payment_ahead"] == 1 and snap["payment_within_progress_ratio"] == 0.5


# ---- alert rules ------------------------------------------------------------------------------------------------

def test_rules_file_enables_both_with_their_defaults() -> None:
    assert RULES.road_handling_overdue.enabled and RULES.payment_ahead_of_progress.enabled
    assert RULES.payment_ahead_of_progress.margin_pct == 0.0


def test_road_handling_overdue_on_the_first_handling_only() -> None:
    assert fire([handled("A", 3), handled("A", 30, "REPAIRED")]) == []  # crew in time; the repair is not measured
    assert fire([handled("B", 24)]) == []  # exactly the target is within it
    alerts = fire([handled("C", 30), handled("C", 36, "REPAIRED")])
    assert [a.rule for a in alerts] == [AlertRule.ROAD_HANDLING_OVERDUE]
    a = alerts[0]
    assert a.subject == ["3315", "C"] and a.severity == "warning"
    assert (a.window_start, a.window_end) == (T0, T0 + timedelta(hours=24))
    assert a.details["target_hours"] == 24 and a.details["action"] == "CREW_ON_SITE"
    assert fire([handled("D", 80, "REJECTED")])[0].severity == "critical"  # over 3x the target


def test_road_handling_overdue_ignores_roads_without_a_published_target_and_forwards() -> None:
    for status in ("NATIONAL", "REGENCY", "VILLAGE"):
        assert fire([handled("E", 2, "FORWARDED", status), handled("E", 200, "REPAIRED", status)]) == []
    assert fire([handled("F", 40, "FORWARDED")]) == []  # a forward is not the field handling measured


def test_road_handling_overdue_is_the_same_on_replay() -> None:
    state: dict[str, object] = {}
    late = handled("G", 50)
    first = [a.alert_id for a in evaluate(late, RULES, state, NOW)]
    again = [a.alert_id for a in evaluate(late, RULES, state, NOW)]
    assert first == again and len(first) == 1
    assert partition_key(late) == late.ordering_key


def test_payment_ahead_of_progress_once_per_contract() -> None:
    assert fire([progress("K1", 30, 25), progress("K1", 60, 50, 1), progress("K1", 100, 100, 2)]) == []
    alerts = fire([progress("K2", 40, 25), progress("K2", 55, 70, 1), progress("K2", 60, 75, 2)])
    assert [a.rule for a in alerts] == [AlertRule.PAYMENT_AHEAD_OF_PROGRESS]
    a = alerts[0]
    assert a.subject == ["3315", "K2"] and a.severity == "warning"
    assert a.details["overpaid_idr"] == round(0.15 * 4_850_000_000)
    assert fire([progress("K3", 20, 45)])[0].severity == "critical"  # 25 points ahead
