"""The latency case's figures and their stable names in the bench JSON: `metrics.latency_<rate>.<figure>`, judged
against the issue's bounds (p99 to canonical < 150 ms at 200/s and < 250 ms at 2,000/s, to the stored row < 1 s)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/ is not an installed package

from bench.__main__ import BOUNDS, CASES, acceptance, order, summarise  # noqa: E402
from bench.cases.latency import figures  # noqa: E402


def _rep(p99_200: float, p99_2000: float, store_2000: float) -> dict[str, Any]:
    return {"latency": {"200": {"p50_ms": 40.0, "p99_ms": p99_200, "store_p99_ms": 300.0, "broker_cores": 0.1},
                        "2000": {"p50_ms": 60.0, "p99_ms": p99_2000, "store_p99_ms": store_2000}}}


def _checks(metrics: dict[str, Any]) -> dict[str, bool]:
    return {name.split("(")[-1].rstrip(")"): ok for name, ok, _ in acceptance(metrics) if "latency_" in name}


def test_figures_are_per_hop_percentiles_from_each_events_send() -> None:
    ids = [f"e{i}" for i in range(100)]
    sent = {i: 1000.0 for i in ids}
    seen = {i: {"ack": 1000.0 + 0.001 * n, "canonical": 1000.0 + 0.010 * n, "store": 1000.5 + 0.010 * n}
            for n, i in enumerate(ids)}
    out = figures(sent, seen, ids)
    assert out["p50_ms"] == pytest.approx(495.0)  # canonical: 0..990 ms
    assert out["p99_ms"] == pytest.approx(980.1)
    assert out["max_ms"] == pytest.approx(990.0)
    assert out["store_p50_ms"] == pytest.approx(995.0)
    assert out["ack_p99_ms"] == pytest.approx(98.01)
    assert "gatekeeper_p50_ms" not in out  # no event reached that hop: no figure rather than a zero


def test_an_event_missing_at_a_hop_is_left_out_of_that_hop_only() -> None:
    sent = {"a": 0.0, "b": 0.0}
    seen = {"a": {"canonical": 0.1, "store": 0.3}, "b": {"canonical": 0.2}}
    out = figures(sent, seen, ["a", "b"])
    assert out["max_ms"] == pytest.approx(200.0)
    assert out["store_p50_ms"] == out["store_max_ms"] == pytest.approx(300.0)


def test_summary_names_are_stable_medians_of_the_repetitions() -> None:
    metrics = summarise([_rep(100, 200, 800), _rep(140, 240, 900), _rep(500, 600, 2000)])
    assert metrics["latency_200"]["p99_ms"]["median"] == 140
    assert metrics["latency_200"]["p99_ms"]["values"] == [100, 140, 500]
    assert metrics["latency_2000"]["p99_ms"]["median"] == 240
    assert metrics["latency_2000"]["store_p99_ms"]["median"] == 900
    assert metrics["latency_2000"]["p50_ms"]["median"] == 60
    assert metrics["latency_200"]["broker_cores"]["median"] == pytest.approx(0.1)


def test_each_bound_is_judged_on_the_median() -> None:
    assert BOUNDS["latency_200_p99_ms_max"] == 150
    assert BOUNDS["latency_2000_p99_ms_max"] == 250
    assert BOUNDS["latency_2000_store_p99_ms_max"] == 1000
    ok = summarise([_rep(100, 200, 800), _rep(140, 240, 900), _rep(500, 600, 2000)])
    assert _checks(ok) == {"latency_200_p99_ms_max": True, "latency_2000_p99_ms_max": True,
                           "latency_2000_store_p99_ms_max": True}
    bad = summarise([_rep(150, 250, 1000), _rep(160, 260, 1200), _rep(100, 100, 100)])
    assert _checks(bad) == {"latency_200_p99_ms_max": False, "latency_2000_p99_ms_max": False,
                            "latency_2000_store_p99_ms_max": False}


def test_the_half_load_run_is_reported_but_no_longer_a_bound() -> None:
    metrics = summarise([{"gatekeeper": {"rate": 10_000.0, "p99_ms": 3000.0, "p50_ms": 400.0}}])
    assert metrics["latency_p99_ms"]["median"] == 3000
    assert not [name for name, _, _ in acceptance(metrics) if "p99" in name]


def test_only_latency_runs_the_latency_case_alone() -> None:
    assert "latency" in CASES
    assert order(["latency"], 1) == ["latency"]
    assert not _checks(summarise([{"raw": {"rate": 100.0}}]))  # without the case, no latency bound is judged
