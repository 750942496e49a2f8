"""Pure, JSON-serialisable accumulators: counts, sums, mean/min/max, p50/p95 from a bounded sample, ratios.

The state is a plain dict so a Faust table can store it as JSON; `add` returns a new dict. The aggregates worker
folds a batch's observations of one window into a partial accumulator (`fold_into`, every value kept) and the
window's table entry takes the partial in one write (`merge`): the result is the one `add`, observation by
observation, gives.
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


def _sample_into(sample: list[float], n: int, value: float, bound: int, salt: str) -> None:
    """`_sample` in place: the same draw, without copying the sample (a merge replays a whole batch)."""
    if len(sample) < bound:
        sample.append(value)
        return
    j = zlib.crc32(f"{salt}:{n}".encode()) % n
    if j < bound:
        sample[j] = value


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


def fold_into(part: Acc, counts: Mapping[str, float], values: Mapping[str, float],
              ratios: Mapping[str, bool]) -> None:
    """One observation folded into a batch's partial accumulator, in place; its samples keep every value in order,
    so `merge` can replay them into a window's bounded sample exactly as `add` would have drawn them."""
    part["events"] += 1
    own = part["counts"]
    for name, n in counts.items():
        own[name] = own.get(name, 0) + n
    stats = part["stats"]
    for name, v in values.items():
        s = stats.get(name)
        if s is None:
            stats[name] = {"n": 1, "sum": v, "min": v, "max": v, "sample": [v]}
            continue
        s["n"] += 1
        s["sum"] += v
        if v < s["min"]:
            s["min"] = v
        if v > s["max"]:
            s["max"] = v
        s["sample"].append(v)
    kept = part["ratios"]
    for name, hit in ratios.items():
        pair = kept.get(name)
        if pair is None:
            pair = kept[name] = [0, 0]
        pair[0] += 1 if hit else 0
        pair[1] += 1


class IncompletePartial(ValueError):
    """A partial accumulator whose sample lost values: `merge` could not reproduce one-by-one folding."""


def merge(acc: Mapping[str, Any] | None, part: Mapping[str, Any], *, sample_size: int = 512) -> Acc:
    """`acc` with a partial accumulator (`fold_into`) folded in: equal to `add`-ing the partial's observations one
    by one in their order (sums are replayed value by value, so even float rounding is the same)."""
    out: Acc = empty() if acc is None else {"events": acc["events"], "counts": dict(acc["counts"]),
                                            "stats": dict(acc["stats"]), "ratios": dict(acc["ratios"])}
    out["events"] += part["events"]
    counts = out["counts"]
    for name, n in part["counts"].items():
        counts[name] = counts.get(name, 0) + n
    for name, p in part["stats"].items():
        if len(p["sample"]) != p["n"]:
            raise IncompletePartial(f"partial stats {name!r} keep {len(p['sample'])} of {p['n']} values; build "
                                    "partials with fold_into, which keeps every value")
        s = out["stats"].get(name)
        s = {"n": 0, "sum": 0.0, "min": None, "max": None, "sample": []} if s is None else {**s, "sample": list(s["sample"])}
        n, total, low, high, sample = s["n"], s["sum"], s["min"], s["max"], s["sample"]
        for v in p["sample"]:
            n += 1
            total += v
            low = v if low is None else min(low, v)
            high = v if high is None else max(high, v)
            _sample_into(sample, n, v, sample_size, name)
        s.update(n=n, sum=total, min=low, max=high)
        out["stats"][name] = s
    for name, (hits, total) in part["ratios"].items():
        had, seen = out["ratios"].get(name, [0, 0])
        out["ratios"][name] = [had + hits, seen + total]
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
