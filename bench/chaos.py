"""The chaos run on the secure platform: `python -m bench.chaos [--events 100000] [--seed N] [--rate R]`.

A private platform of its own (three KRaft brokers with SASL/SCRAM and the ACLs of topics/acls.py, the schema
registry and PostgreSQL, on free loopback ports and its own state folder) runs the whole pipeline — gatekeeper,
aggregates, alerts, store sink, alert dispatch and the transparency log, each a subprocess connecting as its own
principal — while a seeded simulation (default FaultMix, faults included) is sent. Every stage is SIGKILLed
`--kills-each` times (default 2) and restarted a few seconds later, in a seeded random order and at seeded random
points of its own work, and one broker is SIGKILLed at a seeded point and stays down. Each kill waits until its
victim has done the drawn share of its work; the share at the moment of the kill is recorded, and a kill outside
5%–95% of its victim's work (an idle victim: nothing yet, or nothing left) fails the run. Once the pipeline is quiet
the store must equal the manifest exactly (harness.chaos_run: events per family, no event id twice, alerts per rule
and subject, every alert delivered once to a webhook, the DLQ exactly the manifest's rejects) and the transparency
log must hold every stored event once.

Prints every kill (`kill 3: t=41s sink-store at 37% of its work (drawn 35%)`), then one line of figures
(`events=... kills=13 lost=0 duplicated=0 ...`); exits 1 if anything differs. The platform is torn down afterwards
(`--keep` keeps it and the store for inspection). The suite runs the same code small (tests/integration/
test_chaos.py) and `make test-long` at 100,000 events; bench/soak.py runs it for an hour.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from confluent_kafka import KafkaException, TopicPartition
from pydantic import SecretStr

from consumers.store.db import connect
from consumers.store.tables import EVENT_TABLES, tlog_leaves
from harness.cluster import kafka_pids
from harness import (
    ROOT,
    consumer,
    ChaosResult,
    Pipeline,
    Receiver,
    chaos_run,
    create_pg_database,
    drop_pg_database,
    lag,
    wait_for,
)
from simpul import bootstrap
from simpul.platform import security
from simpul.platform.probes import free_port_block
from simpul.settings import Settings, load_settings

#: Every stage of the chaos pipeline (each runs as its own principal of topics/acls.py).
STAGES: tuple[str, ...] = ("gatekeeper", "aggregates", "alerts", "sink-store", "sink-alerts", "transparency")
#: A kill must land while its victim has work behind and in front of it.
SHARE_BOUNDS = (0.05, 0.95)
LOG = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class ChaosError(AssertionError):
    """The chaos machinery could not do what the run needs (a platform that does not start, a kill it cannot
    make); the message says what and where its logs are."""


# ---------------------------------------------------------------------------------------------------------------
# the private secure platform


@dataclass
class SecurePlatform:
    """A private `simpul platform up --secure --with-postgres [--brokers 3]`: own state folder, free ports."""

    state: Path
    env: dict[str, str]
    status: dict[str, Any]
    brokers: int

    @classmethod
    def up(cls, name: str, brokers: int = 3, log: LOG = _stderr, attempts: int = 2,
           extra: dict[str, str] | None = None) -> SecurePlatform:
        """Start it (`extra`: more SIMPUL_ settings for the platform); a start that fails (a service that exits
        while the host is loaded) is retried once on other ports, with the failed one's log tails shown."""
        for attempt in range(1, attempts + 1):
            try:
                return cls._up(name, brokers, log, extra or {})
            except ChaosError as exc:
                if attempt == attempts:
                    raise
                log(f"chaos: {exc}\nchaos: starting the platform again (attempt {attempt + 1} of {attempts})")
        raise AssertionError("unreachable")

    @classmethod
    def _up(cls, name: str, brokers: int, log: LOG, extra: dict[str, str]) -> SecurePlatform:
        state = ROOT / "var" / "private" / f"{name}-{uuid.uuid4().hex[:8]}"
        state.mkdir(parents=True)
        lib = ROOT / "var" / "lib"
        if (lib / "kafka" / ".complete").is_file():
            (state / "lib").symlink_to(lib.resolve())  # the fetched jars, not fetched again
        base = free_port_block(10)[0]  # brokers on base, base+2, base+4 (controllers +1); registry, postgres after
        env = {k: v for k, v in os.environ.items() if not k.startswith("SIMPUL_")}
        env.update({"SIMPUL_PROVIDER": "local", "SIMPUL_STATE_DIR": str(state), "PYTHONUNBUFFERED": "1",
                    "SIMPUL_KAFKA_PORT": str(base), "SIMPUL_CONTROLLER_PORT": str(base + 1),
                    "SIMPUL_REGISTRY_PORT": str(base + 6), "SIMPUL_REGISTRY_MANAGEMENT_PORT": str(base + 7),
                    "SIMPUL_POSTGRES_PORT": str(base + 8), **extra})
        started = time.monotonic()
        up = subprocess.run([sys.executable, "-m", "simpul", "platform", "up", "--secure", "--with-postgres",
                             "--brokers", str(brokers), "--json"], env=env, cwd=ROOT, capture_output=True,
                            text=True, timeout=600)
        platform = cls(state, env, {}, brokers)
        if up.returncode != 0:
            tails = "\n".join(f"==== {f.name}\n" + "\n".join(f.read_text(errors="replace").splitlines()[-15:])
                              for f in sorted((state / "log").glob("*.log")))
            platform.down()
            raise ChaosError(f"the private secure platform did not start ({state}):\n{up.stderr[-2000:]}\n{tails}")
        platform.status = json.loads(up.stdout)
        assert platform.status["kafka_security"] == "SASL_PLAINTEXT", platform.status
        log(f"chaos: private secure platform up in {time.monotonic() - started:.0f}s: {brokers} broker(s) at "
            f"{platform.bootstrap}, state {state}")
        return platform

    def _service(self, name: str) -> dict[str, Any]:
        return next(s for s in self.status["services"] if s["name"] == name)

    @property
    def bootstrap(self) -> str:
        return str(self._service("kafka")["address"])

    @property
    def credentials(self) -> security.Credentials:
        creds = security.load_credentials(self.state)
        if creds is None:
            raise ChaosError(f"the secured platform has no {security.credentials_path(self.state)}")
        return creds

    def settings(self) -> Settings:
        """Settings of this platform as its `admin` (the harness reads every topic and group to check)."""
        return load_settings(
            state_dir=self.state, kafka_bootstrap=self.bootstrap,
            registry_url=self._service("registry")["address"], postgres_port=int(self.env["SIMPUL_POSTGRES_PORT"]),
            kafka_security_protocol="SASL_PLAINTEXT", kafka_username=security.ADMIN,
            kafka_password=SecretStr(self.credentials.password(security.ADMIN)))

    def principals_for(self, prefix: str) -> security.Credentials:
        """SCRAM users and ACLs of `prefix`: what `simpul run` does for its own prefix."""
        model = security.local_model(prefix)
        creds = security.ensure_credentials(self.state, model.names)
        security.provision(self.bootstrap, creds, model)
        return creds

    def pids(self) -> dict[str, int]:
        """The platform's long-lived processes: each broker's JVM, the registry, PostgreSQL's postmaster."""
        out: dict[str, int] = {f"kafka-{i}": pid for i, pid in enumerate(self.broker_pids())}
        for name in ("registry", "postgres"):
            if self._service(name).get("pid"):
                out[name] = int(self._service(name)["pid"])
        return out

    def broker_pids(self) -> list[int]:
        """Pids of this platform's Kafka JVMs."""
        return kafka_pids(self.state)

    def kill_broker(self) -> str:
        pids = self.broker_pids()
        if len(pids) != 3:
            raise ChaosError(f"a broker kill needs three running brokers; found pids {pids}")
        os.kill(pids[1], signal.SIGKILL)
        return f"broker pid {pids[1]}"

    def down(self) -> None:
        """Stop every service, then SIGKILL what `down` could not stop, and delete the state folder."""
        subprocess.run([sys.executable, "-m", "simpul", "platform", "down", "--purge", "--json"], env=self.env,
                       cwd=ROOT, capture_output=True, text=True, timeout=180)
        for pid in self.broker_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.state, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------------------
