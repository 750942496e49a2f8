"""Shared plumbing of the whole-pipeline tests (fuzz, chaos) and their longer runs under bench/.

One `Pipeline` = one topic prefix, one state folder, one fresh store, and the processes it started (stream
processors and sinks, run as `python -m simpul ...` subprocesses exactly as an operator runs them). Helpers read
the real broker: watermarks, whole topics, a consumer group's committed offsets. Waiting is always on a condition
with a generous deadline (the machine is shared and slow), never on a fixed sleep.

Nothing here is a pytest fixture, so `bench.chaos` and `bench.fuzz` use the same code outside pytest.
"""

from __future__ import annotations

import collections
import os
import signal
import secrets
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from confluent_kafka import Consumer, KafkaException, Message, TopicPartition
from confluent_kafka.admin import AdminClient
from sqlalchemy.engine import make_url

from simpul import bootstrap
from simpul.settings import Settings
from topics.catalog import TopicSet, topic_names

ROOT = Path(__file__).resolve().parents[2]

STREAM_PROCESSORS = ("gatekeeper", "aggregates", "alerts")
SINKS = ("sink-store", "sink-alerts")
WEBHOOK_SECRET = secrets.token_urlsafe(32)  # per run, as an installation would have


# ---- reading the broker ------------------------------------------------------------------------------------------

def consumer(settings: Settings, group: str | None = None) -> Consumer:
    return Consumer(settings.kafka.librdkafka(**{
        "group.id": group or f"harness-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False,
        "auto.offset.reset": "earliest"}))


def partitions(c: Consumer, topics: Iterable[str]) -> list[TopicPartition]:
    md = c.list_topics(timeout=20)
    return [TopicPartition(t, p) for t in topics if t in md.topics for p in md.topics[t].partitions]


def watermarks(settings: Settings, topics: Iterable[str]) -> dict[tuple[str, int], tuple[int, int]]:
    c = consumer(settings)
    try:
        return {(tp.topic, tp.partition): c.get_watermark_offsets(tp, timeout=20) for tp in partitions(c, topics)}
    finally:
        c.close()


def count(settings: Settings, topics: Iterable[str]) -> int:
    """Records on `topics` (high - low watermark, summed)."""
    return sum(high - low for low, high in watermarks(settings, topics).values())


def read_all(settings: Settings, topics: Iterable[str], timeout: float = 300.0) -> list[Message]:
    """Every record on `topics` up to their current end."""
    c = consumer(settings)
    try:
        ends = {k: v for k, v in watermarks(settings, topics).items() if v[1] > v[0]}
        c.assign([TopicPartition(t, p, low) for (t, p), (low, _) in ends.items()])
        out: list[Message] = []
        remaining = {k: high for k, (_, high) in ends.items()}
        deadline = time.monotonic() + timeout
        while remaining and time.monotonic() < deadline:
            for m in c.consume(5000, timeout=1):
                key = (m.topic(), m.partition())
                if m.error() is None and key in remaining:
                    out.append(m)
                    if m.offset() >= remaining[key] - 1:
                        del remaining[key]
        assert not remaining, f"could not read to the end of {sorted(remaining)[:5]} within {timeout:.0f}s"
        return out
    finally:
        c.close()


def committed_total(settings: Settings, group: str, topics: Iterable[str]) -> int:
    """Records of `topics` the group has committed past (what it has finished)."""
    c = consumer(settings, group)
    try:
        tps = partitions(c, topics)
        marks = {(tp.topic, tp.partition): c.get_watermark_offsets(tp, timeout=20) for tp in tps}
        done = 0
        for tp in c.committed(tps, timeout=20):
            low, _ = marks[(tp.topic, tp.partition)]
            if tp.offset >= 0:
                done += max(0, tp.offset - low)
        return done
    finally:
        c.close()


def lag(settings: Settings, group: str, topics: Iterable[str]) -> int:
    """Records of `topics` the group has not committed past yet (0 = caught up)."""
    c = consumer(settings, group)
    try:
        tps = partitions(c, topics)
        total = 0
        for tp in c.committed(tps, timeout=20):
            low, high = c.get_watermark_offsets(tp, timeout=20)
            start = tp.offset if tp.offset >= 0 else low
            total += max(0, high - max(start, low))
        return total
    finally:
        c.close()


def headers(m: Message) -> dict[str, str]:
    return {k: (v or b"").decode(errors="replace") for k, v in (m.headers() or [])}


