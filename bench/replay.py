"""The replay figure: how long a year of the province's events takes through gatekeeper, aggregates, alerts and the
store, from the catch-up rates `make bench` measured in the same run (medians). Stages run side by side on their own
topics, so a replay takes as long as its slowest stage: one worker each, and with the scale-out that
docs/performance.md ("Scaling out") recommends for a replay, assuming each added worker brings its own core and the
brokers keep up (the 2-core bench host cannot show that: docs/performance.md says how far it held there).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

EVENTS_PER_SECOND = 30.0
"""The province's average rate: ~2 M events a day by the bottom-up estimate in docs/performance.md ("Capacity for
the province": service requests and completions, health visits, complaints, prices, readings, tourism, aid),
rounded up to the ~30 events/s the ops figures show."""
YEAR_EVENTS = EVENTS_PER_SECOND * 86_400 * 365  # ≈ 946 M

SCALE_OUT: Mapping[str, int] = {"gatekeeper": 8, "aggregates": 36, "alerts": 12, "store": 6}
"""Workers per stage for a replay, each bounded by its input's partitions (ingress 105, canonical 36 per family):
the aggregates, slowest per worker, get one worker per canonical partition."""

STAGES: Mapping[str, tuple[str, ...]] = {
    "gatekeeper": ("gatekeeper", "throughput"), "aggregates": ("aggregates", "throughput"),
    "alerts": ("alerts", "throughput"), "store": ("store_records", "throughput")}
"""Where each stage's catch-up rate (records/s, median) is in the bench metrics."""


def replay(metrics: Mapping[str, Any]) -> dict[str, Any] | None:
    """Hours to replay YEAR_EVENTS with one worker per stage and with SCALE_OUT; None unless every stage was
    measured in this run."""
    rates: dict[str, float] = {}
    for stage, path in STAGES.items():
        node: Any = metrics
        for part in path:
            if not isinstance(node, Mapping) or part not in node:
                return None
            node = node[part]
        rates[stage] = float(node["median"])
    if min(rates.values()) <= 0:
        return None
    slowest = min(rates, key=rates.__getitem__)
    scaled = {stage: rate * SCALE_OUT[stage] for stage, rate in rates.items()}
    slowest_scaled = min(scaled, key=scaled.__getitem__)
    return {"year_events": YEAR_EVENTS, "rates": rates, "slowest": slowest,
            "hours_one_worker": YEAR_EVENTS / rates[slowest] / 3600,
            "scale_out": dict(SCALE_OUT), "slowest_scaled": slowest_scaled,
            "hours_scaled": YEAR_EVENTS / scaled[slowest_scaled] / 3600}
