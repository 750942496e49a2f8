"""The alerts processor (Faust) on one worker: the canonical events pre-loaded, then `simpul streams run alerts`
evaluates the rules of streams/rules.yaml on them.

Measured as case g (`bench.cases.aggregates.catch_up`): from the first committed input offset until every canonical
record and every repartitioned message is committed, with the worker's CPU time per record over the same span.
A replay of a year runs through it too, so its catch-up rate bounds the replay as the aggregates' does.
"""

from __future__ import annotations

from bench.cases import Context
from bench.cases.aggregates import catch_up
from streams.alerts.app import REPARTITIONS


def run(ctx: Context, rep: int) -> dict[str, float]:
    return catch_up(ctx, rep, "alerts", "subjects-repartition", REPARTITIONS, "alr")
