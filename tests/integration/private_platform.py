"""Helpers for tests that start a second, private platform (own state folder, own loopback ports) beside the
suite's, through the `simpul` command itself."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

from simpul.platform.probes import port_free

REPO = Path(__file__).resolve().parents[2]


def free_block(n: int) -> int:
    """A base port with base..base+n-1 all free on loopback."""
    for _ in range(200):
        base = random.randrange(40_000, 60_000 - n)
        if all(port_free("127.0.0.1", base + i) for i in range(n)):
            return base
    raise RuntimeError("no block of free ports")


def simpul(args: list[str], env: dict[str, str], timeout: float = 150) -> subprocess.CompletedProcess[str]:
    """Run `python -m simpul ARGS` in the repository with `env`; output captured as text."""
    return subprocess.run([sys.executable, "-m", "simpul", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


def stop_processes(procs: list[subprocess.Popen[bytes]], grace_s: float = 30) -> None:
    """SIGTERM each process group still running, wait, SIGKILL what is left (started with start_new_session)."""
    import os
    import signal

    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)