# the pipeline: each stage as its own principal; bounces that the harness's waits see through


class _Procs(dict):  # type: ignore[type-arg]
    """`items()` as a snapshot: the harness iterates the processes while the killer thread replaces them."""

    def items(self):  # type: ignore[no-untyped-def, override]
        return list(super().items())


@dataclass
class SecurePipeline(Pipeline):
    """harness.Pipeline whose stages connect as their own principals, and which SIGKILLs and restarts a stage in
    place: the dead process stays listed (so the harness cannot call the pipeline quiet while a victim is down)
    and is not reported as having exited by itself."""

    creds: security.Credentials | None = None
    bouncing: set[str] = field(default_factory=set)
    closed: bool = False
    adopt: bool = False  # start() of a stage that runs returns it: warmed up before harness.chaos_run sends

    def __post_init__(self) -> None:
        super().__post_init__()
        self.procs = _Procs(self.procs)
        self._starting = ""
        self._lock = threading.RLock()

    def env(self) -> dict[str, str]:
        env = super().env()
        if self.creds is not None and self._starting:
            env.update(self.creds.env(self._starting))
        return env

    def start(self, name: str) -> subprocess.Popen[bytes]:
        with self._lock:
            if self.closed:
                raise ChaosError(f"{name} not started: the pipeline is stopping")
            running = self.procs.get(name)
            if self.adopt and running is not None and running.poll() is None:
                return running
            self._starting = name
            try:
                return super().start(name)
            finally:
                self._starting = ""

    def kill_now(self, name: str) -> None:
        """SIGKILL `name` (no clean shutdown, no final commit); it counts as down until restart(name)."""
        with self._lock:
            if self.closed:
                raise ChaosError(f"{name} not killed: the pipeline is stopping")
            proc = self.procs[name]
            if proc.poll() is not None:
                raise ChaosError(f"{name} had already exited with {proc.returncode} before its kill\n"
                                 f"{self.tail(name)}")
            self.bouncing.add(name)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(30)
            self.kills.append((name, time.monotonic()))

    def restart(self, name: str) -> None:
        """Start `name` again after kill_now (the dead process it replaces is not adopted)."""
        with self._lock:
            try:
                self.start(name)
            finally:
                self.bouncing.discard(name)

    def bounce(self, name: str, down_seconds: float) -> None:
        """SIGKILL `name`, keep it down `down_seconds`, start it again."""
        self.kill_now(name)
        time.sleep(down_seconds)  # the outage itself, not a wait for a condition
        self.restart(name)

    def alive(self) -> None:
        for name, proc in self.procs.items():
            if name not in self.bouncing and proc.poll() is not None:
                raise AssertionError(f"{name} exited by itself with {proc.returncode}\n{self.tail(name)}")

    def stop_all(self) -> None:
        with self._lock:
            self.closed = True
            super().stop_all()


