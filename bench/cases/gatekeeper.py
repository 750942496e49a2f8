"""(d) The gatekeeper on one worker: catch-up throughput, then end-to-end latency at half that rate.

Throughput: the N records are pre-loaded onto the ingress topics, then `simpul streams run gatekeeper` starts; the
sum of the canonical topics' end offsets is sampled every 100 ms. The rate is counted from the first sample that
shows output (start-up and recovery excluded) until all N are there.

Latency: with the same worker still running, fresh copies of the events (new event ids, encoded beforehand) are
produced at half the throughput just measured, for about 20 s. A consumer in the bench process, assigned to the end
of every canonical partition before the first send, reads each canonical record; latency = wall clock at receipt
minus wall clock just before `produce()` of the ingress record with the same event id (same host, same clock).
It includes the broker's ack of the ingress write, the gatekeeper, the canonical write and the consumer's fetch
(up to 20 ms: a fetch waits for 64 KiB or 20 ms, so that the measuring consumer does not load the broker with empty
fetches), so it is an upper bound on "produce to canonical topic". `to_gatekeeper_*` is the part up to the
gatekeeper's `produce()` of the canonical record (its CreateTime): what is left is the canonical write and fetch.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

from confluent_kafka import OFFSET_END, Consumer, TopicPartition

from bench import env
from bench.cases import Context, preload, producer
from bench.records import EVENT_TYPE_HEADER
from bench.stats import percentile
from schemas.catalog import FAMILIES
from schemas.codec import AvroCodec
from schemas.outcomes import Header
from topics.catalog import topic_names

LATENCY_SECONDS = 20.0


def run(ctx: Context, rep: int) -> dict[str, float]:
    n = len(ctx.records)
    with env.fresh_prefix(ctx.settings, "gk") as s:
        topics = topic_names(s.topic_prefix)
        canonical = [topics.events(f).name for f in FAMILIES]
        partitions = topics.events(FAMILIES[0]).partitions
        preload(s, [(topics.ingress(reg).name, k, v, t) for reg, k, v, t in ctx.records.ingress])
        latency_batch = _latency_records(ctx, s)
        state = ctx.workdir / f"gatekeeper-{rep}"
        children = [env.spawn(f"gatekeeper-{rep}-{i}", ["-m", "simpul", "streams", "run", "gatekeeper", "--instance",
                                                          str(i), "--loglevel", "warning"],
                              env.child_env(s, SIMPUL_STATE_DIR=str(state)), ctx.workdir)
                    for i in range(ctx.gatekeeper_workers)]
        try:
            meters = {"catchup_gatekeeper_cores": children[0].pid if len(children) == 1 else None,
                      "catchup_broker_cores": env.broker_pid(ctx.settings)}
            cpu0 = env.CpuMeters(meters)  # from the first record out, as in case d+h, to compare the two
            rate = env.catch_up_rate(lambda: env.end_offsets(s, canonical, partitions), n, children, "gatekeeper",
                                     on_first=cpu0.start)
            catchup = cpu0.cores()
            ctx.gatekeeper_rates.append(rate)
            lat = _latency(ctx, s, children, canonical, partitions, latency_batch, ctx.latency_rate or rate / 2)
            hwm = [c.vm_hwm_mb() for c in children]
        finally:
            for c in children:
                c.stop()
        peak = max((c.peak_rss_mb or h or 0.0) for c, h in zip(children, hwm, strict=True))
        return {"rate": rate, **catchup, **lat, "workers": float(len(children)), "peak_rss_mb": peak}


def _latency_records(ctx: Context, s) -> list[tuple[str, bytes, bytes, str, str]]:  # type: ignore[no-untyped-def]
    """Copies of the events with new ids, encoded now (not during the timed run)."""
    codec = AvroCodec.from_url(s.registry)
    topics = topic_names(s.topic_prefix)
    out = []
    for r in ctx.records.planned:
        e = r.event.model_copy(update={"event_id": uuid.uuid4()})
        out.append((topics.ingress(r.ingress).name, r.key, codec.encode(e), r.event_type, str(e.event_id)))
    return out


def _latency(ctx: Context, s, children: list[env.Child], canonical: list[str], partitions: int, batch, rate: float) -> dict[str, float]:  # type: ignore[no-untyped-def]
    seconds = 5.0 if ctx.quick else LATENCY_SECONDS
    count = min(len(batch), max(1, int(rate * seconds)))
    batch = batch[:count]
    sent: dict[str, float] = {}
    latencies: list[float] = []
    to_gatekeeper: list[float] = []  # send -> the gatekeeper's produce() of the canonical record (its CreateTime)
    consumer = Consumer(s.kafka.librdkafka(**{"group.id": f"bench-lat-{uuid.uuid4().hex[:8]}",
                                              "enable.auto.commit": False, "fetch.wait.max.ms": 20,
                                              "fetch.min.bytes": 65_536}))
    consumer.assign([TopicPartition(t, p, OFFSET_END) for t in canonical for p in range(partitions)])
    ready = threading.Event()
    done = threading.Event()

    def read() -> None:
        consumer.consume(100, timeout=0.5)  # establishes the fetch positions at the end
        ready.set()
        got = 0
        deadline = None
        while got < count:
            if done.is_set():
                deadline = deadline or time.monotonic() + 30
                if time.monotonic() > deadline:
                    break
            # a short timeout: librdkafka's consume() waits for all 1000 or the timeout, which would add up to
            # the timeout to every latency measured
            for m in consumer.consume(1000, timeout=0.005):
                if m.error() is not None:
                    continue
                at = time.time()
                eid = dict(m.headers() or ()).get(Header.EVENT_ID)
                t = sent.get(eid.decode()) if eid else None
                if t is not None:
                    latencies.append(at - t)
                    to_gatekeeper.append(m.timestamp()[1] / 1000 - t)
                    got += 1

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    ready.wait(30)
    time.sleep(1.0)
    p = producer(s)
    meters = {"latency_broker_cores": env.broker_pid(ctx.settings),
              "latency_gatekeeper_cores": children[0].pid if len(children) == 1 else None,
              "latency_load_cores": os.getpid()}  # this process: the load generator and the reader
    cpu0 = {k: env.cpu_seconds(pid) for k, pid in meters.items() if pid is not None}
    start = time.monotonic()
    group = max(10, int(rate / 200))  # paced in groups sent every ~5 ms: few wake-ups on a machine the worker shares
    for i, (topic, key, value, event_type, event_id) in enumerate(batch):
        if i % group == 0:
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            p.poll(0)
        sent[event_id] = time.time()
        p.produce(topic, value=value, key=key, headers=[(EVENT_TYPE_HEADER, event_type.encode())])
    p.flush(60)
    # CPU of the broker and the worker while the load ran: where the host's two cores went
    cores = {k: (env.cpu_seconds(meters[k]) - v) / (time.monotonic() - start) for k, v in cpu0.items()}  # type: ignore[arg-type]
    done.set()
    reader.join(60)
    consumer.close()
    for child in children:
        if not child.alive():
            raise RuntimeError(f"a gatekeeper exited during the latency run:\n{child.output()[-3000:]}")
    if len(latencies) < 0.99 * count:
        raise RuntimeError(f"latency: only {len(latencies)} of {count} canonical records seen")
    ms = [x * 1000 for x in latencies]
    gk = [x * 1000 for x in to_gatekeeper]
    return {"latency_rate": rate, "latency_records": float(count), "p50_ms": percentile(ms, 50),
            "p99_ms": percentile(ms, 99), "max_ms": max(ms),
            "to_gatekeeper_p50_ms": percentile(gk, 50), "to_gatekeeper_p99_ms": percentile(gk, 99), **cores}
