"""`simpul platform up|status|down` on a second, private platform: timing, idempotence, clean stop."""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from pathlib import Path

import pytest
from private_platform import REPO, simpul

from simpul.platform.endpoints import PlatformStatus
from simpul.platform.probes import port_free


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _our_pids(marker: str) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        if marker in cmdline and ") Z" not in stat:
            pids.append(int(proc.name))
    return pids


@pytest.fixture
def private_env(platform: PlatformStatus, unique: str):  # noqa: ANN201
    """Environment for a second local platform: its own state folder (sharing the fetched jars) and ports."""
    if platform.provider != "local":
        pytest.skip("the lifecycle of local processes is tested where the platform runs as local processes")
    state = REPO / "var" / f"lifecycle-{unique}"
    (state).mkdir(parents=True)
    (state / "lib").symlink_to((REPO / "var" / "lib").resolve())
    ports = _free_ports(5)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMPUL_")}
    env.update({
        "SIMPUL_PROVIDER": "local", "SIMPUL_STATE_DIR": str(state),
        "SIMPUL_KAFKA_PORT": str(ports[0]), "SIMPUL_CONTROLLER_PORT": str(ports[1]),
        "SIMPUL_REGISTRY_PORT": str(ports[2]), "SIMPUL_REGISTRY_MANAGEMENT_PORT": str(ports[3]),
        "SIMPUL_POSTGRES_PORT": str(ports[4]),
    })
    yield env, state, ports
    simpul(["platform", "down"], env)
    shutil.rmtree(state, ignore_errors=True)


def test_up_status_second_up_and_down(private_env) -> None:  # noqa: ANN001
    env, state, ports = private_env
    started = time.monotonic()
    up = simpul(["platform", "up", "--with-postgres", "--json"], env)
    elapsed = time.monotonic() - started
    assert up.returncode == 0, up.stderr
    assert elapsed < 60, f"platform up took {elapsed:.1f} s"

    status = json.loads(simpul(["platform", "status", "--json"], env).stdout)
    by_name = {s["name"]: s for s in status["services"]}
    assert set(by_name) == {"kafka", "registry", "postgres"}
    assert all(s["running"] for s in by_name.values()), status
    assert by_name["kafka"]["address"] == f"127.0.0.1:{ports[0]}"
    assert by_name["registry"]["address"] == f"http://127.0.0.1:{ports[2]}/apis/ccompat/v7"
    assert f":{ports[4]}/" in by_name["postgres"]["address"]

    broker_marker = str(state / "kafka" / "server.properties")
    brokers_before = _our_pids(broker_marker)
    assert len(brokers_before) == 1
    again = simpul(["platform", "up", "--with-postgres", "--json"], env)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["services"] == status["services"]
    assert _our_pids(broker_marker) == brokers_before

    down = simpul(["platform", "down", "--json"], env)
    assert down.returncode == 0, down.stderr
    assert sorted(json.loads(down.stdout)["stopped"]) == ["kafka", "postgres", "registry"]
    for marker in (broker_marker, str(state / "lib" / "apicurio" / "quarkus-run.jar"), str(state / "postgres")):
        assert _our_pids(marker) == [], marker
    assert all(port_free("127.0.0.1", p) for p in ports), "a port is still held after down"
    after = json.loads(simpul(["platform", "status", "--json"], env).stdout)
    assert not any(s["running"] for s in after["services"])


def test_up_without_java_says_what_to_install(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path / "empty-bin"), "HOME": os.environ.get("HOME", "/root"),
           "SIMPUL_PROVIDER": "local", "SIMPUL_STATE_DIR": str(tmp_path / "state")}
    result = simpul(["platform", "up"], env, timeout=60)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "java not found on PATH" in lines[0] and "install Java 17" in lines[0]


def test_up_with_a_taken_port_names_it(tmp_path: Path) -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("SIMPUL_")},
               "SIMPUL_PROVIDER": "local", "SIMPUL_STATE_DIR": str(tmp_path / "state"),
               "SIMPUL_KAFKA_PORT": str(port)}
        result = simpul(["platform", "up"], env, timeout=60)
    finally:
        holder.close()
    assert result.returncode == 1
    assert f"port {port} for kafka is taken" in result.stderr and "SIMPUL_KAFKA_PORT" in result.stderr
    assert not (tmp_path / "state" / "run" / "kafka.json").exists()
