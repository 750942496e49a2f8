"""What every case shares: the settings, fresh topic prefixes (provisioned, then deleted), subprocesses under test
with their peak memory, end offsets, PostgreSQL databases created and dropped for one run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient

from simpul import bootstrap
from simpul.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent


def base_settings() -> Settings:
    return load_settings()


def new_prefix(tag: str) -> str:
    return f"bench{tag}{uuid.uuid4().hex[:6]}"


_DEFERRED: list[tuple[Settings, str]] = []


def delete_later(settings: Settings, prefix: str) -> None:
    """Delete the prefix's topics once its case is over (`settle_deleted`) or at the end of the run
    (`delete_deferred`), not in the middle of a measurement."""
    _DEFERRED.append((settings, prefix))


def delete_deferred() -> list[str]:
    """Delete every prefix handed to `delete_later`; the prefixes deleted."""
    deleted = []
    while _DEFERRED:
        settings, prefix = _DEFERRED.pop()
        delete_topics(settings, prefix)
        deleted.append(prefix)
    return deleted


def settle_deleted(settings: Settings, timeout: float = 300.0) -> float:
    """Between cases: delete the topics of the cases run so far and wait until the local broker has removed their
    files; the seconds waited. Each case provisions a whole catalog (246 partitions) and its stage's internal
    topics, and a run of three repetitions left 3,500-5,000 partitions on the broker by its last case, where the
    broker took 0.8-0.9 of a core at 200 events/s against ~0.6 on a fresh one. The platform's broker removes a
    deleted topic's files after a second (log.segment.delete.delay.ms), and the next case starts only when they are
    gone, so the removal never lands in a measurement."""
    started = time.monotonic()
    prefixes = tuple(delete_deferred())
    folder = broker_log_dir(settings)
    if not prefixes or folder is None:
        return time.monotonic() - started
    while any(entry.name.startswith(prefixes) for entry in folder.iterdir()):
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"the broker still holds files of deleted topics in {folder} after {timeout:.0f} s")
        time.sleep(0.5)
    return time.monotonic() - started


def broker_log_dir(settings: Settings) -> Path | None:
    """The local platform's (first) Kafka node's log folder, from the properties file on its command line; None
    when the settings point elsewhere."""
    pid = broker_pid(settings)
    if pid is None:
        return None
    properties = Path(Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")[-1].decode())
    for line in properties.read_text().splitlines():
        if line.startswith("log.dirs="):
            return Path(line.split("=", 1)[1].split(",")[0])
    return None


@contextmanager
def fresh_prefix(settings: Settings, tag: str, *, provision: bool = True) -> Iterator[Settings]:
    """Settings on a new topic prefix whose catalog topics exist; every topic of the prefix is deleted at the end of
    the run."""
    s = settings.model_copy(update={"topic_prefix": new_prefix(tag)})
    try:
        if provision:
            bootstrap.provision(s)
        yield s
    finally:
        delete_later(s, s.topic_prefix)


def delete_topics(settings: Settings, prefix: str) -> None:
    """Delete every topic whose name starts with `prefix` (catalog topics and Faust's internal ones)."""
    admin = AdminClient(settings.kafka.librdkafka())
    names = [t for t in admin.list_topics(timeout=30).topics if t.startswith(prefix + ".") or t.startswith(prefix + "-")]
    if not names:
        return
    for _, fut in admin.delete_topics(names, operation_timeout=60).items():
        try:
            fut.result()
        except Exception:  # noqa: BLE001 - best effort clean-up
            pass


def child_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a `python -m simpul ...` child: the same platform, this run's prefix."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMPUL_")}
    env.update({
        "SIMPUL_KAFKA_BOOTSTRAP": settings.kafka.bootstrap,
        "SIMPUL_REGISTRY_URL": settings.registry,
        "SIMPUL_POSTGRES_URL": settings.postgres,
        "SIMPUL_TOPIC_PREFIX": settings.topic_prefix,
        "SIMPUL_SECRETS_DIR": str(settings.secrets_folder.resolve()),  # the installation's secrets, whatever state
        "SIMPUL_PROVIDER": "external",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


@dataclass
class Child:
    """A process under test; its peak RSS is the VmHWM of /proc/<pid>/status, sampled at every `alive()`."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    peak_rss_mb: float | None = None
    sampled_hwm_mb: float | None = None
    returncode: int | None = None
    started: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        if self.returncode is not None:
            return False
        hwm = self.vm_hwm_mb()
        if hwm is not None:
            self.sampled_hwm_mb = max(self.sampled_hwm_mb or 0.0, hwm)
        pid, status, usage = os.wait4(self.pid, os.WNOHANG)
        if pid == 0:
            return True
        self._reaped(status, usage)
        return False

    def _reaped(self, status: int, usage: os.struct_rusage | object) -> None:
        self.returncode = os.waitstatus_to_exitcode(status)
        self.proc.returncode = self.returncode
        # ru_maxrss of a forked child also counts the parent's pages it had before exec, so the VmHWM sampled
        # from /proc while it ran (reset by exec) is the figure; rusage only when no sample was taken
        self.peak_rss_mb = self.sampled_hwm_mb or usage.ru_maxrss / 1024  # type: ignore[attr-defined]

    def vm_hwm_mb(self) -> float | None:
        """VmHWM of the running process (peak resident set so far)."""
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    def wait(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.alive():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} did not finish within {timeout:.0f}s; see {self.log}")
            time.sleep(0.05)
        return self.returncode  # type: ignore[return-value]

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM (clean stop), SIGKILL after `timeout`; returns the exit code."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.wait(timeout)
            except TimeoutError:
                self.proc.kill()
                return self.wait(10)
        return self.returncode  # type: ignore[return-value]

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def spawn(name: str, args: Sequence[str], env: dict[str, str], logdir: Path, *, nice: int = 0) -> Child:
    """`python <args>` with stdout+stderr to `<logdir>/<name>.log` (at a lower CPU priority when `nice` > 0)."""
    logdir.mkdir(parents=True, exist_ok=True)
    log = logdir / f"{name}.log"
    fh = log.open("wb")
    proc = subprocess.Popen([sys.executable, *args], env=env, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT,
                            preexec_fn=(lambda: os.nice(nice)) if nice else None)  # noqa: PLW1509 - no threads yet
    fh.close()
    return Child(name, proc, log)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (from /proc; Linux only)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()  # after "(comm)", which may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeters:
    """CPU cores used by some processes between `start()` and `cores()` (a process whose pid is None is skipped)."""

    def __init__(self, pids: dict[str, int | None]) -> None:
        self.pids = {k: pid for k, pid in pids.items() if pid is not None}
        self.start()

    def start(self) -> None:
        self.t0 = time.monotonic()
        self.cpu0 = {k: cpu_seconds(pid) for k, pid in self.pids.items()}

    def cores(self) -> dict[str, float]:
        elapsed = time.monotonic() - self.t0
        return {k: (cpu_seconds(self.pids[k]) - v) / elapsed for k, v in self.cpu0.items()} if elapsed > 0 else {}


def broker_pid(settings: Settings) -> int | None:
    """The local platform's (first) Kafka node's process id, or None when the settings point elsewhere."""
    from simpul.platform.processes import recall

    started = recall(settings.state_dir, "kafka")
    return started.pid if started is not None and Path(f"/proc/{started.pid}").exists() else None


def catch_up_rate(progress: Callable[[], int], n: int, children: Sequence[Child], what: str, *,
                  finished: Callable[[], bool] = lambda: True, timeout: float = 1800, interval: float = 0.1,
                  on_first: Callable[[], None] | None = None) -> float:
    """Records/s of a worker catching up on `n` pre-loaded records: `progress()` (records done so far) sampled
    every `interval`, from the first sample that shows progress (start-up and group join excluded) until it
    reaches `n` and `finished()` holds. `on_first` is called at that first sample (to start CPU meters)."""
    first: tuple[float, int] | None = None
    deadline = time.monotonic() + timeout
    while True:
        done = progress()
        now = time.monotonic()
        if done > 0 and first is None:
            first = (now, done)
            if on_first is not None:
                on_first()
        if done >= n and finished():
            break
        for child in children:
            if not child.alive():
                raise RuntimeError(f"the {what} exited ({child.returncode}):\n{child.output()[-3000:]}")
        if now > deadline:
            raise TimeoutError(f"{what}: {done} of {n} records done after {timeout / 60:.0f} min")
        time.sleep(interval)
    t0, c0 = first  # type: ignore[misc]
    if now - t0 <= 0:
        raise RuntimeError(f"the {what} finished between two samples: raise --events")
    return (n - c0) / (now - t0)


def end_offsets(settings: Settings, topics: Sequence[str], partitions: int) -> int:
    """The sum of the end offsets of `topics` (each with `partitions` partitions)."""
    ends = _ends_client(settings)
    tps = [TopicPartition(t, p) for t in topics for p in range(partitions)]
    return sum(ends(tps).values())


_ENDS: dict[str, object] = {}


def _ends_client(settings: Settings):  # noqa: ANN202
    from consumers.kafka import EndOffsets

    key = settings.kafka.bootstrap
    if key not in _ENDS:
        _ENDS[key] = EndOffsets(settings.kafka)
    return _ENDS[key]


@contextmanager
def pg_database(settings: Settings, name: str) -> Iterator[str]:
    """A fresh PostgreSQL database on the platform's server (created and dropped on the `postgres` database)."""
    from harness.stores import create_pg_database, drop_pg_database

    url = create_pg_database(settings, name)
    try:
        yield url
    finally:
        drop_pg_database(settings, name)
