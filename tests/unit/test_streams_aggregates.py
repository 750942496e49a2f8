"""Aggregates: pure accumulators and the observations of each event type."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.examples import example
from streams.aggregates import accumulators as acc
from streams.aggregates.logic import keys_for, observe, window_bounds
from schemas.records import Aggregate


def test_percentiles_nearest_rank() -> None:
    values = sorted(float(v) for v in range(1, 101))
    assert acc.percentile(values, 50) == 50 and acc.percentile(values, 95) == 95
    assert acc.percentile([], 50) is None and acc.percentile([7.0], 95) == 7.0


def test_counts_stats_ratios() -> None:
    state = None
    for hours, met in [(2, True), (4, True), (30, False), (6, True)]:
        state = acc.add(state, {"completions": 1}, {"completion_hours": hours}, {"sla_met": met})
    values = acc.snapshot(state)
    assert values["completions"] == 4
    assert values["completion_hours_mean"] == 10.5
    assert (values["completion_hours_min"], values["completion_hours_max"]) == (2, 30)
    assert values["completion_hours_p50"] == 4 and values["completion_hours_p95"] == 30
    assert values["sla_met_ratio"] == 0.75


def test_sample_stays_bounded_and_deterministic() -> None:
    a = b = None
    for i in range(2000):
        a = acc.add(a, values={"x": float(i)}, sample_size=64)
        b = acc.add(b, values={"x": float(i)}, sample_size=64)
    assert len(a["stats"]["x"]["sample"]) == 64 and a == b
    assert 700 < acc.snapshot(a)["x_p50"] < 1300
    assert acc.snapshot(a)["x_count"] == 2000


def test_windows_are_aligned_utc() -> None:
    ts = datetime(2025, 3, 3, 2, 15, 30, tzinfo=UTC)
    assert window_bounds(ts, 3600) == (datetime(2025, 3, 3, 2, tzinfo=UTC), datetime(2025, 3, 3, 3, tzinfo=UTC))
    assert window_bounds(ts, 86400)[0] == datetime(2025, 3, 3, tzinfo=UTC)


def test_observations_per_event_type() -> None:
    at = datetime(2025, 3, 3, 2, tzinfo=UTC)
    done = observe(example("ServiceRequestCompleted", occurred_at=at, submitted_at=at - timedelta(hours=30)))
    assert done[0].metric == "service_requests" and done[0].dimension_value == "KTP_EL"
    assert done[0].ratios == {"sla_met": False} and done[0].values["completion_hours"] == 30
    fee = observe(example("ServiceRequestSubmitted", fee_charged_idr=10_000))[0]
    assert fee.counts == {"requests": 1, "fee_anomalies": 1}
    assert observe(example("ComplaintFiled"))[0].dimension_value == "PUNGLI"
    assert observe(example("StapleFoodPriceObserved"))[0].values == {"price_idr": 42000.0}
    assert observe(example("AirQualityReading"))[0].values == {"pm25": 38.5, "pm10": 61.2}
    assert observe(example("TourismVisitCount"))[0].counts["visitors"] == 152340
    assert observe(example("SocialAidDisbursed"))[0].counts == {"disbursements": 1, "amount_idr": 750000}
    assert observe(example("DisasterReported")) == []


def test_window_keys_and_record() -> None:
    obs = observe(example("ComplaintFiled"))[0]
    keys = keys_for(obs, (("1h", 3600), ("1d", 86400)))
    assert [k[1] for k in keys] == ["1h", "1d"]
    assert keys[0][0] == "complaints|3374|PUNGLI|1h|2025-03-03T02:00:00+00:00"
    state = acc.add(None, obs.counts)
    record = Aggregate(metric="complaints", regency_code="3374", dimension="category", dimension_value="PUNGLI",
                       window="1h", window_start=keys[0][2], window_end=keys[0][3], values=acc.snapshot(state),
                       events=1, updated_at=datetime.now(UTC))
    assert record.window_key == keys[0][0]
    assert Aggregate.model_validate_json(record.to_bytes()) == record


def test_observations_cross_the_repartition_topic_whole() -> None:
    import dataclasses
    import json

    from streams.aggregates.logic import Observation

    for event_type in ("ServiceRequestCompleted", "StapleFoodPriceObserved", "ComplaintFiled"):
        for obs in observe(example(event_type)):
            data = json.loads(json.dumps(obs.to_json()))  # what the repartition topic carries
            assert set(data) == {f.name for f in dataclasses.fields(Observation)}
            assert Observation.from_json(data) == obs
