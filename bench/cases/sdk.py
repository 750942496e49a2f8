"""(b) SDK ingest: the planned events through `send_sdk` (35 RegencyProducers on one shared Kafka client), in a process of its own."""

from __future__ import annotations

from bench import env
from bench.cases import Context, last_json


def run(ctx: Context, rep: int) -> dict[str, float]:
    with env.fresh_prefix(ctx.settings, "sdk") as s:
        child = env.spawn(f"sdk-{rep}", ["-m", "bench.worker", "sdk", "--records", str(ctx.records_file),
                                         "--bootstrap", s.kafka.bootstrap, "--registry", s.registry,
                                         "--prefix", s.topic_prefix], env.child_env(s), ctx.workdir)
        if child.wait(900) != 0:
            raise RuntimeError(f"SDK ingest failed:\n{child.output()[-3000:]}")
        out = last_json(child.output())
        if out["records"] != len(ctx.records):
            raise RuntimeError(f"SDK delivered {out['records']} of {len(ctx.records)}")
        return {"rate": out["rate"], "seconds": out["seconds"], "peak_rss_mb": child.peak_rss_mb or 0.0}
