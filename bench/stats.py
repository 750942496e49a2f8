"""The statistics of the benchmark: min/median/max of repetitions, ratios to the baseline, the 20% agreement rule.

Pure functions, unit-tested in tests/unit/test_bench_stats.py.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

AGREEMENT = 0.20  # three repetitions agree when min and max are each within 20% of the median


@dataclass(frozen=True)
class Summary:
    """min / median / max of the repetitions of one metric (the values kept in run order)."""

    values: tuple[float, ...]

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        if not values:
            raise ValueError("a summary needs at least one value")
        return cls(tuple(float(v) for v in values))

    @property
    def min(self) -> float:
        return min(self.values)

    @property
    def max(self) -> float:
        return max(self.values)

    @property
    def median(self) -> float:
        return float(statistics.median(self.values))

    @property
    def spread(self) -> float:
        """The larger relative distance of min or max from the median (0.1 = 10%)."""
        return spread(self.values)

    def agrees(self, within: float = AGREEMENT) -> bool:
        return agrees(self.values, within)

    def as_dict(self) -> dict[str, object]:
        return {"values": list(self.values), "min": self.min, "median": self.median, "max": self.max,
                "spread": round(self.spread, 4), "agrees": self.agrees()}


def spread(values: Sequence[float]) -> float:
    """max(|median - min|, |max - median|) / median; 0 for a single value; inf when the median is 0 and values differ."""
    if not values:
        raise ValueError("spread of no values")
    med = float(statistics.median(values))
    worst = max(med - min(values), max(values) - med)
    if worst == 0:
        return 0.0
    return worst / abs(med) if med else float("inf")


def agrees(values: Sequence[float], within: float = AGREEMENT) -> bool:
    """True when min and max are both within `within` (relative) of the median."""
    return spread(values) <= within + 1e-12


def ratios(values: Sequence[float], baseline: Sequence[float]) -> list[float]:
    """Each repetition's value over the baseline of the same repetition (pairs in order)."""
    if len(values) != len(baseline):
        raise ValueError(f"{len(values)} values but {len(baseline)} baseline values: pair them by repetition")
    return [v / b if b else float("nan") for v, b in zip(values, baseline, strict=True)]


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation between closest ranks."""
    if not samples:
        raise ValueError("percentile of no samples")
    if not 0 <= q <= 100:
        raise ValueError("q must be within 0..100")
    s = sorted(samples)
    pos = (len(s) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)
