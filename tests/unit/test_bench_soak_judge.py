"""The soak's memory verdict (bench.soak.judge_rss) on made-up samples: what it judges, from when, and what fails."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.soak import judge_rss, main

MIB = 1024  # samples are KiB


def series(start_min: float, end_min: float, mib_at: list[float]) -> list[tuple[float, int]]:
    """Samples every minute from `start_min`, RSS rising linearly through the values of `mib_at`."""
    n = int(end_min - start_min) + 1
    out = []
    for i in range(n):
        pos = i / max(n - 1, 1) * (len(mib_at) - 1)
        lo = int(pos)
        hi = min(lo + 1, len(mib_at) - 1)
        out.append(((start_min + i) * 60, int((mib_at[lo] + (mib_at[hi] - mib_at[lo]) * (pos - lo)) * MIB)))
    return out


def test_a_flat_process_passes_and_warm_up_growth_is_not_judged() -> None:
    samples = {"kafka-0": series(0, 60, [1000, 1100, 1110]),  # +10% in the first half hour, then flat
               "aggregates#1": series(0, 10, [100, 200]) + series(11, 60, [200, 215])}  # doubles while it warms
    rows, problems = judge_rss(samples, {"kafka-0": 0, "aggregates#1": 0}, 600, 600, 0.2)
    assert problems == [], problems
    assert {r["process"] for r in rows if r["judged"]} == {"kafka-0", "aggregates#1"}


def test_growth_after_the_warm_up_fails_naming_the_process_and_its_range() -> None:
    samples = {"alerts#1": series(0, 60, [100, 110, 150])}
    _rows, problems = judge_rss(samples, {"alerts#1": 0}, 600, 600, 0.2)
    assert len(problems) == 1 and problems[0].startswith("RSS of alerts#1 not flat:")
    assert "after minute 10.0" in problems[0]


def test_a_restarted_incarnation_gets_its_own_warm_up() -> None:
    born = {"gatekeeper#1": 0, "gatekeeper#2": 20 * 60}
    samples = {"gatekeeper#1": series(0, 20, [150, 160]),
               "gatekeeper#2": series(20, 60, [150, 220, 225, 226, 227])}  # fills over its first ten minutes
    rows, problems = judge_rss(samples, born, 600, 600, 0.2)
    assert problems == [], problems
    assert next(r for r in rows if r["process"] == "gatekeeper#2")["from_min"] == 30.0
    _rows, strict = judge_rss(samples, born, 600, 120, 0.2)  # judged two minutes after its restart: it fails
    assert any(p.startswith("RSS of gatekeeper#2 not flat") for p in strict), strict


def test_a_stage_never_judged_is_a_problem() -> None:
    born = {"sink-store#1": 0, "sink-store#2": 9 * 60, "sink-store#3": 18 * 60}
    samples = {"sink-store#1": series(0, 9, [100]), "sink-store#2": series(9, 18, [100]),
               "sink-store#3": series(18, 27, [100])}
    _rows, problems = judge_rss(samples, born, 600, 600, 0.2)
    assert problems == ["RSS of sink-store never judged: no incarnation lived past its warm-up"]


def test_rejudge_reads_a_kept_raw_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = tmp_path / "soak.raw.json"
    raw.write_text(json.dumps({"rss_samples": {"alerts#1": series(0, 60, [100, 110, 150])}, "born": {"alerts#1": 0}}))
    assert main(["--rejudge", str(raw)]) == 1
    out = capsys.readouterr()
    assert "rss alerts#1:" in out.out and "FAILED" in out.out and "not flat" in out.err
