"""(g) The aggregates processor (Faust) on one worker: the canonical events pre-loaded, then
`simpul streams run aggregates` folds them into the windowed tables.

A replay of a year runs through it as well as through the gatekeeper, so its catch-up rate bounds the replay. The
rate counts from the first committed input offset until the worker has committed every canonical record and every
message it repartitioned (its consumer group's committed offsets, sampled every 250 ms; Faust commits every
second), so start-up, table recovery and the group join are excluded. Over the same span the worker's CPU time
per record is measured (`cpu_us_per_record`): on a host shared with other work the rate follows the load, the CPU
per record much less.
"""

from __future__ import annotations

import os

from confluent_kafka import Consumer, TopicPartition

from bench import env
from bench.cases import Context, preload
from schemas.catalog import FAMILIES
from streams.aggregates.app import REPARTITIONS
from topics.catalog import topic_names

MAX_RECORDS = 100_000  # a slow version would need most of an hour per repetition for more


def run(ctx: Context, rep: int) -> dict[str, float]:
    return catch_up(ctx, rep, "aggregates", "observations-repartition", REPARTITIONS, "agg")


def catch_up(ctx: Context, rep: int, processor: str, repartition: str | None, partitions: int, tag: str,
             command: list[str] | None = None) -> dict[str, float]:
    """One Faust stage (`simpul streams run <processor>`, or `command`) catching up on the pre-loaded canonical
    events; its repartition topic is `<group>-<repartition>` with `partitions` partitions (None: it has none)."""
    items = [(fam, k, v, t) for fam, k, v, t, _ in ctx.records.canonical][:MAX_RECORDS]
    with env.fresh_prefix(ctx.settings, tag) as s:
        topics = topic_names(s.topic_prefix)
        canonical = [TopicPartition(topics.events(f).name, p) for f in FAMILIES
                     for p in range(topics.events(f).partitions)]
        preload(s, [(topics.events(fam).name, k, v, t) for fam, k, v, t in items])
        group = f"{s.topic_prefix}-{processor}"
        internal = [TopicPartition(f"{group}-{repartition}", p) for p in range(partitions)] if repartition else []
        child = env.spawn(f"{processor}-{rep}",
                          command or ["-m", "simpul", "streams", "run", processor, "--loglevel", "warning"],
                          env.child_env(s, SIMPUL_STATE_DIR=str(ctx.workdir / f"{processor}-{rep}")), ctx.workdir)
        watcher = Consumer(s.kafka.librdkafka(**{"group.id": group, "enable.auto.commit": False}))
        try:
            result = _rate(child, watcher, canonical, internal, len(items), processor)
            hwm = child.vm_hwm_mb()
        finally:
            watcher.close()
            child.stop()
        crashed = child.output()
        if "Crashed reason=" in crashed:  # Faust goes on committing a crashed agent's input: the rate would be void
            raise RuntimeError(f"an agent of the {processor} worker crashed:\n{crashed[-3000:]}")
        return {**result, "records": float(len(items)), "peak_rss_mb": child.peak_rss_mb or hwm or 0.0,
                "load_average": os.getloadavg()[0]}


def _committed(watcher: Consumer, tps: list[TopicPartition]) -> int:
    return sum(max(tp.offset, 0) for tp in watcher.committed(tps, timeout=30))


def _rate(child: env.Child, watcher: Consumer, canonical: list[TopicPartition], repartition: list[TopicPartition],
          n: int, what: str) -> dict[str, float]:
    seen = {"done": 0}
    start: dict[str, float] = {}

    def progress() -> int:
        seen["done"] = _committed(watcher, canonical)
        return seen["done"]

    def first() -> None:  # the CPU meter starts with the rate's span
        start.update(cpu=env.cpu_seconds(child.pid), done=float(seen["done"]))

    def repartitioned_all() -> bool:
        ends = sum(watcher.get_watermark_offsets(tp, timeout=30)[1] for tp in repartition)
        return _committed(watcher, repartition) >= ends

    rate = env.catch_up_rate(progress, n, [child], f"{what} worker", finished=repartitioned_all, timeout=3600,
                             interval=0.25, on_first=first)
    cpu = env.cpu_seconds(child.pid) - start["cpu"]
    return {"rate": rate, "cpu_us_per_record": cpu / max(n - start["done"], 1.0) * 1e6,
            "cores": cpu / ((n - start["done"]) / rate) if rate > 0 else 0.0}
