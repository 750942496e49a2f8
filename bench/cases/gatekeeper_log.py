"""(d+h) The gatekeeper's catch-up with the transparency log running beside it: what the log costs the gatekeeper.

As case d (the N records pre-loaded on the ingress topics, the rate counted from the first canonical record out
until all N are out), but `simpul transparency run` is started first, on the same prefix and a fresh SQLite store,
and the gatekeeper only once the log's consumer group is stable (assigned every canonical partition): a
production pipeline, where the log reads each canonical record as the gatekeeper writes it, signs a checkpoint
every few seconds and publishes a receipt per event. The log is not in the gatekeeper's path; what it costs is the
CPU and broker work it takes from the same two cores. The bench divides this rate by case d's rate of the same
repetition (`gatekeeper_with_log`). The CPU of the gatekeeper, the log and the broker during the catch-up is
reported, and how far the log was behind when the gatekeeper finished (records, and seconds until it had
committed all N). `--log-nice N` runs the log at niceness N (a lower CPU priority), the deployment
recommendation when it shares cores with the gatekeeper; the result and the bound's line then say so.
"""

from __future__ import annotations

import time

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from bench import env
from bench.cases import Context, preload, wait_until
from schemas.catalog import FAMILIES
from simpul.settings import Settings
from topics.catalog import topic_names
from transparency.stage import group_id


def run(ctx: Context, rep: int) -> dict[str, float]:
    n = len(ctx.records)
    with env.fresh_prefix(ctx.settings, "gkl") as s:
        topics = topic_names(s.topic_prefix)
        canonical = [topics.events(f).name for f in FAMILIES]
        partitions = topics.events(FAMILIES[0]).partitions
        preload(s, [(topics.ingress(reg).name, k, v, t) for reg, k, v, t in ctx.records.ingress])
        store = ctx.workdir / f"gatekeeper-log-{rep}.sqlite"
        log_child = env.spawn(f"gatekeeper-log-{rep}-tlog",
                              ["-m", "simpul", "transparency", "run", "--store-url", f"sqlite:///{store}",
                               "--loglevel", "warning"],
                              env.child_env(s, SIMPUL_STATE_DIR=str(ctx.workdir / f"gatekeeper-log-{rep}-tlog"),
                                            SIMPUL_TLOG_NICE=str(ctx.log_nice)),  # the stage renices itself
                              ctx.workdir)
        watcher = Consumer(s.kafka.librdkafka(**{"group.id": group_id(s.topic_prefix), "enable.auto.commit": False}))
        tps = [TopicPartition(t, p) for t in canonical for p in range(partitions)]
        try:
            _wait_stable(s, group_id(s.topic_prefix), log_child)
            gk = env.spawn(f"gatekeeper-log-{rep}-gk", ["-m", "simpul", "streams", "run", "gatekeeper", "--loglevel",
                                                        "warning"],
                           env.child_env(s, SIMPUL_STATE_DIR=str(ctx.workdir / f"gatekeeper-log-{rep}-gk")),
                           ctx.workdir)
            try:
                cpu = env.CpuMeters({"gatekeeper_cores": gk.pid, "log_cores": log_child.pid,
                                     "broker_cores": env.broker_pid(ctx.settings)})
                rate = env.catch_up_rate(lambda: env.end_offsets(s, canonical, partitions), n, [gk, log_child],
                                         "gatekeeper (with the log)", on_first=cpu.start)
                cores = cpu.cores()
                finished = time.monotonic()
                lag = n - _committed(watcher, tps)
                env.catch_up_rate(lambda: _committed(watcher, tps), n, [log_child], "transparency log",
                                  timeout=900, interval=0.25) if lag > 0 else None
                behind = time.monotonic() - finished if lag > 0 else 0.0
                gk_hwm, log_hwm = gk.vm_hwm_mb(), log_child.vm_hwm_mb()
            finally:
                gk.stop()
        finally:
            watcher.close()
            log_child.stop()
        return {"rate": rate, **cores, "log_nice": float(ctx.log_nice), "log_lag_at_end": float(lag), "log_behind_s": behind,
                "peak_rss_mb": gk.peak_rss_mb or gk_hwm or 0.0, "log_peak_rss_mb": log_child.peak_rss_mb or log_hwm or 0.0}


def _committed(watcher: Consumer, tps: list[TopicPartition]) -> int:
    return sum(max(tp.offset, 0) for tp in watcher.committed(tps, timeout=30))


def _wait_stable(s: Settings, group: str, child: env.Child, timeout: float = 90.0) -> None:
    """Until the log's consumer group is stable with a member (it has joined and been assigned its partitions)."""
    from confluent_kafka import ConsumerGroupState

    admin = AdminClient(s.kafka.librdkafka())

    def stable() -> bool:
        if not child.alive():
            raise RuntimeError(f"the transparency log exited ({child.returncode}):\n{child.output()[-3000:]}")
        try:
            desc = admin.describe_consumer_groups([group])[group].result(timeout=10)
        except Exception:  # noqa: BLE001 - the group does not exist until the log joins it
            return False
        return desc.state == ConsumerGroupState.STABLE and bool(desc.members) and any(
            m.assignment.topic_partitions for m in desc.members)

    wait_until(stable, timeout, "the transparency log's consumer group is stable", interval=0.5)