def warm_up(p: SecurePipeline, stages: Sequence[str], timeout: float = 300.0, log: LOG = _stderr) -> float:
    """Start `stages` and wait until each one's consumer group is stable with a member: traffic sent before the
    stages have joined piles up, and the first kills would find a stage racing through a backlog instead of
    keeping pace. Later start() calls (harness.chaos_run's) adopt the running stages."""
    from confluent_kafka import ConsumerGroupState
    from confluent_kafka.admin import AdminClient

    bootstrap.store_engine(p.settings, p.store_url).dispose()  # migrate once: the sinks start at the same moment
    for name in stages:
        p.start(name)
    p.adopt = True
    admin = AdminClient(p.settings.kafka.librdkafka())
    groups = [p.group(name) for name in stages]

    def joined() -> bool:
        futures = admin.describe_consumer_groups(groups, request_timeout=20)
        described = [f.result(timeout=25) for f in futures.values()]
        return all(d.state == ConsumerGroupState.STABLE and d.members for d in described)

    waited = wait_for("every stage to join its consumer group", joined, timeout=timeout, alive=p.alive, every=1.0)
    log(f"chaos: {len(stages)} stages joined their groups in {waited:.0f}s")
    return waited


# ---------------------------------------------------------------------------------------------------------------
# kills at seeded random points of each victim's work


