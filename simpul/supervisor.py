"""Runs the pipeline's processes side by side for `simpul run`, and stops them all cleanly on Ctrl-C.

Each child is `python -m simpul <command>`, with its output in <state>/log/<name>.log; a child that dies is
reported (and the others keep running), so one broken stage does not hide the rest. Children start with the
platform's private umask: their stores, tables and logs are their owner's alone.
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


class Supervisor:
    def __init__(self, state_dir: Path, env: dict[str, str], report: Callable[[str], None]) -> None:
        self.log_dir = state_dir / "log"
        self.log_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.env = {**os.environ, **env}
        self.report = report
        self.children: list[Child] = []

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> Child:
        """`python -m simpul <args>` as child `name`; `env` adds to the shared environment (e.g. this child's
        own Kafka principal on a secured platform)."""
        child = Child(name, list(args), self.log_dir / f"{name}.log", env=dict(env or {}))
        out = open_private_log(child.log)
        try:
            child.proc = subprocess.Popen([sys.executable, "-m", "simpul", *args], stdout=out,
                                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          env={**self.env, **child.env},
                                          start_new_session=True, umask=PRIVATE_UMASK)
        finally:
            os.close(out)
        self.children.append(child)
        return child

    def watch(self, stop: Callable[[], bool], interval_s: float = 1.0) -> None:
        """Until `stop()` says so, report children that exit."""
        while not stop():
            for child in self.children:
                if child.proc and child.proc.poll() is not None and not child.exit_reported:
                    child.exit_reported = True
                    self.report(f"{child.name} exited with {child.proc.returncode}; see {child.log}")
            time.sleep(interval_s)

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