def delete_topics(settings: Settings, prefix: str) -> None:
    client = AdminClient(settings.kafka.librdkafka())
    doomed = [t for t in client.list_topics(timeout=20).topics if t.startswith((f"{prefix}.", f"{prefix}-"))]
    if doomed:  # best-effort cleanup: ask, do not wait for the controller to finish
        client.delete_topics(doomed, operation_timeout=0)


# ---- waiting -----------------------------------------------------------------------------------------------------

class Deadline(AssertionError):
    pass


def wait_for(what: str, done: Callable[[], bool], timeout: float = 300.0,
             alive: Callable[[], None] | None = None, every: float = 0.5) -> float:
    """Poll `done` until true; `alive` raises if a process we depend on died. Returns the seconds waited."""
    started = time.monotonic()
    deadline = started + timeout
    while True:
        if alive is not None:
            alive()
        try:
            if done():
                return time.monotonic() - started
        except KafkaException as exc:  # a broker restarting or killed: ask again
            print(f"wait_for({what}): {exc}", file=sys.stderr)
        if time.monotonic() > deadline:
            raise Deadline(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


# ---- stores ------------------------------------------------------------------------------------------------------

def create_pg_database(settings: Settings, name: str) -> str:
    base = make_url(settings.postgres_owner)
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def drop_pg_database(settings: Settings, name: str) -> None:
    base = make_url(settings.postgres_owner)
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


# ---- a webhook receiver for the alert dispatch -------------------------------------------------------------------

class Receiver:
    """Answers 200 to every signed alert POST and counts them per alert id."""

    def __init__(self) -> None:
        self.received: collections.Counter[str] = collections.Counter()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.received[self.headers.get("X-Simpul-Alert-Id", "?")] += 1
                try:
                    self.send_response(200)
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:  # the dispatcher was SIGKILLed mid-request
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ---- the pipeline's processes ------------------------------------------------------------------------------------

@dataclass
class Pipeline:
    """One prefix's topics, state folder and store, and the worker subprocesses it runs."""

    base: Settings
    prefix: str
    state: Path
    store_url: str = ""
    webhook: str | None = None
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: list[Path] = field(default_factory=list)
    starts: collections.Counter[str] = field(default_factory=collections.Counter)
    kills: list[tuple[str, float]] = field(default_factory=list)
    replication: int = 1
    broker_killer: Callable[[], str] | None = None  # SIGKILLs one Kafka broker, returns what it killed

    def __post_init__(self) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        self.settings = self.base.model_copy(update={"topic_prefix": self.prefix, "state_dir": self.state})
        self.topics: TopicSet = topic_names(self.prefix)

    # -- topics --
    def provision(self) -> None:
        bootstrap.provision(self.settings)

    def names(self, role: str) -> list[str]:
        return [t.name for t in self.topics.role(role)]

    @property
    def ingress(self) -> list[str]:
        return self.names("ingress")

    @property
    def events(self) -> list[str]:
        return self.names("events")

    def group(self, name: str) -> str:
        return {"sink-store": f"{self.prefix}-sink-store", "sink-alerts": f"{self.prefix}-sink-alerts"}.get(
            name, f"{self.prefix}-{name}")

    # -- processes --
    def env(self) -> dict[str, str]:
        s = self.settings
        return {**os.environ, "SIMPUL_TOPIC_PREFIX": self.prefix, "SIMPUL_KAFKA_BOOTSTRAP": s.kafka.bootstrap,
                "SIMPUL_REGISTRY_URL": s.registry, "SIMPUL_STATE_DIR": str(self.state),
                "SIMPUL_NIK_HMAC_KEY": s.secret("nik_hmac_key"), "PYTHONPATH": str(ROOT),
                "SIMPUL_DLQ_KEY": s.secret("dlq_key"),
                "SIMPUL_AGG_FLUSH_SECONDS": "0.5", "SIMPUL_GATEWAY_DIGEST_KEY": s.secret("gateway_digest_key"),
                # static membership: a restarted sink takes the killed one's partitions back at once
                "SIMPUL_SINK_INSTANCE_ID": f"harness-{self.prefix}",
                "SIMPUL_ALERT_WEBHOOK_SECRET": WEBHOOK_SECRET, "SIMPUL_ALERT_RETRY_BASE_S": "0.1",
                "SIMPUL_STREAMS_REPLICATION": str(self.replication)}

    def command(self, name: str) -> list[str]:
        py = [sys.executable, "-m", "simpul"]
        if name in STREAM_PROCESSORS:
            return [*py, "streams", "run", name]
        if name == "sink-store":
            return [*py, "sink", "store", "--store-url", self.store_url, "--loglevel", "warning"]
        if name == "sink-alerts":
            hook = ["--webhook", self.webhook] if self.webhook else []
            return [*py, "sink", "alerts", "--store-url", self.store_url, *hook, "--loglevel", "warning"]
        raise ValueError(name)

    def start(self, name: str) -> subprocess.Popen[bytes]:
        log = self.state / f"{name}-{self.starts[name]}.log"
        self.starts[name] += 1
        self.logs.append(log)
        with log.open("wb") as out:
            proc = subprocess.Popen(self.command(name), env=self.env(), cwd=ROOT, stdout=out,
                                    stderr=subprocess.STDOUT)
        self.procs[name] = proc
        return proc

    def kill(self, name: str) -> None:
        """SIGKILL: no clean shutdown, no final commit."""
        if name == "broker":
            assert self.broker_killer is not None, "no broker to kill: not a private cluster"
            self.broker_killer()
            self.kills.append((name, time.monotonic()))
            return
        proc = self.procs.pop(name)
        assert proc.poll() is None, f"{name} had already exited with {proc.returncode} before its kill"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        self.kills.append((name, time.monotonic()))

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)

    def alive(self) -> None:
        """Raise if a process we started has exited on its own."""
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited by itself with {proc.returncode}\n{self.tail(name)}")

    def tail(self, name: str, lines: int = 40) -> str:
        logs = [log for log in self.logs if log.name.startswith(f"{name}-")]
        if not logs:
            return ""
        return f"==== {logs[-1].name}\n" + "\n".join(logs[-1].read_text(errors="replace").splitlines()[-lines:])

    def tails(self, lines: int = 30) -> str:
        return "\n".join(f"==== {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
                         for log in self.logs if log.exists())

    def cleanup(self) -> None:
        self.stop_all()
        delete_topics(self.base, self.prefix)


