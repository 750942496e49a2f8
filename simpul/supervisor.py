"""Runs the pipeline's processes side by side for `simpul run`, and stops them all cleanly on Ctrl-C.

Each child is `python -m simpul <command>`, with its output in <state>/log/<name>.log. A child that fails (a
non-zero exit, a kill) is reported and started again after a backoff that doubles from one second to thirty, the
others running on; one that fails `max_restarts` times within `restart_window_s` is left stopped and reported, so a
stage that cannot start (a bad setting) does not loop. A child that ends with 0 (the simulator's planned traffic
sent) is done. Children start with the platform's private umask: their stores, tables and logs are their owner's
alone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from simpul.platform.permissions import PRIVATE_UMASK, open_private_log


@dataclass
class Child:
    name: str
    args: list[str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    exit_reported: bool = field(default=False)
    env: dict[str, str] = field(default_factory=dict)
    failures: list[float] = field(default_factory=list)  # monotonic times of its failed exits
    restart_at: float | None = None
    restarts: int = 0


class Supervisor:
    def __init__(self, state_dir: Path, env: dict[str, str], report: Callable[[str], None], *,
                 command: tuple[str, ...] = (sys.executable, "-m", "simpul"), max_restarts: int = 5,
                 restart_window_s: float = 300.0, backoff_s: tuple[float, float] = (1.0, 30.0)) -> None:
        self.log_dir = state_dir / "log"
        self.log_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.env = {**os.environ, **env}
        self.report = report
        self.command = command
        self.max_restarts, self.restart_window_s, self.backoff_s = max_restarts, restart_window_s, backoff_s
        self.children: list[Child] = []

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> Child:
        """`python -m simpul <args>` as child `name`; `env` adds to the shared environment (e.g. this child's
        own Kafka principal on a secured platform)."""
        child = Child(name, list(args), self.log_dir / f"{name}.log", env=dict(env or {}))
        self._spawn(child)
        self.children.append(child)
        return child

    def _spawn(self, child: Child) -> None:
        out = open_private_log(child.log)
        try:
            child.proc = subprocess.Popen([*self.command, *child.args], stdout=out,
                                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          env={**self.env, **child.env},
                                          start_new_session=True, umask=PRIVATE_UMASK)
        finally:
            os.close(out)
        child.exit_reported, child.restart_at = False, None

    def watch(self, stop: Callable[[], bool], interval_s: float = 1.0) -> None:
        """Until `stop()` says so, report children that exit and start failed ones again after their backoff."""
        while not stop():
            self.tend()
            time.sleep(interval_s)

    def tend(self, now: float | None = None) -> None:
        """One round of watching: report new exits, schedule restarts, start what is due."""
        now = time.monotonic() if now is None else now
        for child in self.children:
            if child.proc is None or child.proc.poll() is None:
                continue
            code = child.proc.returncode
            if not child.exit_reported:
                child.exit_reported = True
                if code == 0:
                    self.report(f"{child.name} finished; see {child.log}")
                    continue
                child.failures = [t for t in child.failures if now - t < self.restart_window_s] + [now]
                if len(child.failures) > self.max_restarts:
                    self.report(f"{child.name} exited with {code} {len(child.failures)} times within "
                                f"{self.restart_window_s:.0f} s: left stopped; see {child.log}")
                    continue
                delay = min(self.backoff_s[1], self.backoff_s[0] * 2 ** (len(child.failures) - 1))
                child.restart_at = now + delay
                self.report(f"{child.name} exited with {code}; restarting in {delay:.0f} s (see {child.log})")
            if child.restart_at is not None and now >= child.restart_at:
                child.restarts += 1
                self._spawn(child)

    def stop_all(self, grace_s: float = 20.0) -> None:
        """SIGTERM every child (newest first), wait, then SIGKILL whatever is left."""
        for child in reversed(self.children):
            if child.proc and child.proc.poll() is None:
                try:
                    os.killpg(child.proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        end = time.monotonic() + grace_s
        for child in self.children:
            if child.proc is None:
                continue
            try:
                child.proc.wait(timeout=max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(child.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                child.proc.wait(timeout=5)
