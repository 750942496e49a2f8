"""The bench reports each Faust stage's rate over the gatekeeper's rate of the same repetition, and judges it."""

from __future__ import annotations

import pytest

from bench.__main__ import CASES, acceptance, summarise


def test_ratio_to_gatekeeper_pairs_repetitions() -> None:
    reps = [{"gatekeeper": {"rate": 10_000.0}, "aggregates": {"rate": 6_000.0, "cpu_us_per_record": 90.0},
             "alerts": {"rate": 4_000.0, "cpu_us_per_record": 120.0}},
            {"gatekeeper": {"rate": 20_000.0}, "aggregates": {"rate": 11_000.0, "cpu_us_per_record": 100.0},
             "alerts": {"rate": 8_000.0, "cpu_us_per_record": 110.0}},
            {"aggregates": {"rate": 1.0, "cpu_us_per_record": 80.0},  # no gatekeeper in this one: not paired
             "alerts": {"rate": 1.0, "cpu_us_per_record": 100.0}}]
    metrics = summarise(reps)
    assert metrics["aggregates"]["ratio_to_gatekeeper"]["values"] == pytest.approx([0.6, 0.55])
    assert metrics["alerts"]["ratio_to_gatekeeper"]["median"] == pytest.approx(0.4)
    assert metrics["aggregates"]["cpu_us_per_record"]["values"] == pytest.approx([90.0, 100.0, 80.0])
    verdicts = {name.split(" ")[0]: ok for name, ok, _ in acceptance(metrics) if "of the gatekeeper" in name}
    assert verdicts == {"aggregates": True, "alerts": False}
    assert "alerts" in CASES


def test_no_ratio_without_the_gatekeeper() -> None:
    metrics = summarise([{"alerts": {"rate": 5_000.0}}])
    assert "ratio_to_gatekeeper" not in metrics["alerts"]
    assert not [c for c in acceptance(metrics) if "of the gatekeeper" in c[0]]


def test_the_faust_floor_is_reported_beside_the_stages_but_not_judged() -> None:
    """Case faust (bench/faust_floor.py): each mode's rate, CPU per record and ratio to the gatekeeper, no bound."""
    floor = {"batches": {"rate": 10_000.0, "cpu_us_per_record": 75.0},
             "events": {"rate": 9_000.0, "cpu_us_per_record": 80.0},
             "table": {"rate": 4_000.0, "cpu_us_per_record": 210.0}}
    metrics = summarise([{"gatekeeper": {"rate": 20_000.0}, "faust": floor},
                         {"gatekeeper": {"rate": 25_000.0}, "faust": floor}])
    assert metrics["faust_batches"]["ratio_to_gatekeeper"]["values"] == pytest.approx([0.5, 0.4])
    assert metrics["faust_table"]["throughput"]["median"] == pytest.approx(4_000.0)
    assert metrics["faust_events"]["cpu_us_per_record"]["median"] == pytest.approx(80.0)
    assert not [c for c in acceptance(metrics) if c[0].startswith("faust") and "of the gatekeeper" in c[0]]
    assert "faust" in CASES
