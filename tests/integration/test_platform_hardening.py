"""`simpul run` on a fresh, private state folder: the acceptance of the local platform's protection.

One `simpul run --rate 2` (what `make run` starts, on free ports of its own, whatever the suite's platform is)
runs for the whole module and is stopped with SIGTERM at the end. It must come up in secure mode by default: a
producer without credentials is refused while a regency's own credentials get an event routed by the gatekeeper;
nothing under the state folder (and PostgreSQL's cluster, wherever it lives) is readable by group or others;
PostgreSQL wants a password and its application role is no superuser; and no process shows a secret of the
secrets folder on its command line.
"""

from __future__ import annotations

import json
import os
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
import psycopg
import pytest
import sqlalchemy as sa
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient
from private_platform import (REPO, command_lines_showing, private_env, private_state, read_run_json,
                              remove_private, secret_values)
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from producers.sdk import RegencyProducer
from schemas.catalog import family_of
from schemas.examples import example
from simpul.platform import security
from simpul.platform.local import LocalPlatform
from simpul.platform.permissions import exposed
from simpul.platform.probes import free_port_block, port_free
from simpul.settings import load_settings
from topics.catalog import topic_names

START_DEADLINE_S = 300


@dataclass
class Run:
    proc: subprocess.Popen[bytes]
    state: Path
    env: dict[str, str]
    ports: list[int]
    running: dict[str, Any]
    stderr: Path

    @property
    def bootstrap(self) -> str:
        return self.running["platform"]["services"][0]["address"]

    @property
    def registry(self) -> str:
        return self.running["platform"]["services"][1]["address"]

    def creds(self) -> security.Credentials:
        creds = security.load_credentials(self.state)
        assert creds is not None, "secure mode without credentials.json"
        return creds

    def conf(self, user: str, **extra: Any) -> dict[str, Any]:
        return {"bootstrap.servers": self.bootstrap, **self.creds().client_conf(user), "log_level": 0, **extra}

    def pg_home(self) -> Path:
        return LocalPlatform(load_settings(state_dir=self.state)).postgres_home


@pytest.fixture(scope="module")
def run() -> Iterator[Run]:
    state = private_state("run")
    ports = free_port_block(8, consecutive=False)
    env = private_env(state, kafka=ports[0], controller=ports[1], registry=ports[2], registry_management=ports[3],
                      postgres=ports[4], gateway=ports[5])
    stderr = state.parent / f"{state.name}.stderr"
    with open(stderr, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "simpul", "run", "--rate", "2", "--json", "--with-postgres",
                                 "--dashboard-port", str(ports[6]), "--site-port", str(ports[7])],
                                env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=err, start_new_session=True)
    try:
        yield Run(proc, state, env, ports, read_run_json(proc, START_DEADLINE_S, stderr), stderr)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # Ctrl-C: stop the pipeline and the platform it started
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        returncode = proc.returncode
        # Ctrl-C leaves nothing behind: no port held, no process of this state folder alive (PostgreSQL's
        # cluster lives outside it: its port says whether it stopped)
        held = [p for p in ports if not port_free("127.0.0.1", p)]
        left = [line for _pid, line in command_lines_showing({str(state)})]
        down = remove_private(state, env)
        log = stderr.read_text(errors="replace")
        stderr.unlink(missing_ok=True)
        assert returncode == 0, log[-3000:]
        assert not held, f"ports still held after Ctrl-C: {held}"
        assert not left, f"processes of the run still alive after Ctrl-C: {left}"
        assert down.returncode == 0, down.stderr


def test_run_comes_up_in_secure_mode(run: Run) -> None:
    platform = run.running["platform"]
    assert platform["kafka_security"] == "SASL_PLAINTEXT" and platform["kafka_sasl_mechanism"] == "SCRAM-SHA-512"
    assert all(s["running"] for s in platform["services"]), platform
    said = run.stderr.read_text()
    assert "--insecure:" not in said and "is PLAINTEXT" not in said, said[-2000:]


def test_the_public_site_answers_and_the_log_signs_checkpoints(run: Run) -> None:
    site = run.running["site"]
    assert site.endswith(f":{run.ports[7]}/")
    page = None
    end = time.monotonic() + 120  # the site process builds from the store before it listens
    while page is None and time.monotonic() < end:
        try:
            page = httpx.get(site, timeout=10)
        except httpx.TransportError:
            time.sleep(1)
    assert page is not None, f"the public site at {site} did not answer within 2 minutes"
    assert page.status_code == 200 and "Jawa Tengah" in page.text, page.text[:500]

    def signed() -> list[dict[str, Any]]:
        done = subprocess.run([sys.executable, "-m", "simpul", "audit", "checkpoints", "--json"], env=run.env,
                              cwd=REPO, capture_output=True, text=True, timeout=60)
        return json.loads(done.stdout) if done.returncode == 0 else []

    end = time.monotonic() + 120
    while not signed() and time.monotonic() < end:
        time.sleep(2)
    assert signed(), "the transparency stage of `simpul run` signed no checkpoint within 2 minutes"


