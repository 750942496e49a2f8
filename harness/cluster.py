"""A private three-broker cluster (`simpul platform up --brokers 3 --kafka-only`) whose brokers can be killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from harness.processes import ROOT
from simpul.platform.probes import free_port_block



def kafka_pids(state: Path) -> list[int]:
    """Pids of the Kafka JVMs of the platform whose state folder is `state` (their command line names a file in
    it), from /proc: what a test kills or stops by hand."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"kafka.Kafka" in cmd and any(str(state).encode() in part for part in cmd):
            pids.append(int(entry.name))
    return sorted(pids)


@dataclass
class Cluster:
    """Three KRaft nodes of our own, on free loopback ports, with their own state folder."""

    state: Path
    env: dict[str, str]
    bootstrap: str = ""

    @classmethod
    def up(cls, state: Path, shared_lib: Path | None = None) -> Cluster:
        state.mkdir(parents=True, exist_ok=True)
        lib = shared_lib or (ROOT / "var" / "lib")
        if lib.exists() and not (state / "lib").exists():
            (state / "lib").symlink_to(lib.resolve())  # the fetched jars, not fetched again
        base = free_port_block(6)[0]
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
        """Pids of this cluster's Kafka JVMs."""
        return kafka_pids(self.state)

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