def store_counts(url: str) -> dict[str, int]:
    from consumers.store.db import connect
    from consumers.store.tables import counts

    engine = connect(url)
    try:
        with engine.connect() as conn:
            return counts(conn)
    except sa.exc.DBAPIError:  # tables not created yet
        return {}
    finally:
        engine.dispose()


def gatekeeper_accounting(p: Pipeline, inputs: Sequence[tuple[str, int, int]], timeout: float = 300.0
                          ) -> tuple[dict[tuple[str, int, int], str], list[str]]:
    """Map each input coordinate (topic, partition, offset) to its fate: `event:<family>`, `dlq:<reason>`, or
    nothing if it has none yet; plus a list of problems (an input with two fates, an output naming no input)."""
    fates: dict[tuple[str, int, int], list[str]] = collections.defaultdict(list)
    wanted = set(inputs)
    problems: list[str] = []
    for m in read_all(p.settings, [*p.events, p.topics.dlq.name], timeout=timeout):
        h = headers(m)
        if m.topic() == p.topics.dlq.name:
            src = (h.get("simpul.source_topic", ""), int(h.get("simpul.source_partition", "-1")),
                   int(h.get("simpul.source_offset", "-1")))
            fate = f"dlq:{h.get('simpul.reason', '?')}"
        else:
            topic, part, off = h.get("simpul.source", "::").rsplit(":", 2)
            src = (topic, int(part or -1), int(off or -1))
            fate = f"event:{m.topic().rsplit('.', 1)[1]}"
        if src not in wanted:
            problems.append(f"output {m.topic()}:{m.partition()}:{m.offset()} names unknown input {src}")
        fates[src].append(fate)
    for src, fs in fates.items():
        if len(fs) > 1:
            problems.append(f"input {src} has {len(fs)} outcomes: {fs}")
    return {src: fs[0] for src, fs in fates.items()}, problems


# ---- chaos: a seeded run with every worker SIGKILLed in turn -----------------------------------------------------

#: (victim, fraction of its own work done before it is killed): each kill lands while it still has work to do.
DEFAULT_KILLS: tuple[tuple[str, float], ...] = (
    ("gatekeeper", 0.15), ("aggregates", 0.25), ("alerts", 0.35), ("sink-store", 0.45), ("sink-alerts", 0.4))


