"""(a) The raw baseline: a confluent-kafka consume-to-produce passthrough of the same record bytes on the same broker.

The passthrough needs far less CPU per record than the cases it divides, so N records would be a
fraction of a second of work and swing with every scheduler hiccup: the records are loaded `rounds` times, so
that it passes at least MIN_RECORDS (the rate is still records/s of the same bytes).
"""

from __future__ import annotations

from confluent_kafka.admin import AdminClient, NewTopic

from bench import env
from bench.cases import Context, last_json, preload

PARTITIONS = 6
MIN_RECORDS = 500_000


def rounds(n: int, at_least: int = MIN_RECORDS) -> int:
    """How many copies of the N records make at least `at_least` (MIN_RECORDS for the passthrough)."""
    return max(1, -(-at_least // max(n, 1)))


def run(ctx: Context, rep: int) -> dict[str, float]:
    prefix = env.new_prefix("raw")
    source, sink = f"{prefix}.raw.in", f"{prefix}.raw.out"
    admin = AdminClient(ctx.settings.kafka.librdkafka())
    for fut in admin.create_topics([NewTopic(t, PARTITIONS, 1) for t in (source, sink)]).values():
        fut.result()
    try:
        copies = rounds(len(ctx.records))
        preload(ctx.settings, [(source, k, v, t) for _, k, v, t in ctx.records.ingress] * copies)
        child = env.spawn(f"raw-{rep}", ["-m", "bench.worker", "raw", "--bootstrap", ctx.settings.kafka.bootstrap,
                                         "--source", source, "--sink", sink,
                                         "--count", str(len(ctx.records) * copies)],
                          env.child_env(ctx.settings), ctx.workdir)
        if child.wait(900) != 0:
            raise RuntimeError(f"raw passthrough failed:\n{child.output()[-3000:]}")
        out = last_json(child.output())
        return {"rate": out["rate"], "seconds": out["seconds"], "records": float(out["records"]),
                "peak_rss_mb": child.peak_rss_mb or 0.0}
    finally:
        env.delete_later(ctx.settings, prefix)
