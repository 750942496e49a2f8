"""Processes the local platform started, remembered in pid files so `down` stops ours and nothing else.

Every process starts with the platform's private umask (files 0600, folders 0700) and logs to a 0600 file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from pydantic import BaseModel

from simpul.platform.exceptions import PlatformError
from simpul.platform.java import JavaRuntime
from simpul.platform.permissions import PRIVATE_UMASK, open_private_log, write_private


class Started(BaseModel):
    """A process we started: its pid and a string its command line must contain to still be ours."""

    name: str
    pid: int
    marker: str
    address: str
    java: JavaRuntime | None = None  # the runtime a JVM service was started on (`status --json` shows it)


def run_dir(state_dir: Path) -> Path:
    d = state_dir / "run"
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    return d


def log_path(state_dir: Path, name: str) -> Path:
    d = state_dir / "log"
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    return d / f"{name}.log"


def remember(state_dir: Path, started: Started) -> None:
    write_private(run_dir(state_dir) / f"{started.name}.json", started.model_dump_json())


def recall(state_dir: Path, name: str) -> Started | None:
    """The process recorded under `name`, if it still runs and is still ours; stale records are removed."""
    path = run_dir(state_dir) / f"{name}.json"
    if not path.is_file():
        return None
    try:
        started = Started.model_validate(json.loads(path.read_text()))
    except ValueError:
        path.unlink(missing_ok=True)
        return None
    if not is_ours(started):
        path.unlink(missing_ok=True)
        return None
    return started


def forget(state_dir: Path, name: str) -> None:
    (run_dir(state_dir) / f"{name}.json").unlink(missing_ok=True)


def is_ours(started: Started) -> bool:
    """Alive, and its command line still carries our marker (a recycled pid is not ours)."""
    try:
        cmdline = Path(f"/proc/{started.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    stat = Path(f"/proc/{started.pid}/stat").read_text(errors="replace")
    if ") Z" in stat:  # a zombie has exited
        return False
    return started.marker in cmdline


def spawn(cmd: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.Popen[bytes]:
    """Start a detached process group whose output goes to `log`; it outlives the CLI that started it.

    Its umask is the platform's private one, so every file it creates (Kafka segments, the registry's database,
    logs) is its owner's alone.
    """
    out = open_private_log(log)
    try:
        return subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})}, cwd=cwd, start_new_session=True, umask=PRIVATE_UMASK,
        )
    finally:
        os.close(out)


def terminate(pid: int, grace_s: float = 20.0, first: signal.Signals = signal.SIGTERM, group: bool = True) -> None:
    """Ask the process (group) to stop with `first`, wait, then SIGKILL what is left."""
    for sig, wait in ((first, grace_s), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig) if group else os.kill(pid, sig)
        except ProcessLookupError:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
        except PermissionError:
            os.kill(pid, sig)
        end = time.monotonic() + wait
        while time.monotonic() < end:
            if not _alive(pid):
                return
            time.sleep(0.1)


def terminate_all(pids: list[int], first: signal.Signals, group: bool) -> None:
    """Signal every process first, then wait for each (so nodes of one cluster stop together)."""
    for pid in pids:
        try:
            os.killpg(pid, first) if group else os.kill(pid, first)
        except (ProcessLookupError, PermissionError):
            pass
    for pid in pids:
        terminate(pid, first=first, group=group)


def java_with_argfile(launcher: list[str], args: list[str], argfile: Path, doing: str) -> None:
    """Run `launcher` with the main class and its `args` in a 0600 Java argument file (deleted afterwards), so
    that no password among them shows in the process table."""
    write_private(argfile, "".join(_java_quoted(a) + "\n" for a in args))
    try:
        proc = subprocess.run([*launcher, f"@{argfile}"], capture_output=True, text=True, check=False,
                              umask=PRIVATE_UMASK)
    finally:
        argfile.unlink(missing_ok=True)
    if proc.returncode != 0:
        raise PlatformError(f"{doing} failed: {proc.stdout}{proc.stderr}".strip())


def _java_quoted(arg: str) -> str:
    """One argument as a Java argument file line: double-quoted, backslashes and quotes escaped."""
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _alive(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return ") Z" not in stat
