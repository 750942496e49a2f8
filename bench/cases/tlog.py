"""(h) The transparency log stage on its own: the N canonical records pre-loaded, then the stage (built by
`bootstrap.transparency_log`, as `simpul transparency run --once`) appends a leaf per event to a fresh SQLite store,
signs checkpoints every `tlog_checkpoint_events` leaves or seconds and publishes a receipt per event.

Run in `python -m bench.worker tlog`, which times the stage's steps: leaves/s from its first non-empty batch to the
end of its last checkpoint (start-up and the group join excluded), and the seconds spent consuming, computing leaves
(Avro decode, canonical JSON, SHA-256), inserting leaves, committing offsets, and in checkpoints (of which storing
them with their receipts, and publishing the receipts).
"""

from __future__ import annotations

from bench import env
from bench.cases import Context, last_json, preload
from topics.catalog import topic_names


def run(ctx: Context, rep: int) -> dict[str, float]:
    with env.fresh_prefix(ctx.settings, "tlog") as s:
        topics = topic_names(s.topic_prefix)
        preload(s, [(topics.events(fam).name, k, v, t) for fam, k, v, t, _ in ctx.records.canonical])
        store = ctx.workdir / f"tlog-{rep}.sqlite"
        child = env.spawn(f"tlog-{rep}", ["-m", "bench.worker", "tlog", "--store-url", f"sqlite:///{store}"],
                          env.child_env(s, SIMPUL_STATE_DIR=str(ctx.workdir / f"tlog-{rep}")), ctx.workdir)
        if child.wait(1800) != 0:
            raise RuntimeError(f"the transparency stage failed:\n{child.output()[-3000:]}")
        out = last_json(child.output())
        if out["appended"] != len(ctx.records):
            raise RuntimeError(f"the transparency stage appended {out['appended']} of {len(ctx.records)} events")
        return {**{k: float(v) for k, v in out.items()}, "peak_rss_mb": child.peak_rss_mb or 0.0}