@dataclass(frozen=True)
class Kill:
    victim: str
    drawn: float  # the share of its work the schedule waited for
    share: float  # the share it had done when SIGKILLed
    at_s: float  # seconds since the traffic started
    waited_s: float

    def ok(self) -> bool:
        return SHARE_BOUNDS[0] <= self.share <= SHARE_BOUNDS[1]

    def line(self, n: int) -> str:
        flag = "" if self.ok() else f"  OUTSIDE {SHARE_BOUNDS[0]:.0%}-{SHARE_BOUNDS[1]:.0%}: an idle victim"
        return (f"kill {n}: t={self.at_s:.0f}s {self.victim} at {self.share:.1%} of its work "
                f"(drawn {self.drawn:.1%}, waited {self.waited_s:.0f}s){flag}")


def kill_schedule(seed: int, victims: Sequence[str], kills_each: int, broker: bool) -> list[tuple[float, str]]:
    """(share, victim) of every kill, sorted by share: each stage's k-th kill at a share drawn uniformly from the
    k-th of `kills_each` bands of 8%-78% of its own work (a gap between bands, so a restarted stage works a while
    before its next kill); which stage dies first, second, ... follows from the draws and each stage's own pace.
    The broker's kill is drawn within 80%-88% of the gatekeeper's work: a broker's failover stalls some stages
    for tens of seconds, and a stage that then catches up commits a big batch at once, which could carry it past
    a drawn share it had not reached yet (a kill that would land on an idle victim)."""
    rng = random.Random(seed)
    lo, hi = 0.08, 0.78
    width = (hi - lo) / kills_each
    out = [(rng.uniform(lo + k * width + 0.02, lo + (k + 1) * width - 0.02), v)
           for v in victims for k in range(kills_each)]
    if broker:
        out.append((rng.uniform(0.80, 0.88), "broker"))
    return sorted(out, key=lambda kv: kv[0])


class Progress:
    """One stage's share of its whole job (0..1): canonical + DLQ records written (gatekeeper), offsets committed
    on the canonical topics (aggregates, alerts, store sink, log) or on the alerts topic (alert dispatch), over
    what the manifest says it will see. Long-lived plain consumers (one reads watermarks, one holds the stage's
    group id to read its commits, never joining it): the AdminClient's offset calls abort the whole process
    inside librdkafka (`rd_kafka_enq_once_del_source_return: Assertion eonce->refcnt > 0`) when a broker is
    SIGKILLed under them."""

    def __init__(self, p: Pipeline, victim: str, valid: int, dlq: int, alerts: int) -> None:
        self.p, self.victim = p, victim
        if victim in ("gatekeeper", "broker"):
            self.topics, self.whole, self.group = [*p.events, p.topics.dlq.name], valid + dlq, None
        elif victim in ("aggregates", "alerts", "sink-store", "transparency"):
            self.topics, self.whole, self.group = list(p.events), valid, p.group(victim)
        elif victim == "sink-alerts":
            self.topics, self.whole, self.group = [p.topics.alerts.name], alerts, p.group(victim)
        else:
            raise ValueError(victim)
        self.reader = consumer(p.settings)
        self.committer = consumer(p.settings, self.group) if self.group else None
        md = self.reader.list_topics(timeout=30)
        self.parts = [TopicPartition(t, i) for t in self.topics for i in md.topics[t].partitions]

    def share(self) -> float:
        if self.committer is None:
            done = sum(self.reader.get_watermark_offsets(tp, timeout=10)[1] for tp in self.parts)
        else:
            done = sum(max(0, tp.offset) for tp in self.committer.committed(self.parts, timeout=10))
        return done / max(1, self.whole)

    def close(self) -> None:
        self.reader.close()
        if self.committer is not None:
            self.committer.close()


