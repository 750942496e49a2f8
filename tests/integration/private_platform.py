"""Helpers for tests that start a second, private platform (own state folder, own loopback ports) beside the
suite's, through the `simpul` command itself.

A private platform never depends on which provider runs the suite's platform, nor on the default ports being
free: it takes free ports of its own, so its tests run (or fail, saying why) wherever they are collected.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from simpul.settings import load_settings

REPO = Path(__file__).resolve().parents[2]



def fetched_lib() -> Path | None:
    """Jars an earlier `up` or `make setup` fetched (the suite's state folder, else var/lib), to share; None: the
    private platform's `up` fetches its own through Maven."""
    for lib in (load_settings().state_dir.resolve() / "lib", REPO / "var" / "lib"):
        if (lib / "kafka" / ".complete").is_file() and (lib / "apicurio" / ".complete").is_file():
            return lib.resolve()
    return None


def private_state(name: str) -> Path:
    """A new, empty state folder for a private platform, sharing the fetched jars."""
    state = REPO / "var" / "private" / f"{name}-{uuid.uuid4().hex[:8]}"
    state.mkdir(parents=True)
    lib = fetched_lib()
    if lib is not None:
        (state / "lib").symlink_to(lib)
    return state


def private_env(state: Path, **ports: int) -> dict[str, str]:
    """The environment of `simpul` commands on the private platform of `state`: no SIMPUL_* setting of the caller,
    the local provider, and each port given (kafka=..., controller=..., registry=..., registry_management=...,
    postgres=..., gateway=...)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMPUL_")}
    env.update({"SIMPUL_PROVIDER": "local", "SIMPUL_STATE_DIR": str(state), "PYTHONUNBUFFERED": "1"})
    env.update({f"SIMPUL_{name.upper()}_PORT": str(port) for name, port in ports.items()})
    return env



def remove_private(state: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Stop the private platform, delete what it keeps outside its state folder, then the folder itself."""
    down = simpul(["platform", "down", "--purge", "--json"], env, timeout=120)
    shutil.rmtree(state, ignore_errors=True)
    return down


def secret_values(folder: Path) -> set[str]:
    """Every secret value of a secrets folder: each file's value(s), and each password of credentials.json."""
    values: set[str] = set()
    for path in folder.iterdir():
        text = path.read_text()
        if path.suffix == ".json":
            values |= set(json.loads(text)["users"].values())
        else:
            values |= {v for v in text.strip().split(",") if v}
    return values


def command_lines_showing(values: set[str]) -> list[tuple[int, str]]:
    """(pid, command line) of every process whose command line holds one of `values` (what `ps -eo args` shows)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(v in cmdline for v in values):
            found.append((int(proc.name), cmdline[:200]))
    return found


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


def read_run_json(proc: subprocess.Popen[bytes], deadline_s: float, stderr: Path) -> dict[str, Any]:
    """The first JSON document `simpul run --json` prints (it then keeps running)."""
    assert proc.stdout is not None
    text = b""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"simpul run exited {proc.returncode}: {stderr.read_text()[-3000:]}")
        ready, _, _ = select.select([proc.stdout], [], [], 1.0)
        if not ready:
            continue
        text += os.read(proc.stdout.fileno(), 1 << 16)  # raw reads: select() does not see a reader's buffer
        if b"\n}\n" in text:
            return json.loads(text[: text.index(b"\n}\n") + 2])
    raise AssertionError(f"simpul run printed nothing within {deadline_s:.0f} s: {stderr.read_text()[-3000:]}")
