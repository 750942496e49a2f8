"""Pure, JSON-serialisable accumulators: counts, sums, mean/min/max, p50/p95 from a bounded sample, ratios.

The state is a plain dict so a Faust table can store it as JSON; `add` returns a new dict.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from typing import Any

Acc = dict[str, Any]


def empty() -> Acc:
    return {"events": 0, "counts": {}, "stats": {}, "ratios": {}}


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of an ascending list; None when empty."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def _sample(sample: list[float], n: int, value: float, bound: int, salt: str) -> list[float]:
    """Reservoir sampling with a deterministic draw: after `n` values, the sample stays at most `bound` long."""
    if len(sample) < bound:
        return [*sample, value]
    j = zlib.crc32(f"{salt}:{n}".encode()) % n
    if j < bound:
        sample = list(sample)
        sample[j] = value
    return sample


def add(acc: Mapping[str, Any] | None, counts: Mapping[str, float] | None = None,
        values: Mapping[str, float] | None = None, ratios: Mapping[str, bool] | None = None,
        *, sample_size: int = 512) -> Acc:
    """One observation folded in: `counts` add up, `values` feed mean/min/max/p50/p95, `ratios` count hits."""
    out: Acc = empty() if acc is None else {"events": acc["events"], "counts": dict(acc["counts"]),
                                            "stats": dict(acc["stats"]), "ratios": dict(acc["ratios"])}
    out["events"] += 1
    for name, n in (counts or {}).items():
        out["counts"][name] = out["counts"].get(name, 0) + n
    for name, v in (values or {}).items():
        s = dict(out["stats"].get(name) or {"n": 0, "sum": 0.0, "min": None, "max": None, "sample": []})
        s["n"] += 1
        s["sum"] += v
        s["min"] = v if s["min"] is None else min(s["min"], v)
        s["max"] = v if s["max"] is None else max(s["max"], v)
        s["sample"] = _sample(s["sample"], s["n"], v, sample_size, name)
        out["stats"][name] = s
    for name, hit in (ratios or {}).items():
        hits, total = out["ratios"].get(name, [0, 0])
        out["ratios"][name] = [hits + (1 if hit else 0), total + 1]
    return out


def snapshot(acc: Mapping[str, Any]) -> dict[str, Any]:
    """Flat values of an accumulator: counts, `<v>_mean/_min/_max/_p50/_p95`, `<r>_ratio` (+ numerator/denominator)."""
    values: dict[str, Any] = dict(acc["counts"])
    for name, s in acc["stats"].items():
        ordered = sorted(s["sample"])
        values.update({
            f"{name}_count": s["n"],
            f"{name}_mean": s["sum"] / s["n"] if s["n"] else None,
            f"{name}_min": s["min"],
            f"{name}_max": s["max"],
            f"{name}_p50": percentile(ordered, 50),
            f"{name}_p95": percentile(ordered, 95),
        })
    for name, (hits, total) in acc["ratios"].items():
        values[f"{name}_ratio"] = hits / total if total else None
        values[f"{name}_hits"] = hits
        values[f"{name}_total"] = total
    return values