def progress(p: Pipeline, victim: str, valid: int, dlq: int, alerts: int) -> float:
    """One stage's share of its whole job (fresh consumers: for an occasional look)."""
    look = Progress(p, victim, valid, dlq, alerts)
    try:
        return look.share()
    finally:
        look.close()


@dataclass
class Killer:
    """Makes the scheduled kills while harness.chaos_run sends and waits. One thread per victim, each with its own
    admin connection, watches that victim's share (every `every` seconds) and SIGKILLs it the moment it reaches
    its next drawn share, keeps it down `down_seconds`, starts it again, then waits for its next share: one
    victim's outage or slow answer never delays another's kill. Errors are kept and raised by join()."""

    p: SecurePipeline
    schedule: Sequence[tuple[float, str]]
    totals: tuple[int, int, int]  # valid events, DLQ records, alerts of the manifest
    kill_broker: Callable[[], str] | None
    down_seconds: float = 3.0
    timeout: float = 1800.0
    every: float = 0.2
    log: LOG = _stderr
    kills: list[Kill] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)

    def __post_init__(self) -> None:
        targets: dict[str, list[float]] = collections.defaultdict(list)
        for share, victim in self.schedule:
            targets[victim].append(share)
        self.threads = [threading.Thread(target=self._run, args=(victim, shares), name=f"chaos-kill-{victim}",
                                         daemon=True) for victim, shares in targets.items()]
        self._lock = threading.Lock()

    def start(self) -> None:
        self.t0 = time.monotonic()
        for t in self.threads:
            t.start()

    def join(self, timeout: float) -> None:
        for t in self.threads:
            t.join(timeout)
        if any(t.is_alive() for t in self.threads):
            raise ChaosError(f"the kills did not finish: {len(self.kills)} of {len(self.schedule)} made")
        if self.errors:
            raise self.errors[0]

    def _run(self, victim: str, shares: list[float]) -> None:
        try:
            progress = Progress(self.p, victim, *self.totals)
            deadline = self.t0 + self.timeout
            since = self.t0
            for drawn in shares:
                while True:
                    if time.monotonic() > deadline:
                        raise ChaosError(f"timed out waiting for {victim} to do {drawn:.0%} of its work")
                    try:
                        share = progress.share()
                    except (KafkaException, TimeoutError):  # a broker just killed: ask again
                        share = -1.0
                    if share >= drawn:
                        break
                    time.sleep(self.every)
                at = time.monotonic() - self.t0
                if victim == "broker":
                    assert self.kill_broker is not None, "no broker to kill"
                    what = self.kill_broker()
                    self.p.kills.append(("broker", time.monotonic()))
                else:
                    self.p.kill_now(victim)
                    what = ""
                with self._lock:
                    kill = Kill(victim, drawn, share, at, at - (since - self.t0))
                    self.kills.append(kill)
                    self.log(f"chaos: {kill.line(len(self.kills))}")
                    if what:
                        self.log(f"chaos: SIGKILLed {what}; it stays down (two of three carry on)")
                if victim != "broker":
                    time.sleep(self.down_seconds)  # the outage itself, not a wait for a condition
                    self.p.restart(victim)
                since = time.monotonic()
            progress.close()
        except BaseException as exc:  # noqa: BLE001 - re-raised by join() in the caller's thread
            self.errors.append(exc)


# ---------------------------------------------------------------------------------------------------------------
# the transparency log against the store


