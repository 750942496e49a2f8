"""(g) The aggregates processor (Faust) on one worker: the canonical events pre-loaded, then
`simpul streams run aggregates` folds them into the windowed tables.

A replay of a year runs through it as well as through the gatekeeper, so its catch-up rate bounds the replay. The
rate counts from the first committed input offset until the worker has committed every canonical record and every
observation it repartitioned (its consumer group's committed offsets, sampled every 250 ms; Faust commits every
second), so start-up, table recovery and the group join are excluded.
"""

from __future__ import annotations

from confluent_kafka import Consumer, TopicPartition

from bench import env
from bench.cases import Context, preload
from schemas.catalog import FAMILIES
from streams.aggregates.app import REPARTITIONS
from topics.catalog import topic_names

MAX_RECORDS = 100_000  # a slow version would need most of an hour per repetition for more


def run(ctx: Context, rep: int) -> dict[str, float]:
    items = [(fam, k, v, t) for fam, k, v, t, _ in ctx.records.canonical][:MAX_RECORDS]
    with env.fresh_prefix(ctx.settings, "agg") as s:
        topics = topic_names(s.topic_prefix)
        canonical = [TopicPartition(topics.events(f).name, p) for f in FAMILIES
                     for p in range(topics.events(f).partitions)]
        preload(s, [(topics.events(fam).name, k, v, t) for fam, k, v, t in items])
        group = f"{s.topic_prefix}-aggregates"
        repartition = [TopicPartition(f"{group}-observations-repartition", p) for p in range(REPARTITIONS)]
        child = env.spawn(f"aggregates-{rep}", ["-m", "simpul", "streams", "run", "aggregates", "--loglevel", "warning"],
                          env.child_env(s, SIMPUL_STATE_DIR=str(ctx.workdir / f"aggregates-{rep}")), ctx.workdir)
        watcher = Consumer(s.kafka.librdkafka(**{"group.id": group, "enable.auto.commit": False}))
        try:
            rate = _rate(child, watcher, canonical, repartition, len(items))
            hwm = child.vm_hwm_mb()
        finally:
            watcher.close()
            child.stop()
        return {"rate": rate, "records": float(len(items)), "peak_rss_mb": child.peak_rss_mb or hwm or 0.0}


def _committed(watcher: Consumer, tps: list[TopicPartition]) -> int:
    return sum(max(tp.offset, 0) for tp in watcher.committed(tps, timeout=30))


def _rate(child: env.Child, watcher: Consumer, canonical: list[TopicPartition], repartition: list[TopicPartition],
          n: int) -> float:
    def repartitioned_all() -> bool:
        ends = sum(watcher.get_watermark_offsets(tp, timeout=30)[1] for tp in repartition)
        return _committed(watcher, repartition) >= ends

    return env.catch_up_rate(lambda: _committed(watcher, canonical), n, [child], "aggregates worker",
                             finished=repartitioned_all, timeout=3600, interval=0.25)
