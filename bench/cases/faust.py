"""(faust) The floor of a Faust stage on one worker: `bench.faust_floor` over the pre-loaded canonical events, once
taking them in batches and doing nothing (`batches`), one event at a time doing nothing (`events`), and one at a
time writing one table entry each (`table`).

Measured as case g (`bench.cases.aggregates.catch_up`). No Simpul stage on Faust can be faster than `batches`; the
aggregates stage writes ~1.2 window keys a record on the bench's traffic, so `table` is near its ceiling. Their
ratios to the gatekeeper of the same repetition say whether a bound on a Faust stage can be met on Faust at all.
"""

from __future__ import annotations

from bench.cases import Context
from bench.cases.aggregates import catch_up
from bench.faust_floor import MODES, processor


def run(ctx: Context, rep: int) -> dict[str, dict[str, float]]:
    return {mode: catch_up(ctx, rep, processor(mode), None, 0, f"ff{mode[0]}",
                           command=["-m", "bench.faust_floor", mode]) for mode in MODES}

