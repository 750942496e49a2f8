"""(l) End-to-end latency at the province's rates: produce to canonical topic, and produce to stored row.

One gatekeeper and one store sink (into a fresh SQLite file, its poll timeout the live setting SINK_POLL_TIMEOUT_S)
run as they do in the pipeline, on a fresh prefix, with nothing pre-loaded: they join their groups on empty topics.
A warm-up of WARMUP events (not counted) goes through both, then the events are produced at fixed rates, RATES (200
and 2,000 events/s; the province averages ~30), for SECONDS each, by one producer with the SDK's settings, spread
over the 105 ingress partitions as the regencies' traffic is. Every event is a copy of a planned one with a fresh event id written over the Avro body's first field.

Per event, all on this host's wall clock (`time.time()`), t0 being just before `produce()` of the ingress record:
* `ack`: the broker acknowledged the ingress write (the producer's delivery report, served by a thread that polls
  every 5 ms);
* `gatekeeper`: the gatekeeper's `produce()` of the canonical record (the record's CreateTime, set by the
  gatekeeper's client at `produce()`; millisecond resolution);
* the headline, `p50_ms`/`p99_ms`: a consumer in this process, assigned to the end of every canonical partition
  before the first send (a fetch waits for 1 byte or 10 ms), reads the canonical record: an upper bound on
  "produce to canonical topic" by at most the fetch wait;
* `store`: the event's row is visible to a reader of the store (a second connection polling every table for new
  rowids every 10 ms): the sink's transaction has committed. An upper bound by at most the 10 ms poll; the row's own
  `stored_at` (the time the sink decoded the batch, before its transaction) is reported as `folded`.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka import OFFSET_END, Consumer, KafkaError, Message, Producer, TopicPartition

from bench import env
from bench.cases import Context, producer, wait_until
from bench.cases.sink import with_fresh_id
from bench.records import EVENT_TYPE_HEADER
from bench.stats import percentile
from schemas.catalog import FAMILIES
from schemas.codec import HEADER_SIZE
from schemas.outcomes import Header
from simpul.settings import Settings
from topics.catalog import topic_names

RATES = (200, 2000)
SECONDS = 20.0  # per rate; --quick: 5
WARMUP = 200
POLL_S = 0.010  # the store reader's poll interval
HOPS = ("ack", "gatekeeper", "canonical", "folded", "store")
# the live sink's SIMPUL_SINK_POLL_TIMEOUT_S: consume(batch, timeout) returns before the timeout only with a full
# batch, so at live rates every row waits out the timeout (1 s by default, made for draining a backlog)
SINK_POLL_TIMEOUT_S: float | None = 0.1

Item = tuple[str, bytes, bytes, str, str]  # ingress topic, key, value, event type, event id


class Probe:
    """Where each event has got to: canonical receipt (a consumer thread) and stored row (a store reader thread)."""

    def __init__(self, settings: Settings, canonical: list[str], partitions: int, store: Path) -> None:
        self.sent: dict[str, float] = {}
        self.seen: dict[str, dict[str, float]] = {}  # event id -> hop -> wall clock
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.store = store
        self.consumer = Consumer(settings.kafka.librdkafka(**{
            "group.id": f"bench-lat-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False,
            "fetch.wait.max.ms": 10, "fetch.min.bytes": 1}))
        self.consumer.assign([TopicPartition(t, p, OFFSET_END) for t in canonical for p in range(partitions)])
        self.consumer.consume(100, timeout=1.0)  # establishes the fetch positions at the end
        self.threads = [threading.Thread(target=self._read, daemon=True, name="bench-canonical"),
                        threading.Thread(target=self._poll_store, daemon=True, name="bench-store")]
        for t in self.threads:
            t.start()

    def note(self, event_id: str, hop: str, at: float) -> None:
        with self.lock:
            self.seen.setdefault(event_id, {})[hop] = at

    def count(self, hop: str, ids: list[str]) -> int:
        with self.lock:
            return sum(1 for i in ids if hop in self.seen.get(i, ()))

    def _read(self) -> None:
        while not self.stop.is_set():
            # a short timeout: consume() waits for all 1000 or the timeout, which would be added to every latency
            for m in self.consumer.consume(1000, timeout=0.005):
                if m.error() is not None:
                    continue
                at = time.time()
                eid = dict(m.headers() or ()).get(Header.EVENT_ID)
                if eid:
                    with self.lock:
                        hops = self.seen.setdefault(eid.decode(), {})
                        hops["canonical"] = at
                        hops["gatekeeper"] = m.timestamp()[1] / 1000

    def _poll_store(self) -> None:
        while not self.store.exists() and not self.stop.is_set():
            time.sleep(0.1)
        conn = sqlite3.connect(f"file:{self.store}?mode=ro", uri=True, timeout=5)
        last = {f: 0 for f in FAMILIES}
        try:
            while not self.stop.is_set():
                for family in FAMILIES:
                    try:
                        rows = conn.execute(f"SELECT rowid, event_id, stored_at FROM events_{family} "  # noqa: S608
                                            "WHERE rowid > ? ORDER BY rowid", (last[family],)).fetchall()
                    except sqlite3.OperationalError:  # the sink has not created its tables yet
                        rows = []
                    if rows:
                        at = time.time()
                        with self.lock:
                            for rowid, eid, stored_at in rows:
                                hops = self.seen.setdefault(eid, {})
                                hops["store"] = at
                                hops["folded"] = datetime.fromisoformat(stored_at).replace(tzinfo=UTC).timestamp()
                        last[family] = rows[-1][0]
                time.sleep(POLL_S)
        finally:
            conn.close()

    def close(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(10)
        self.consumer.close()


def _items(ctx: Context, s: Settings, count: int) -> list[Item]:
    """`count` copies of the planned events (cycled), each with a fresh event id, encoded now (not while timed)."""
    topics = topic_names(s.topic_prefix)
    out = []
    ingress = ctx.records.ingress
    for i in range(count):
        regency, key, value, event_type = ingress[i % len(ingress)]
        fresh = with_fresh_id(value)
        out.append((topics.ingress(regency).name, key, fresh, event_type, fresh[HEADER_SIZE + 1:HEADER_SIZE + 37].decode()))
    return out


def send(p: Producer, probe: Probe, items: list[Item], rate: float) -> float:
    """Produce `items` at `rate` per second (paced in groups of one 5 ms's worth) with the case's one producer (long
    lived, as a regency's is: no phase pays for its start); returns the seconds it took."""
    stop = threading.Event()

    def serve() -> None:  # delivery reports as they come, not when the pacing loop next wakes
        while not stop.is_set():
            p.poll(0.005)

    def acked(event_id: str) -> Callable[[KafkaError | None, Message], None]:
        def done(err: KafkaError | None, _msg: Message) -> None:
            if err is None:
                probe.note(event_id, "ack", time.time())
        return done

    server = threading.Thread(target=serve, daemon=True, name="bench-acks")
    server.start()
    group = max(1, int(rate / 200))
    start = time.monotonic()
    try:
        for i, (topic, key, value, event_type, event_id) in enumerate(items):
            if i % group == 0:
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            probe.sent[event_id] = time.time()
            p.produce(topic, value=value, key=key, headers=[(EVENT_TYPE_HEADER, event_type.encode())],
                      on_delivery=acked(event_id))
        elapsed = time.monotonic() - start
        if p.flush(60):
            raise RuntimeError("latency: ingress records not acknowledged within 60 s")
    finally:
        stop.set()
        server.join(5)
    return elapsed


def figures(sent: dict[str, float], seen: dict[str, dict[str, float]], ids: list[str]) -> dict[str, float]:
    """p50/p99/max (ms) of every hop of `ids` from its send: the headline `p50_ms`/`p99_ms` is the canonical receipt,
    `store_*` the stored row, the others `<hop>_p50_ms`/`<hop>_p99_ms`; an event never seen at a hop is left out of
    that hop's figures (the phase fails when more than 1% are missing)."""
    out: dict[str, float] = {}
    for hop in HOPS:
        ms = [(seen[i][hop] - sent[i]) * 1000 for i in ids if hop in seen.get(i, ())]
        if not ms:
            continue
        name = "" if hop == "canonical" else f"{hop}_"
        out[f"{name}p50_ms"] = percentile(ms, 50)
        out[f"{name}p99_ms"] = percentile(ms, 99)
        out[f"{name}max_ms"] = max(ms)
    return out


def phase(ctx: Context, s: Settings, p: Producer, probe: Probe, meters: dict[str, int | None], rate: float,
          children: list[env.Child], trace: Path) -> dict[str, float]:
    seconds = 5.0 if ctx.quick else SECONDS
    items = _items(ctx, s, max(1, int(rate * seconds)))
    ids = [i[4] for i in items]
    cpu = env.CpuMeters(meters)
    elapsed = send(p, probe, items, rate)
    cores = cpu.cores()  # over the send phase (and the flush): where the host's two cores went
    load = _load()
    try:
        wait_until(lambda: probe.count("store", ids) >= len(ids) and probe.count("canonical", ids) >= len(ids),
                   60, f"latency at {rate:,.0f}/s: every event stored")
    except TimeoutError:
        for c in children:
            if not c.alive():
                raise RuntimeError(f"{c.name} exited during the latency run:\n{c.output()[-3000:]}") from None
        seen, stored = probe.count("canonical", ids), probe.count("store", ids)
        if min(seen, stored) < 0.99 * len(ids):
            raise RuntimeError(f"latency at {rate:,.0f}/s: {seen} canonical and {stored} stored of {len(ids)}") from None
    with probe.lock:
        hops = figures(probe.sent, probe.seen, ids)
        _trace(trace, probe.sent, probe.seen, ids)
    return {"rate": rate, "sent_rate": len(ids) / elapsed, "events": float(len(ids)), **hops,
            **cores, "load_average": load}


def _trace(path: Path, sent: dict[str, float], seen: dict[str, dict[str, float]], ids: list[str]) -> None:
    """Every event's hops in ms from its send, in send order (kept with --keep): where a slow event waited."""
    with path.open("w") as out:
        out.write("sent_s," + ",".join(f"{h}_ms" for h in HOPS) + "\n")
        t0 = sent[ids[0]]
        for i in ids:
            hops = seen.get(i, {})
            out.write(f"{sent[i] - t0:.4f}," + ",".join(f"{(hops[h] - sent[i]) * 1000:.1f}" if h in hops else ""
                                                      for h in HOPS) + "\n")


def _load() -> float:
    return os.getloadavg()[0]


def run(ctx: Context, rep: int) -> dict[str, dict[str, float]]:
    with env.fresh_prefix(ctx.settings, "lat") as s:
        topics = topic_names(s.topic_prefix)
        canonical = [topics.events(f).name for f in FAMILIES]
        partitions = topics.events(FAMILIES[0]).partitions
        store = (ctx.workdir / f"latency-store-{rep}.sqlite").resolve()
        child_env = env.child_env(s, SIMPUL_STATE_DIR=str(ctx.workdir / f"latency-{rep}"))
        if SINK_POLL_TIMEOUT_S is not None:
            child_env["SIMPUL_SINK_POLL_TIMEOUT_S"] = str(SINK_POLL_TIMEOUT_S)
        gatekeeper = env.spawn(f"latency-gatekeeper-{rep}", ["-m", "simpul", "streams", "run", "gatekeeper",
                                                             "--loglevel", "warning"], child_env, ctx.workdir)
        sink = env.spawn(f"latency-sink-{rep}", ["-m", "simpul", "sink", "store", "--store-url", f"sqlite:///{store}",
                                                 "--group", f"bench-lat-{uuid.uuid4().hex[:8]}"],
                         child_env, ctx.workdir)
        children = [gatekeeper, sink]
        probe: Probe | None = None
        try:
            probe = Probe(s, canonical, partitions, store)
            p = producer(s, **{"client.id": "bench-latency"})
            warm = _items(ctx, s, WARMUP)  # the groups join, the store is migrated, every connection is open
            send(p, probe, warm, 100.0)
            count, warm_ids = probe.count, [i[4] for i in warm]
            wait_until(lambda: count("store", warm_ids) >= WARMUP * 0.99, 180,
                       "the warm-up events stored (gatekeeper and sink started)", interval=0.25)
            meters = {"broker_cores": env.broker_pid(ctx.settings), "gatekeeper_cores": gatekeeper.pid,
                      "sink_cores": sink.pid, "load_cores": os.getpid()}
            out = {str(rate): phase(ctx, s, p, probe, meters, float(rate), children,
                                    ctx.workdir / f"latency-{rep}-{rate}.csv") for rate in RATES}
            for c in children:
                if not c.alive():
                    raise RuntimeError(f"{c.name} exited during the latency run:\n{c.output()[-3000:]}")
            return out
        finally:
            if probe is not None:
                probe.close()
            for c in children:
                c.stop()