def transparency_check(p: SecurePipeline, timeout: float = 600.0, log: LOG = _stderr) -> tuple[int, int, dict[str, int]]:
    """Start the log again (chaos_run stopped every stage), wait until it has committed every canonical event,
    then compare its event leaves with the stored events: (lost, duplicated, figures)."""
    p.closed, p.adopt = False, False
    p.start("transparency")
    try:
        wait_for("the transparency log to catch up", lambda: lag(p.settings, p.group("transparency"), p.events) == 0,
                 timeout=timeout, alive=p.alive, every=2.0)
    finally:
        p.stop_all()
    engine = connect(p.store_url)
    try:
        with engine.connect() as conn:
            stored: set[str] = set()
            for table in EVENT_TABLES.values():
                stored.update(r for (r,) in conn.execute(sa.select(table.c.event_id)))
            leaves = collections.Counter(r for (r,) in conn.execute(
                sa.select(tlog_leaves.c.ref_id).where(tlog_leaves.c.kind == "event")))
    finally:
        engine.dispose()
    twice = sum(n - 1 for n in leaves.values() if n > 1)
    missing = len(stored - set(leaves))
    unexpected = len(set(leaves) - stored)
    log(f"chaos: transparency log: {sum(leaves.values())} event leaves for {len(stored)} stored events")
    return missing, twice + unexpected, {"log_leaves": sum(leaves.values()), "log_missing": missing,
                                         "log_twice": twice, "log_unexpected": unexpected}


# ---------------------------------------------------------------------------------------------------------------
# one whole run


@dataclass
class ChaosReport:
    result: ChaosResult
    kills: list[Kill]
    schedule: list[tuple[float, str]]
    lost: int
    duplicated: int
    problems: list[str]
    figures: dict[str, Any]

    @property
    def ok(self) -> bool:
        return not self.problems and self.lost == 0 and self.duplicated == 0

    def kills_per_victim(self) -> dict[str, int]:
        return dict(collections.Counter(k.victim for k in self.kills))

    def line(self) -> str:
        extra = " ".join(f"{k}={v}" for k, v in self.figures.items())
        return (f"events={self.result.events} kills={len(self.kills)} lost={self.lost} "
                f"duplicated={self.duplicated} secure=SASL_PLAINTEXT/SCRAM-SHA-512+ACLs {extra}")

    def lines(self) -> list[str]:
        return [*(k.line(i + 1) for i, k in enumerate(self.kills)), self.line()]


@contextmanager
def secure_pipeline(name: str, *, brokers: int, keep: bool = False, log: LOG = _stderr,
                    platform_env: dict[str, str] | None = None
                    ) -> Iterator[tuple[SecurePlatform, SecurePipeline, Receiver]]:
    """A private secure platform (`platform_env`: more of its settings), a fresh prefix with its principals and
    ACLs, a fresh PostgreSQL store and a webhook receiver; all torn down afterwards (unless `keep`)."""
    platform = SecurePlatform.up(name, brokers=brokers, log=log, extra=platform_env)
    receiver = Receiver()
    p: SecurePipeline | None = None
    try:
        settings = platform.settings()
        unique = uuid.uuid4().hex[:8]
        prefix = f"{name}{unique}"
        creds = platform.principals_for(prefix)
        p = SecurePipeline(settings, prefix, platform.state / "pipeline", replication=3 if brokers == 3 else 1,
                           creds=creds)
        p.store_url = create_pg_database(settings, f"simpul_{prefix}")
        p.webhook = receiver.url
        p.provision()
        yield platform, p, receiver
    except BaseException:
        if p is not None:
            print(p.tails(), file=sys.stderr)
        raise
    finally:
        if p is not None:
            p.stop_all()
        receiver.close()
        if keep:
            log(f"chaos: kept the platform in {platform.state} (`SIMPUL_STATE_DIR={platform.state} simpul platform "
                "down --purge` removes it)")
        else:
            try:
                if p is not None:
                    drop_pg_database(platform.settings(), f"simpul_{p.prefix}")
            except Exception as exc:  # noqa: BLE001 - `down --purge` removes the whole cluster anyway
                log(f"chaos: dropping the run's database failed ({exc.__class__.__name__}); the platform's "
                    "removal takes it with it")
            finally:
                platform.down()