def test_a_producer_without_credentials_is_refused(run: Run) -> None:
    topic = topic_names("jateng").ingress("3374").name
    errors: list[KafkaError] = []
    delivered: list[KafkaError | None] = []
    plain = Producer({"bootstrap.servers": run.bootstrap, "message.timeout.ms": 8000, "log_level": 0,
                      "error_cb": errors.append})
    plain.produce(topic, b"unauthenticated", on_delivery=lambda err, _msg: delivered.append(err))
    plain.flush(15)
    assert delivered and delivered[0] is not None, "a client without credentials delivered a record"
    with pytest.raises(KafkaException):
        AdminClient({"bootstrap.servers": run.bootstrap, "log_level": 0,
                     "socket.timeout.ms": 3000}).list_topics(timeout=5)


def test_the_gatekeeper_routes_an_event_sent_with_a_regencys_credentials(run: Run) -> None:
    event = example("ServiceRequestSubmitted", event_id=uuid.uuid4())
    canonical = topic_names("jateng").events(family_of("ServiceRequestSubmitted")).name
    consumer = Consumer(run.conf("admin", **{"group.id": f"probe-{uuid.uuid4().hex}", "auto.offset.reset": "latest",
                                             "enable.auto.commit": False}))
    try:
        consumer.subscribe([canonical])
        end = time.monotonic() + 30
        while not consumer.assignment() and time.monotonic() < end:
            consumer.poll(0.5)
        assert consumer.assignment(), "the admin consumer got no partitions of the canonical topic"
        creds = run.creds()
        with RegencyProducer.connect("3374", bootstrap=run.bootstrap, registry_url=run.registry,
                                     security_protocol="SASL_PLAINTEXT", username="regency-3374",
                                     password=SecretStr(creds.password("regency-3374"))) as producer:
            producer.publish(event).result(30)
        wanted = str(event.event_id).encode()
        found = False
        end = time.monotonic() + 90
        while not found and time.monotonic() < end:
            msg = consumer.poll(0.5)
            found = msg is not None and msg.error() is None and wanted in (msg.value() or b"")
    finally:
        consumer.close()
    assert found, f"event {event.event_id} never reached {canonical}"


def test_the_simulator_writes_ingress_topics_and_nothing_else(run: Run) -> None:
    topics = topic_names("jateng")
    outcome: list[KafkaError | None] = []
    producer = Producer(run.conf("simulator", **{"message.timeout.ms": 10_000}))
    producer.produce(topics.events("governance").name, b"x", on_delivery=lambda err, _m: outcome.append(err))
    producer.flush(15)
    assert outcome and outcome[0] is not None and outcome[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    simulator_log = (run.state / "log" / "simulator.log").read_text()
    assert "Authorization" not in simulator_log and "authorization" not in simulator_log, simulator_log[-2000:]


def test_nothing_under_the_state_folder_is_readable_by_others(run: Run) -> None:
    home = run.pg_home()
    roots = [run.state] + ([home] if not home.is_relative_to(run.state) else [])
    loose = [p for root in roots for p in exposed(root)]
    assert not loose, [f"{oct(p.stat(follow_symlinks=False).st_mode & 0o777)} {p}" for p in loose[:20]]
    # ... and the walk saw every kind of data the platform writes
    files = {p.relative_to(run.state).as_posix() for p in run.state.rglob("*") if p.is_file()}
    assert any(f.startswith("kafka/data/jateng.ingress.3374-") and f.endswith(".log") for f in files), "segments"
    assert any(f.startswith("registry/") for f in files), "registry database"
    assert {"secrets/credentials.json", "secrets/simpul_postgres_password", "log/kafka.log", "log/gatekeeper.log",
            "store.sqlite"} <= files
    assert (home / "data" / "PG_VERSION").is_file() and (home / "postgres.log").is_file()


def test_postgres_wants_a_password_and_the_application_is_no_superuser(run: Run) -> None:
    settings = load_settings(state_dir=run.state, postgres_port=run.ports[4])
    app = make_url(settings.postgres)
    for user in (app.username, settings.postgres_owner_user, "postgres", "simpul"):
        with pytest.raises(psycopg.OperationalError, match="no password supplied|password authentication failed"):
            psycopg.connect(host="127.0.0.1", port=run.ports[4], user=user, dbname="postgres", connect_timeout=5)
    with psycopg.connect(settings.postgres.replace("postgresql+psycopg://", "postgresql://"),
                         autocommit=True) as conn:
        assert conn.execute("select rolsuper, rolcreaterole, rolcreatedb from pg_roles "
                            "where rolname = current_user").fetchone() == (False, False, False)
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="external program"):
            conn.execute("COPY (SELECT 1) TO PROGRAM 'true'")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("create table intruder (x int)")
    hba = (run.pg_home() / "data" / "pg_hba.conf").read_text()
    rules = [line.split() for line in hba.splitlines() if line.strip() and not line.startswith("#")]
    assert rules and all(r[-1] == "scram-sha-256" for r in rules), rules


