"""`simpul run`'s supervisor: a failed stage is started again after a doubling backoff, a stage that keeps failing
is left stopped and reported, a finished one stays finished, and Ctrl-C stops everything."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from simpul.supervisor import Supervisor

PY = (sys.executable, "-c")


def _wait(done, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def test_a_killed_stage_is_started_again_after_its_backoff(tmp_path: Path) -> None:
    said: list[str] = []
    sup = Supervisor(tmp_path, {}, said.append, command=PY, backoff_s=(0.2, 5.0))
    child = sup.start("gatekeeper", "import time; time.sleep(60)")
    first = child.proc
    assert first is not None
    os.kill(first.pid, signal.SIGKILL)
    first.wait(5)
    sup.tend()
    assert said == [f"gatekeeper exited with -9; restarting in 0 s (see {child.log})"]
    assert child.proc is first  # not before its backoff
    time.sleep(0.25)
    sup.tend()
    assert child.proc is not first and child.proc.poll() is None and child.restarts == 1
    sup.stop_all(grace_s=5)
    assert child.proc.poll() is not None


def test_a_stage_that_keeps_failing_is_left_stopped_with_growing_backoff(tmp_path: Path) -> None:
    said: list[str] = []
    sup = Supervisor(tmp_path, {}, said.append, command=PY, max_restarts=3, backoff_s=(0.05, 0.1))
    child = sup.start("sink-store", "raise SystemExit(3)")
    _wait(lambda: (sup.tend(), child.restarts == 3 and child.proc.poll() is not None)[1])
    sup.tend()
    time.sleep(0.2)
    sup.tend()
    assert child.restarts == 3
    assert said[-1].startswith("sink-store exited with 3 4 times within 300 s: left stopped")
    assert [m.split(";")[1].strip() for m in said[:3]] == ["restarting in 0 s (see " + str(child.log) + ")"] * 3


def test_a_finished_stage_stays_finished(tmp_path: Path) -> None:
    said: list[str] = []
    sup = Supervisor(tmp_path, {}, said.append, command=PY, backoff_s=(0.01, 0.01))
    child = sup.start("simulator", "print('sent')")
    _wait(lambda: child.proc.poll() is not None)
    for _ in range(3):
        sup.tend()
        time.sleep(0.02)
    assert child.restarts == 0 and said == [f"simulator finished; see {child.log}"]
    assert child.log.read_text().strip() == "sent" and (child.log.stat().st_mode & 0o077) == 0