@dataclass
class ChaosResult:
    events: int
    kills: list[str]
    lost: int
    duplicated: int
    figures: dict[str, Any]
    problems: list[str]

    def line(self) -> str:
        extra = " ".join(f"{k}={v}" for k, v in self.figures.items())
        return (f"events={self.events} kills={len(self.kills)} lost={self.lost} duplicated={self.duplicated} "
                f"{extra}")


def _progress(p: Pipeline, victim: str, manifest: Any) -> float:
    """How much of its whole job `victim` has done (0..1), from the broker's and the store's view."""
    s = p.settings
    valid = sum(manifest.events.values())
    if victim in ("gatekeeper", "broker"):
        return count(s, [*p.events, p.topics.dlq.name]) / max(1, valid + sum(manifest.dlq.values()))
    if victim in ("aggregates", "alerts"):
        return committed_total(s, p.group(victim), p.events) / max(1, valid)
    if victim == "sink-store":
        return committed_total(s, p.group(victim), p.events) / max(1, valid)
    if victim == "sink-alerts":
        return committed_total(s, p.group(victim), [p.topics.alerts.name]) / max(1, sum(manifest.alerts.values()))
    raise ValueError(victim)


def _quiet(p: Pipeline, manifest: Any) -> bool:
    """Every worker has committed past everything on its inputs, and the gatekeeper wrote all it must."""
    s = p.settings
    if count(s, [*p.events, p.topics.dlq.name]) < sum(manifest.events.values()) + sum(manifest.dlq.values()):
        return False
    inputs = {
        "gatekeeper": p.ingress,
        "alerts": [*p.events, f"{p.prefix}-alerts-subjects-repartition"],
        "aggregates": [*p.events, f"{p.prefix}-aggregates-observations-repartition"],
        "sink-store": [*p.events, *p.names("agg"), p.topics.alerts.name],
        "sink-alerts": [p.topics.alerts.name],
    }
    return all(lag(s, p.group(name), topics) == 0 for name, topics in inputs.items() if name in p.procs)