def test_no_secret_on_any_command_line(run: Run) -> None:
    values = secret_values(run.state / "secrets")
    assert len(values) >= 40, "expected the installation's secrets, the role passwords and every SCRAM password"
    pids = {c.get("pid") for c in run.running["platform"]["services"]} | set(run.running["processes"].values())
    alive = [pid for pid in pids if pid and Path(f"/proc/{pid}").exists()]
    assert len(alive) >= 10, f"expected the platform and the pipeline to run, found {alive}"
    assert command_lines_showing(values) == []


def _dashboard(run: Run) -> httpx.Client:
    """A client logged in to the run's dashboard with the first operator `simpul run` printed."""
    login = run.running["login"]
    assert login["user"] and login["password"], "a new installation's run printed no first operator"
    client = httpx.Client(base_url=f"http://127.0.0.1:{run.ports[6]}", timeout=15)
    answer = client.post("/login", data={"username": login["user"], "password": login["password"]})
    assert answer.status_code in (200, 303), answer.text
    assert client.get("/api/session").status_code == 200
    return client


def test_an_event_posted_to_the_gateway_is_stored_and_shown_on_the_dashboard(run: Run) -> None:
    created = subprocess.run([sys.executable, "-m", "simpul", "keys", "create", "--regency", "3374", "--json"],
                             env=run.env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert created.returncode == 0, created.stderr
    key = json.loads(created.stdout)["api_key"]
    case = f"SR-3374-SMOKE-{uuid.uuid4().hex[:8]}"
    event = example("ServiceRequestSubmitted", event_id=uuid.uuid4(), case_id=case, fee_charged_idr=150_000)
    body = {"events": [{"event_type": "ServiceRequestSubmitted", **event.model_dump(mode="json")}]}
    answer = httpx.post(f"http://127.0.0.1:{run.ports[5]}/v1/events", json=body, headers={"X-API-Key": key},
                        timeout=30)
    assert answer.status_code == 202, answer.text
    store = sa.create_engine(f"sqlite:///{run.state / 'store.sqlite'}")
    table = f"events_{family_of('ServiceRequestSubmitted')}"

    def stored() -> bool:
        with store.connect() as conn:
            return conn.execute(sa.text(f"select count(*) from {table} where event_id = :i"),
                                {"i": str(event.event_id)}).scalar_one() == 1

    deadline = time.monotonic() + 120
    while not stored():
        assert time.monotonic() < deadline, f"event {event.event_id} posted to the gateway never reached the store"
        time.sleep(1)
    store.dispose()
    dashboard = _dashboard(run)  # the fee above the official tariff shows among the dashboard's alerts
    try:
        deadline = time.monotonic() + 120
        while True:
            overview = dashboard.get("/api/overview").json()
            alerts = (overview.get("store") or {}).get("recent_alerts") or []
            if any(case in a["message"] and a["rule"] == "fee_above_tariff" for a in alerts):
                break
            assert time.monotonic() < deadline, f"no fee_above_tariff alert of {case} on the dashboard: {alerts[:3]}"
            time.sleep(2)
        assert (overview["store"]["regencies"].get("3374") or {}).get("events_today", 0) >= 1
    finally:
        dashboard.close()


def test_metrics_need_the_token_and_parse(run: Run) -> None:
    url = f"http://127.0.0.1:{run.ports[6]}/metrics"
    assert httpx.get(url, timeout=15).status_code == 401
    token = (run.state / "secrets" / "simpul_metrics_token").read_text().strip()
    answer = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=15)
    assert answer.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(answer.text)}
    assert "simpul_monitor_up" in families, sorted(families)
    assert any(s.value == 1 for s in families["simpul_monitor_up"].samples)
