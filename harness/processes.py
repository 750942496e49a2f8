"""The pipeline's processes: stream processors and sinks run as `python -m simpul ...` subprocesses, exactly as an
operator runs them, on one topic prefix, one state folder and one store."""

from __future__ import annotations

import collections
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.broker import delete_topics
from simpul import bootstrap
from simpul.settings import Settings
from topics.catalog import TopicSet, topic_names


ROOT = Path(__file__).resolve().parents[1]

STREAM_PROCESSORS = ("gatekeeper", "aggregates", "alerts")
SINKS = ("sink-store", "sink-alerts")
WEBHOOK_SECRET = secrets.token_urlsafe(32)  # per run, as an installation would have


def terminate(proc: subprocess.Popen[bytes], grace_s: float = 30.0) -> None:
    """SIGTERM (a clean stop with its final commit), then SIGKILL if it has not ended within `grace_s`."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


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
                "SIMPUL_DLQ_KEY": s.secret("dlq_key"), "SIMPUL_TLOG_SIGNING_KEY": s.secret("tlog_signing_key"),
                "SIMPUL_TLOG_CHECKPOINT_SECONDS": "1",
                "SIMPUL_AGG_FLUSH_SECONDS": "0.5", "SIMPUL_GATEWAY_DIGEST_KEY": s.secret("gateway_digest_key"),
                # static membership: a restarted sink takes the killed one's partitions back at once
                "SIMPUL_SINK_INSTANCE_ID": f"harness-{self.prefix}",
                "SIMPUL_ALERT_WEBHOOK_SECRET": WEBHOOK_SECRET, "SIMPUL_ALERT_RETRY_BASE_S": "0.1",
                "SIMPUL_STREAMS_REPLICATION": str(self.replication),
                # the store's URL carries its role's password: in the environment, never on a command line (which
                # every user of the host may read in `ps`)
                "SIMPUL_STORE_URL": self.store_url}

    def command(self, name: str) -> list[str]:
        py = [sys.executable, "-m", "simpul"]
        if name in STREAM_PROCESSORS:
            return [*py, "streams", "run", name]
        if name == "sink-store":
            return [*py, "sink", "store", "--loglevel", "warning"]
        if name == "sink-alerts":
            hook = ["--webhook", self.webhook] if self.webhook else []
            return [*py, "sink", "alerts", *hook, "--loglevel", "warning"]
        if name == "transparency":
            return [*py, "transparency", "run", "--loglevel", "warning"]
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
        if proc is not None:
            terminate(proc)

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