def chaos_run(p: Pipeline, *, events: int, seed: int, kills: Sequence[tuple[str, float]] = DEFAULT_KILLS,
              down_seconds: float = 3.0, rate: float = 0.0, timeout: float = 1800.0,
              log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True)) -> ChaosResult:
    """Send a seeded simulation (default FaultMix) while every worker runs; SIGKILL each victim in turn once it
    has done its share of the work, restart it after `down_seconds`; wait for quiet; compare with the manifest.

    `p` must be provisioned, with `store_url` set (a fresh store) and `webhook` a Receiver's URL.
    """
    from consumers.store.db import connect
    from consumers.store.tables import EVENT_TABLES, alert_deliveries, alerts as alerts_table
    from producers.simulator import plan
    from producers.simulator.send import send_sdk
    from producers.simulator.traffic import Expect
    from schemas.catalog import FAMILIES

    t0 = time.monotonic()
    pl = plan(events, seed, nik_hmac_key=p.settings.secret("nik_hmac_key"))
    manifest = pl.manifest
    planned_s = time.monotonic() - t0
    log(f"chaos: planned {events} records in {planned_s:.1f}s; valid={sum(manifest.events.values())} "
        f"dlq={sum(manifest.dlq.values())} alerts={sum(manifest.alerts.values())} dupes={manifest.duplicates_sent}")
    codec = bootstrap.codec(p.settings)
    # Migrate the fresh store once before the two sinks start: each sink migrates at start-up, and two first
    # migrations of one fresh PostgreSQL database at the same moment race (product bug, see the report).
    bootstrap.store_engine(p.settings, p.store_url).dispose()
    for name in (*STREAM_PROCESSORS, *SINKS):
        p.start(name)

    sent: dict[str, Any] = {}

    def send() -> None:
        try:
            sent["report"] = send_sdk(pl.records, kafka=p.settings.kafka, codec=codec, topic_prefix=p.prefix,
                                      rate=rate, show_progress=False)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            sent["error"] = exc
        sent["at"] = time.monotonic()

    started = time.monotonic()
    sender = threading.Thread(target=send, name="chaos-sender", daemon=True)
    sender.start()
    deadline = started + timeout
    killed: list[str] = []
    for victim, share in kills:
        waited = wait_for(f"{victim} to do {share:.0%} of its work",
                          lambda: _progress(p, victim, manifest) >= share,
                          timeout=max(60.0, deadline - time.monotonic()), alive=p.alive, every=1.0)
        try:
            done = _progress(p, victim, manifest)
        except KafkaException:
            done = share
        p.kill(victim)
        killed.append(victim)
        log(f"chaos: t={time.monotonic() - started:.0f}s SIGKILL {victim} at {done:.0%} of its work "
            f"(waited {waited:.0f}s); restart in {down_seconds:.0f}s")
        if victim == "broker":
            continue  # the cluster carries on with two of three brokers (min.insync.replicas 2)
        time.sleep(down_seconds)  # the outage itself, not a wait for a condition
        p.start(victim)
    sender.join(max(60.0, deadline - time.monotonic()))
    assert not sender.is_alive(), "the sender did not finish"
    if "error" in sent:
        raise sent["error"]
    log(f"chaos: sent {sent['report'].sent} records in {sent['report'].seconds:.0f}s; waiting for quiet")
    wait_for("the pipeline to be quiet", lambda: _quiet(p, manifest),
             timeout=max(120.0, deadline - time.monotonic()), alive=p.alive, every=2.0)
    quiet_at = time.monotonic()

    # ---- the store against the manifest (poll: the last batch may still be committing) ----
    expected_counts = {f"events_{f}": manifest.events[f] for f in FAMILIES}
    expected_alerts = sum(manifest.alerts.values())

    def store_done() -> bool:
        c = store_counts(p.store_url)
        return bool(c) and all(c.get(k) == v for k, v in expected_counts.items()) and c.get("alerts") == expected_alerts \
            and c.get("alert_deliveries", 0) >= expected_alerts * (1 if p.webhook else 0)

    try:
        wait_for("the store to equal the manifest", store_done, timeout=120.0, alive=p.alive, every=2.0)
    except Deadline:
        pass  # the exact comparison below says what differs
    stop_at = time.monotonic()
    p.stop_all()

    problems: list[str] = []
    expected_ids = {str(r.event.event_id): r.family for r in pl.records if r.expect is Expect.EVENT}
    engine = connect(p.store_url)
    try:
        with engine.connect() as conn:
            stored: collections.Counter[str] = collections.Counter()
            per_family: dict[str, int] = {}
            for f in FAMILIES:
                ids = [r for (r,) in conn.execute(sa.select(EVENT_TABLES[f].c.event_id))]
                per_family[f] = len(ids)
                stored.update(ids)
                wrong = [i for i in ids if expected_ids.get(i, f) != f]
                if wrong:
                    problems.append(f"{len(wrong)} events in events_{f} belong to another family")
            alert_rows = conn.execute(sa.select(alerts_table.c.alert_id, alerts_table.c.rule,
                                                alerts_table.c.subject)).all()
            deliveries = conn.execute(sa.select(alert_deliveries.c.status, sa.func.count())
                                      .group_by(alert_deliveries.c.status)).all()
    finally:
        engine.dispose()
    store_twice = sum(n - 1 for n in stored.values() if n > 1)
    store_missing = len(set(expected_ids) - set(stored))
    store_unexpected = len(set(stored) - set(expected_ids))
    if per_family != manifest.events:
        problems.append(f"events per family {per_family} != manifest {manifest.events}")
    got_alerts = {rule: sorted(list(s) for (_, r, s) in alert_rows if r == rule) for rule in manifest.alerts}
    want_alerts = {rule: sorted(list(s) for s in subjects) for rule, subjects in
                   manifest.expected_alert_subjects.items()}
    alerts_per_rule = {rule: len(v) for rule, v in got_alerts.items()}
    if alerts_per_rule != manifest.alerts:
        problems.append(f"alerts per rule {alerts_per_rule} != manifest {manifest.alerts}")
    alerts_missing = sum(len(v) for v in want_alerts.values()) - sum(
        1 for rule, subjects in got_alerts.items() for s in subjects if s in want_alerts.get(rule, []))
    alerts_unexpected = sum(1 for rule, subjects in got_alerts.items() for s in subjects
                            if s not in want_alerts.get(rule, []))
    if got_alerts != want_alerts:
        problems.append(f"alert subjects differ: {alerts_missing} missing, {alerts_unexpected} unexpected")

    # ---- the topics: canonical events once each, the DLQ exactly the manifest's ----
    canonical = read_all(p.settings, p.events)
    on_topic = collections.Counter(headers(m)["simpul.event_id"] for m in canonical)
    topic_twice = sum(n - 1 for n in on_topic.values() if n > 1)
    topic_missing = len(set(expected_ids) - set(on_topic))
    dlq = read_all(p.settings, [p.topics.dlq.name])
    reasons = collections.Counter(headers(m)["simpul.reason"] for m in dlq)
    sources = collections.Counter((headers(m)["simpul.source_topic"], headers(m)["simpul.source_partition"],
                                   headers(m)["simpul.source_offset"]) for m in dlq)
    dlq_twice = sum(n - 1 for n in sources.values() if n > 1)
    dlq_by_reason = {r: reasons.get(r, 0) for r in manifest.dlq}
    dlq_missing = sum(max(0, n - reasons.get(r, 0)) for r, n in manifest.dlq.items())
    if dlq_by_reason != manifest.dlq or set(reasons) - set(manifest.dlq):
        problems.append(f"DLQ by reason {dict(reasons)} != manifest {manifest.dlq}")
    if topic_twice:
        problems.append(f"{topic_twice} canonical records repeat an event id")
    if dlq_twice:
        problems.append(f"{dlq_twice} DLQ records repeat a source")
    alert_records = read_all(p.settings, [p.topics.alerts.name])
    delivered = dict((status, n) for status, n in deliveries)
    if p.webhook and delivered.get("delivered", 0) != expected_alerts:
        problems.append(f"alert deliveries {delivered} != {expected_alerts} delivered")

    lost = store_missing + alerts_missing + dlq_missing
    duplicated = store_twice + topic_twice + dlq_twice + store_unexpected + alerts_unexpected
    figures = {
        "stored": sum(per_family.values()), "dlq": sum(reasons.values()), "alerts": len(alert_rows),
        "alert_records": len(alert_records), "deliveries": delivered.get("delivered", 0),
        "duplicates_dropped": manifest.duplicates_sent, "canonical_missing": topic_missing,
        "plan_s": round(planned_s, 1), "send_s": round(sent["report"].seconds, 1),
        "quiet_s": round(quiet_at - started, 1), "total_s": round(stop_at - t0, 1),
        "killed": ",".join(killed),
    }
    return ChaosResult(events=events, kills=killed, lost=lost, duplicated=duplicated, figures=figures,
                       problems=problems)


