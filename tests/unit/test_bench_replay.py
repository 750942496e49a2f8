"""The replay figure: a year through the slowest stage, one worker each and scaled out, from the run's medians."""

from __future__ import annotations

import pytest

from bench.replay import SCALE_OUT, YEAR_EVENTS, replay


def _metrics(**rates: float) -> dict:
    names = {"gatekeeper": "gatekeeper", "aggregates": "aggregates", "alerts": "alerts", "store": "store_records"}
    return {names[k]: {"throughput": {"median": v, "min": v, "max": v}} for k, v in rates.items()}


def test_the_slowest_stage_sets_the_time() -> None:
    r = replay(_metrics(gatekeeper=10_000, aggregates=1_000, alerts=4_000, store=30_000))
    assert r is not None and r["slowest"] == "aggregates"
    assert r["hours_one_worker"] == pytest.approx(YEAR_EVENTS / 1_000 / 3600)
    scaled = {"gatekeeper": 10_000 * SCALE_OUT["gatekeeper"], "aggregates": 1_000 * SCALE_OUT["aggregates"],
              "alerts": 4_000 * SCALE_OUT["alerts"], "store": 30_000 * SCALE_OUT["store"]}
    slowest = min(scaled, key=scaled.__getitem__)
    assert r["slowest_scaled"] == slowest
    assert r["hours_scaled"] == pytest.approx(YEAR_EVENTS / scaled[slowest] / 3600)
    assert r["hours_scaled"] < r["hours_one_worker"]


def test_a_year_is_the_provinces_average_rate() -> None:
    assert YEAR_EVENTS == pytest.approx(30 * 86_400 * 365)


@pytest.mark.parametrize("missing", ["gatekeeper", "aggregates", "alerts", "store"])
def test_no_figure_unless_every_stage_was_measured(missing: str) -> None:
    rates = {"gatekeeper": 1.0, "aggregates": 1.0, "alerts": 1.0, "store": 1.0}
    del rates[missing]
    assert replay(_metrics(**rates)) is None