def run(p: SecurePipeline, platform: SecurePlatform, receiver: Receiver, *, events: int, seed: int,
        kills_each: int = 2, broker_kill: bool = True, rate: float = 0.0, down_seconds: float = 3.0,
        timeout: float = 3600.0, log: LOG = _stderr) -> ChaosReport:
    """The seeded run with the drawn kills, checked against the manifest (harness.chaos_run) and the log."""
    from producers.simulator import plan

    manifest = plan(events, seed, nik_hmac_key=p.settings.secret("nik_hmac_key")).manifest
    totals = (sum(manifest.events.values()), sum(manifest.dlq.values()), sum(manifest.alerts.values()))
    schedule = kill_schedule(seed, STAGES, kills_each, broker_kill)
    log("chaos: kill order " + ", ".join(f"{v}@{s:.0%}" for s, v in schedule))
    killer = Killer(p, schedule, totals, platform.kill_broker if broker_kill else None, down_seconds=down_seconds,
                    timeout=timeout, log=log)

    warm_up(p, STAGES, log=log)
    killer.start()
    result = chaos_run(p, events=events, seed=seed, kills=(), down_seconds=down_seconds, rate=rate,
                       timeout=timeout, log=log)
    killer.join(60.0)
    log_lost, log_dup, log_figures = transparency_check(p, log=log)
    problems = list(result.problems)
    outside = [k for k in killer.kills if not k.ok()]
    if outside:
        problems.append(f"{len(outside)} kill(s) outside {SHARE_BOUNDS[0]:.0%}-{SHARE_BOUNDS[1]:.0%} of the "
                        f"victim's work: " + "; ".join(f"{k.victim} at {k.share:.1%}" for k in outside))
    per_victim = collections.Counter(k.victim for k in killer.kills)
    short = {v: per_victim.get(v, 0) for v in STAGES if per_victim.get(v, 0) < kills_each}
    if short:
        problems.append(f"victims killed fewer than {kills_each} times: {short}")
    if broker_kill and per_victim.get("broker", 0) != 1:
        problems.append("the broker was not killed")
    repeats = sum(n - 1 for n in receiver.received.values() if n > 1)
    shares = [k.share for k in killer.kills]
    figures = {**result.figures, **log_figures, "webhook_repeats": repeats,
               "share_min": f"{min(shares):.1%}" if shares else "-", "share_max": f"{max(shares):.1%}" if shares else "-",
               "brokers": platform.brokers}
    figures.pop("killed", None)
    return ChaosReport(result=result, kills=killer.kills, schedule=schedule, lost=result.lost + log_lost,
                       duplicated=result.duplicated + log_dup, problems=problems, figures=figures)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=20250303)
    ap.add_argument("--rate", type=float, default=400.0,
                    help="records per second sent (0 = as fast as possible; the kills need every stage to keep "
                         "pace with the sender, or a fast stage finishes before its turn)")
    ap.add_argument("--kills-each", type=int, default=2, help="SIGKILLs of each stage")
    ap.add_argument("--no-broker-kill", action="store_true", help="one broker, and no broker kill")
    ap.add_argument("--down-seconds", type=float, default=3.0, help="how long each killed stage stays down")
    ap.add_argument("--timeout", type=float, default=5400.0)
    ap.add_argument("--keep", action="store_true", help="keep the platform, topics, store and logs")
    args = ap.parse_args(argv)
    # SIGTERM (e.g. from `timeout`) must still stop the workers and the platform: turn it into SystemExit
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    with secure_pipeline("chaos", brokers=1 if args.no_broker_kill else 3, keep=args.keep) as (platform, p, rx):
        report = run(p, platform, rx, events=args.events, seed=args.seed, kills_each=args.kills_each,
                     broker_kill=not args.no_broker_kill, rate=args.rate, down_seconds=args.down_seconds,
                     timeout=args.timeout)
    for line in report.lines():
        print(line, flush=True)
    print(f"kills per victim: {report.kills_per_victim()} wall_s={time.monotonic() - started:.1f}", flush=True)
    for problem in report.problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
