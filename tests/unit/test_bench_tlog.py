"""The transparency log's cost in the bench: the stage's batched audit paths equal the tree's one-by-one paths."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/ is not an installed package

from transparency.exceptions import ProofError  # noqa: E402
from transparency.merkle import leaf_hash, verify_inclusion  # noqa: E402
from transparency.tree import MerkleTree  # noqa: E402


def _tree(n: int) -> MerkleTree:
    return MerkleTree(leaf_hash(hashlib.sha256(str(i).encode()).digest()) for i in range(n))


def test_batched_audit_paths_equal_the_trees_own_for_every_start_and_size() -> None:
    tree = _tree(70)
    for size in range(1, 71):
        for start in range(size):
            assert tree.inclusion_proofs(start, size) == [tree.inclusion_proof(i, size) for i in range(start, size)]


def test_batched_audit_paths_on_a_larger_tree_verify() -> None:
    tree = _tree(5000)
    proofs = tree.inclusion_proofs(1234, 4321)
    assert len(proofs) == 4321 - 1234
    assert proofs[0] == tree.inclusion_proof(1234, 4321) and proofs[-1] == tree.inclusion_proof(4320, 4321)
    root = tree.root(4321)
    verify_inclusion(tree.leaf(2000), 2000, 4321, proofs[2000 - 1234], root)  # raises when it does not verify
    with pytest.raises(ProofError):
        verify_inclusion(tree.leaf(2000), 2000, 4321, proofs[2001 - 1234], root)


def test_no_paths_for_an_empty_or_impossible_range() -> None:
    tree = _tree(8)
    assert tree.inclusion_proofs(8, 8) == []
    assert tree.inclusion_proofs(0, 9) == []


def _rep(raw: float, gk: float, gkl: float, **log: float) -> dict[str, dict[str, float]]:
    return {"raw": {"rate": raw, "peak_rss_mb": 100}, "gatekeeper": {"rate": gk, "peak_rss_mb": 150},
            "gatekeeper+log": {"rate": gkl, "peak_rss_mb": 160, "log_peak_rss_mb": 170, "log_lag_at_end": 0,
                               "log_behind_s": 0.5, "gatekeeper_cores": 1.0, "log_cores": 0.4, "broker_cores": 0.3},
            "log": {"rate": 5000, "appended": 10_000, "cpu_seconds": 1.0, "append_s": 0.5, "checkpoint_s": 0.2,
                    "publish_s": 0.1, "peak_rss_mb": 180, **log}}


def test_the_logs_cost_pairs_each_repetitions_gatekeeper_with_and_without_it() -> None:
    from bench.__main__ import summarise

    m = summarise([_rep(100_000, 20_000, 19_000), _rep(100_000, 10_000, 8_000), _rep(50_000, 20_000, 20_000)])
    assert m["gatekeeper_with_log"]["values"] == [0.95, 0.8, 1.0]
    assert m["gatekeeper_with_log"]["median"] == 0.95
    assert m["gatekeeper+log"]["ratio"]["values"] == [0.19, 0.08, 0.4]  # to raw, like every throughput
    assert m["log"]["throughput"]["median"] == 5000
    assert m["log_cpu_us_per_leaf"]["median"] == pytest.approx(100.0)
    assert m["log_checkpoint_us_per_leaf"]["median"] == pytest.approx(20.0)
    assert m["peak_rss_mb"]["transparency log (beside the gatekeeper)"] == 170
    assert m["peak_rss_mb"]["transparency log (catch-up)"] == 180


def test_the_log_cost_bound_fails_below_90_percent_and_names_itself() -> None:
    from bench.__main__ import acceptance, summarise

    ok = acceptance(summarise([_rep(100_000, 20_000, 18_200)] * 3))
    bad = acceptance(summarise([_rep(100_000, 20_000, 17_800)] * 3))
    [good_check] = [c for c in ok if "log_cost_max" in c[0]]
    [bad_check] = [c for c in bad if "log_cost_max" in c[0]]
    assert good_check[1] and not bad_check[1]
    assert "89.0%" in bad_check[2] and "cost 11.0%" in bad_check[2]


def test_no_log_cost_without_both_gatekeeper_cases() -> None:
    from bench.__main__ import acceptance, summarise

    reps = [_rep(100_000, 20_000, 10_000)]
    del reps[0]["gatekeeper"]
    assert "gatekeeper_with_log" not in summarise(reps)
    assert not [c for c in acceptance(summarise(reps)) if "log_cost_max" in c[0]]


def test_the_gatekeeper_with_and_without_the_log_swap_places_every_other_repetition() -> None:
    from bench.__main__ import CASES, order

    assert order(list(CASES), 1) == list(CASES)
    second = order(list(CASES), 2)
    assert second.index("gatekeeper+log") < second.index("gatekeeper") and sorted(second) == sorted(CASES)
    assert order(["gatekeeper", "raw"], 2) == ["raw", "gatekeeper"]  # CASES order, nothing to swap


def test_a_niced_log_is_stated_in_the_bounds_line() -> None:
    from bench.__main__ import acceptance, summarise

    reps = [_rep(100_000, 20_000, 19_000)]
    reps[0]["gatekeeper+log"]["log_nice"] = 10
    [check] = [c for c in acceptance(summarise(reps)) if "log_cost_max" in c[0]]
    assert check[0].endswith("the log at nice 10") and check[1]


def test_cpu_meters_count_this_process_from_start() -> None:
    import os
    import time

    from bench.env import CpuMeters

    meters = CpuMeters({"me": os.getpid(), "nobody": None})
    end = time.monotonic() + 0.3
    while time.monotonic() < end:
        sum(range(1000))
    cores = meters.cores()
    assert set(cores) == {"me"} and 0.1 < cores["me"] <= 1.2