# ==== fuzz inputs: hypothesis strategies for ingress records, and the oracle of their fate ==========================
# Used by test_fuzz_ingress.py (a bounded number of examples) and bench/fuzz.py (many more). Hypothesis serves as a
# seeded generator (`collect`): the inputs of one run are written to the broker together and checked together,
# since one example per gatekeeper round-trip would take hours.

import io as _io  # noqa: E402

import fastavro  # noqa: E402
from hypothesis import HealthCheck, Phase, given  # noqa: E402
from hypothesis import seed as hseed  # noqa: E402
from hypothesis import settings as hsettings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from schemas.catalog import default_catalog, event_types, nik_fields  # noqa: E402
from schemas.codec import AvroCodec, frame  # noqa: E402
from schemas.examples import example  # noqa: E402
from schemas.exceptions import EventValidationError  # noqa: E402
from schemas.outcomes import Header  # noqa: E402
from schemas.reference import regency_codes  # noqa: E402

REGENCIES = sorted(regency_codes())
HEADER_NAMES = [v for k, v in vars(Header).items() if k.isupper()] + ["x-trace", ""]


@dataclass
class Input:
    """One record to write onto an ingress topic, and (if known) the fate it must get."""

    kind: str
    regency: str  # of the ingress topic
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    expect: str | None = None  # `event:<family>`, `dlq:<reason>`, `dlq` (any reason) or None (either)


def collect(strategy: st.SearchStrategy[Any], n: int, seed: int = 0) -> list[Any]:
    """`n` deterministic examples of `strategy` (no shrinking: they are checked together afterwards)."""
    out: list[Any] = []

    @hseed(seed)
    @hsettings(max_examples=n, database=None, deadline=None, phases=[Phase.generate],
               suppress_health_check=list(HealthCheck))
    @given(strategy)
    def gather(value: Any) -> None:
        out.append(value)

    gather()
    return out


# ---- (a) random bytes ------------------------------------------------------------------------------------------

_headers = st.lists(st.tuples(st.sampled_from(HEADER_NAMES), st.binary(max_size=40)), max_size=3)

random_bytes = st.builds(
    lambda regency, key, value, hdrs: Input("bytes", regency, key, value, hdrs, expect="dlq"),
    st.sampled_from(REGENCIES), st.none() | st.binary(max_size=64),
    st.none() | st.binary(max_size=2048) | st.binary(min_size=5, max_size=64).map(lambda b: b"\x00" + b[1:]),
    _headers,
)
"""Arbitrary key/value/header bytes (a fifth of the values start with the magic byte 0; headers include forged
`simpul.*` ones, which the gatekeeper must keep renamed and never trust)."""


# ---- (b) framed Avro, valid encodings mutated --------------------------------------------------------------------

@dataclass
class Mutation:
    event_type: str
    op: str
    at: float
    data: bytes
    count: int
    schema_id_of: str | None


mutations = st.builds(
    Mutation, st.sampled_from(event_types()),
    st.sampled_from(["flip", "flip", "truncate", "extend", "splice", "schema_id", "header"]),
    st.floats(0, 1, exclude_max=True), st.binary(min_size=1, max_size=32), st.integers(1, 4),
    st.none() | st.sampled_from(event_types()),
)


def framed_mutation(m: Mutation, codec: AvroCodec, index: int, run: str) -> Input:
    ev = example(m.event_type, event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"fuzz:{run}:b:{index}"))
    good = codec.encode(ev)
    body = bytearray(good)
    pos = 5 + int(m.at * (len(good) - 5))
    if m.op == "flip":
        for i in range(m.count):
            j = 5 + (pos - 5 + i * 7) % (len(good) - 5)
            body[j] ^= m.data[i % len(m.data)] or 0xFF
    elif m.op == "truncate":
        del body[pos:]
    elif m.op == "extend":
        body += m.data
    elif m.op == "splice":
        body[pos:pos + len(m.data)] = m.data
    elif m.op == "schema_id":
        other = codec.schema_id(m.schema_id_of) if m.schema_id_of else int.from_bytes(m.data[:4].ljust(4, b"\0"))
        body[1:5] = other.to_bytes(4, "big")
    elif m.op == "header":
        body[0] = m.data[0] or 1
    return Input("framed", ev.regency_code, ev.ordering_key.encode(), bytes(body), [],
                 expect="dlq" if m.op in ("truncate", "header") else None)


# ---- (c) valid events with fields mutated by their Avro type ------------------------------------------------------

_ints = {"int": st.integers(-2**31, 2**31 - 1), "long": st.integers(-2**63, 2**63 - 1)}
_codes = st.sampled_from(["", " ", "KTP_EL", "XXX", "3374", "9999", "0000", "PUNGLI", "CABAI_RAWIT",
                          "AQMS-SMG-01", "ISSUED", "nik:abc", "🙂", "a" * 300])


def _value_for(avro_type: Any, name: str) -> st.SearchStrategy[Any]:
    if isinstance(avro_type, list):
        return st.one_of(*[_value_for(t, name) for t in avro_type])
    if isinstance(avro_type, dict):
        t = avro_type.get("type")
        if t == "enum":
            return st.sampled_from(avro_type["symbols"])
        if t in ("int", "long"):
            return _ints[t] | st.integers(-5, 5)
        if t == "string":
            return st.text(max_size=40) | _codes
        if t in ("array", "map", "record", "fixed"):
            return st.nothing()
        return _value_for(t, name)
    if avro_type == "null":
        return st.none()
    if avro_type == "boolean":
        return st.booleans()
    if avro_type in _ints:
        return _ints[avro_type] | st.integers(-5, 5) | st.integers(0, 10**9)
    if avro_type in ("float", "double"):
        return st.floats(allow_nan=True, allow_infinity=True, width=32 if avro_type == "float" else 64)
    if avro_type == "string":
        if name == "regency_code":
            return st.sampled_from(REGENCIES) | _codes
        if "nik" in name:
            return st.from_regex(r"\A[0-9]{14,18}\Z") | st.text(max_size=20) | st.just("3374015502900001")
        return st.text(max_size=40) | _codes
    return st.nothing()


@st.composite
def mutated_events(draw: Callable[..., Any]) -> tuple[str, dict[str, Any], str]:
    """(event type, Avro datum with 0-3 fields replaced, ingress regency)."""
    event_type = draw(st.sampled_from(event_types()))
    schema = default_catalog().get(event_type).parsed
    datum = example(event_type).to_avro()
    fields = [f for f in schema["fields"] if f["name"] != "event_id"]
    for f in draw(st.lists(st.sampled_from(fields), max_size=3, unique_by=lambda f: f["name"])):
        datum[f["name"]] = draw(_value_for(f["type"], f["name"]))
    ingress = draw(st.sampled_from([datum.get("regency_code")] * 3 + REGENCIES[:2]))
    if ingress not in REGENCIES:
        ingress = REGENCIES[0]
    return event_type, datum, ingress


def mutated_event_input(item: tuple[str, dict[str, Any], str], codec: AvroCodec, index: int, run: str) -> Input | None:
    """Encode with fastavro directly (the codec only encodes valid events); None if Avro cannot carry the value."""
    event_type, datum, ingress = item
    datum = {**datum, "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"fuzz:{run}:c:{index}"))}
    schema = codec.catalog.get(event_type).parsed
    out = _io.BytesIO()
    try:
        fastavro.schemaless_writer(out, schema, datum)
    except (ValueError, TypeError, OverflowError, AttributeError):
        return None
    value = frame(codec.schema_id(event_type), out.getvalue())
    key = f"{datum.get('regency_code')}:{datum.get('case_id')}".encode()
    return Input("mutated", ingress, key, value, [], expect=oracle(event_type, out.getvalue(), ingress, codec))


def oracle(event_type: str, body: bytes, ingress: str, codec: AvroCodec) -> str:
    """The fate the pipeline spec gives a body of our own schema written to `ingress`'s topic."""
    schema = codec.catalog.get(event_type)
    try:
        record = fastavro.schemaless_reader(_io.BytesIO(body), schema.parsed, schema.parsed)
    except Exception:  # noqa: BLE001
        return "dlq:undecodable"
    try:
        event = codec.models[event_type].from_avro(record)
    except EventValidationError:
        return "dlq:invalid_event"
    if event.regency_code != ingress:
        return "dlq:regency_mismatch"
    assert all(getattr(event, f) is None or isinstance(getattr(event, f), str) for f in nik_fields(event_type))
    return f"event:{type(event).family}"


# ==== a private three-broker cluster (`simpul platform up --brokers 3 --kafka-only`) ==================================

def _free_block(n: int) -> int:
    import random

    from simpul.platform.probes import port_free

    for _ in range(200):
        base = random.randrange(40_000, 60_000 - n)
        if all(port_free("127.0.0.1", base + i) for i in range(n)):
            return base
    raise RuntimeError("no block of free ports")


@dataclass
class Cluster:
    """Three KRaft nodes of our own, on free loopback ports, with their own state folder."""

    state: Path
    env: dict[str, str]
    bootstrap: str = ""

    @classmethod
    def up(cls, state: Path, shared_lib: Path | None = None) -> Cluster:
        import json

        state.mkdir(parents=True, exist_ok=True)
        lib = shared_lib or (ROOT / "var" / "lib")
        if lib.exists() and not (state / "lib").exists():
            (state / "lib").symlink_to(lib.resolve())  # the fetched jars, not fetched again
        base = _free_block(6)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SIMPUL_")}
        env.update({"SIMPUL_PROVIDER": "local", "SIMPUL_STATE_DIR": str(state), "SIMPUL_KAFKA_PORT": str(base),
                    "SIMPUL_CONTROLLER_PORT": str(base + 1)})
        c = cls(state, env)
        up = c.simpul("platform", "up", "--brokers", "3", "--kafka-only", "--json", timeout=300)
        assert up.returncode == 0, up.stderr[-3000:]
        status = json.loads(up.stdout)
        kafka = next(s for s in status["services"] if s["name"] == "kafka")
        assert kafka["running"] and status["kafka_brokers"] == 3, status
        c.bootstrap = kafka["address"]
        return c

    def simpul(self, *args: str, timeout: float = 150) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "simpul", *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout, cwd=ROOT)

    def broker_pids(self) -> list[int]:
        """Pids of this cluster's Kafka JVMs (their command line names a properties file in our state folder)."""
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmd = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"kafka.Kafka" in cmd and any(str(self.state).encode() in part for part in cmd):
                pids.append(int(entry.name))
        return sorted(pids)

    def kill_one(self) -> str:
        pids = self.broker_pids()
        assert len(pids) == 3, f"expected 3 brokers, found pids {pids}"
        victim = pids[1]
        os.kill(victim, signal.SIGKILL)
        return f"broker pid {victim}"

    def down(self) -> None:
        self.simpul("platform", "down", "--json", timeout=120)
        for pid in self.broker_pids():  # whatever `down` could not stop (the node we killed is gone already)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
