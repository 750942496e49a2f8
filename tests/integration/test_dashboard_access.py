"""The dashboard only for ops accounts, on the real broker, registry and gatekeeper.

Without a session nothing is served; a viewer reads but cannot replay; a replay needs the operator role, the CSRF
token, an allowed Host and no foreign Origin; a replay by an operator reaches the store exactly once and is on the
audit topic under the operator's name. Logins are rate-limited; /metrics takes the bearer token.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import fastavro
import pytest
import sqlalchemy as sa
from confluent_kafka import Consumer, Producer, TopicPartition
from dashboard_login import TEST_HOSTS, as_role, log_in, new_account
from fastapi.testclient import TestClient
from private_platform import stop_processes
from typer.testing import CliRunner

from schemas.codec import frame
from schemas.examples import example
from simpul import bootstrap
from simpul.cli.users import app as users_cli
from simpul.cli.users import disable_user
from simpul.settings import Settings
from topics.catalog import topic_names

REPO = Path(__file__).resolve().parents[2]


def _wait(what: str, check: Callable[[], object], deadline_s: float = 120) -> object:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {deadline_s:.0f} s waiting for {what}")


@pytest.fixture(scope="module")
def pipeline(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Topics of a fresh prefix (the audit topic among them), the gatekeeper and the store sink running."""
    tmp = tmp_path_factory.mktemp("dashboard-access")
    prefix = f"da{uuid.uuid4().hex[:8]}"
    store = f"sqlite:///{tmp / 'store.sqlite'}"
    s = settings.model_copy(update={"topic_prefix": prefix, "store_url": store, "state_dir": tmp / "state",
                                    "dashboard_allowed_hosts": TEST_HOSTS})
    bootstrap.provision(s)
    bootstrap.store_engine(s).dispose()
    env = {**os.environ, "SIMPUL_KAFKA_BOOTSTRAP": s.kafka.bootstrap, "SIMPUL_REGISTRY_URL": s.registry,
           "SIMPUL_TOPIC_PREFIX": prefix, "SIMPUL_STORE_URL": store, "SIMPUL_STATE_DIR": str(tmp / "state"),
           "SIMPUL_SECRETS_DIR": str(settings.secrets_folder.resolve())}
    procs = [subprocess.Popen([sys.executable, "-m", "simpul", *args], env=env, cwd=REPO, start_new_session=True,
                              stdout=open(tmp / f"{name}.log", "wb"), stderr=subprocess.STDOUT)
             for name, args in (("gatekeeper", ["streams", "run", "gatekeeper"]), ("sink", ["sink", "store"]))]
    try:
        yield s
    finally:
        stop_processes(procs)


@pytest.fixture
def dashboard(pipeline: Settings) -> Iterator[TestClient]:
    with TestClient(bootstrap.dashboard(pipeline, interval_s=60)) as client:
        yield client


def _audit_topic(s: Settings) -> list[dict]:
    """Every entry on the audit topic, from the beginning."""
    topic = topic_names(s.topic_prefix).find("audit").name
    consumer = Consumer(s.kafka.librdkafka(**{"group.id": f"audit-reader-{uuid.uuid4().hex[:8]}",
                                              "enable.auto.commit": False}))
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        consumer.assign([TopicPartition(topic, 0, low)])
        out: list[dict] = []
        while high > low and len(out) < high - low:
            msg = consumer.poll(10)
            assert msg is not None, f"{topic} ended early"
            if msg.error() is None:
                out.append(json.loads(msg.value()))
        return out
    finally:
        consumer.close()


def _reject_a_price(s: Settings) -> uuid.UUID:
    """A StapleFoodPriceObserved with a negative price, straight onto ingress: the gatekeeper dead-letters it."""
    codec = bootstrap.codec(s)
    good = example("StapleFoodPriceObserved", regency_code="3305", event_id=uuid.uuid4(), case_id="PSR-3305-BERAS")
    datum = {**good.to_avro(), "price_idr": -14500}
    body = io.BytesIO()
    fastavro.schemaless_writer(body, codec.catalog.get("StapleFoodPriceObserved").parsed, datum)
    producer = Producer(s.kafka.librdkafka())
    producer.produce(f"{s.topic_prefix}.ingress.3305", key=good.ordering_key.encode(),
                     value=frame(codec.schema_id("StapleFoodPriceObserved"), body.getvalue()))
    assert producer.flush(30) == 0
    return good.event_id


# ---- without a session ---------------------------------------------------------------------------------------------

def test_nothing_is_served_without_a_session(dashboard: TestClient) -> None:
    for method, path in (("GET", "/api/dlq"), ("POST", "/api/dlq/replay"), ("GET", "/api/overview"),
                         ("GET", "/api/audit"), ("GET", "/api/session")):
        answer = dashboard.request(method, path, json={"records": [{"partition": 0, "offset": 0}]}
                                   if method == "POST" else None)
        assert answer.status_code == 401, (path, answer.text)
        assert "log in" in answer.json()["detail"]
    page = dashboard.get("/", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login"
    assert dashboard.post("/logout").status_code == 401
    login = dashboard.get("/login")
    assert login.status_code == 200 and 'action="/login"' in login.text
    assert dashboard.get("/healthz").json() == {"status": "ok"}  # open, and says nothing else


def test_a_forged_cookie_is_no_session(dashboard: TestClient) -> None:
    dashboard.cookies.set("simpul_session", "a" * 43 + ".9999999999." + "b" * 43)
    assert dashboard.get("/api/dlq").status_code == 401


# ---- roles, CSRF, Host and Origin ----------------------------------------------------------------------------------

def test_a_viewer_reads_but_cannot_replay(dashboard: TestClient, pipeline: Settings) -> None:
    name, _ = as_role(dashboard, pipeline, "viewer")
    assert dashboard.get("/api/dlq").status_code == 200
    assert dashboard.get("/api/audit").status_code == 200
    assert dashboard.get("/api/overview").status_code == 200
    refused = dashboard.post("/api/dlq/replay", json={"records": [{"partition": 0, "offset": 0}]})
    assert refused.status_code == 403 and "operator" in refused.json()["detail"] and name in refused.json()["detail"]


def test_a_replay_without_the_csrf_token_is_refused(dashboard: TestClient, pipeline: Settings) -> None:
    as_role(dashboard, pipeline, "operator")
    del dashboard.headers["X-CSRF-Token"]
    no_token = dashboard.post("/api/dlq/replay", json={"records": [{"partition": 0, "offset": 0}]})
    assert no_token.status_code == 403 and "X-CSRF-Token" in no_token.json()["detail"]
    wrong = dashboard.post("/api/dlq/replay", json={"records": [{"partition": 0, "offset": 0}]},
                           headers={"X-CSRF-Token": "x" * 43})
    assert wrong.status_code == 403
    assert dashboard.post("/logout").status_code == 403  # logging out changes state too


def test_a_foreign_host_or_origin_is_refused(dashboard: TestClient, pipeline: Settings) -> None:
    as_role(dashboard, pipeline, "operator")
    for path in ("/", "/login", "/healthz", "/metrics", "/api/dlq", "/static/app.js"):
        answer = dashboard.get(path, headers={"Host": "evil.example"})
        assert answer.status_code == 400, path
    assert dashboard.post("/api/dlq/replay", headers={"Host": "evil.example"},
                          json={"records": [{"partition": 0, "offset": 0}]}).status_code == 400
    for origin in ("http://evil.example", "null", "http://testserver.evil.example"):
        answer = dashboard.post("/api/dlq/replay", headers={"Origin": origin},
                                json={"records": [{"partition": 0, "offset": 0}]})
        assert answer.status_code == 403 and "cross-origin" in answer.json()["detail"], origin
    login = dashboard.post("/login", headers={"Origin": "http://evil.example"}, data={"username": "x", "password": "y"})
    assert login.status_code == 403


def test_a_disabled_account_loses_its_session_at_once(dashboard: TestClient, pipeline: Settings) -> None:
    name, _ = as_role(dashboard, pipeline, "operator")
    assert dashboard.get("/api/dlq").status_code == 200
    disable_user(pipeline, name, publish=False)
    assert dashboard.get("/api/dlq").status_code == 401


def test_logout_ends_the_session(dashboard: TestClient, pipeline: Settings) -> None:
    name, password = new_account(pipeline, "viewer")
    log_in(dashboard, name, password)
    cookie = dashboard.cookies.get("simpul_session")
    token = dashboard.get("/api/session").json()["csrf_token"]
    assert dashboard.post("/logout", headers={"X-CSRF-Token": token}).status_code == 200
    dashboard.cookies.set("simpul_session", cookie)  # a copy of the cookie kept by someone
    assert dashboard.get("/api/dlq").status_code == 401


# ---- the operator's replay: stored once, audited -------------------------------------------------------------------

def test_an_operators_replay_is_stored_once_and_audited(dashboard: TestClient, pipeline: Settings) -> None:
    s = pipeline
    event_id = _reject_a_price(s)
    operator, _ = as_role(dashboard, s, "operator")
    rejected = _wait("the DLQ record", lambda: [r for r in dashboard.get("/api/dlq").json()
                                                  if r["source_topic"] == f"{s.topic_prefix}.ingress.3305"], 180)
    record = rejected[0]
    fixed = {"event_type": record["event_type"], **record["payload"], "price_idr": 14500}
    fixed["occurred_at"] = example("StapleFoodPriceObserved").occurred_at.isoformat()

    still_bad = dashboard.post("/api/dlq/replay", json={"records": [
        {"partition": record["partition"], "offset": record["offset"], "fixed": {**fixed, "price_idr": -1}}]})
    assert still_bad.status_code == 422
    for _ in range(2):  # an operator who clicks twice replays twice; the bus keeps one
        replayed = dashboard.post("/api/dlq/replay", json={"records": [
            {"partition": record["partition"], "offset": record["offset"], "fixed": fixed}]},
            headers={"Origin": "http://testserver"})
        assert replayed.status_code == 200, replayed.text
        assert replayed.json()[0]["to"] == f"{s.topic_prefix}.ingress.3305"

    engine = sa.create_engine(s.store)

    def stored() -> list[tuple[str, int]]:
        with engine.connect() as conn:
            return conn.execute(sa.text("select event_id, json_extract(payload, '$.price_idr') from events_economy"
                                        )).all()

    _wait("the replayed event in the store", stored, 180)
    time.sleep(5)  # the second replay has had time to arrive too
    assert stored() == [(str(event_id), 14500)]

    target = f"{s.topic_prefix}.dlq:{record['partition']}:{record['offset']}"
    on_topic = [e for e in _audit_topic(s) if e["target"] == target]
    assert [(e["actor"], e["role"], e["action"], e["result"]) for e in on_topic] == [
        (operator, "operator", "dlq.edit", "refused"), (operator, "operator", "dlq.edit", "ok"),
        (operator, "operator", "dlq.edit", "ok")]
    assert len({e["entry_id"] for e in on_topic}) == 3
    ok = on_topic[1]
    assert ok["detail"].startswith(f"to {s.topic_prefix}.ingress.3305:")
    shown = [e for e in dashboard.get("/api/audit").json() if e["target"] == target]
    assert len(shown) == 3 and all(e["published"] for e in shown) and shown[0]["actor"] == operator
    if "before_digest" in replayed.json()[0]:  # keyed digests of the sealed record and of the replayed bytes
        assert ok["before_digest"] and ok["after_digest"] and ok["before_digest"] != ok["after_digest"]
        assert ok["after_digest"] == on_topic[2]["after_digest"]


def test_accounts_sessions_and_audit_on_sqlite_and_postgresql(pipeline: Settings, store_url: str) -> None:
    s = pipeline.model_copy(update={"dashboard_db_url": store_url})
    name, password = new_account(s, "operator")
    with TestClient(bootstrap.dashboard(s, interval_s=60)) as client:
        log_in(client, name, password)
        assert client.get("/api/session").json()["user"] == name
        disable_user(s, name, publish=False)
        assert client.get("/api/session").status_code == 401
    _, audit = bootstrap.ops_records(s)
    assert [(e["action"], e["target"]) for e in audit.recent()] == [("user.disable", f"user:{name}"),
                                                                     ("user.create", f"user:{name}")]


def test_a_cli_replay_is_audited_too(pipeline: Settings, dashboard: TestClient, settings: Settings) -> None:
    s = pipeline
    _reject_a_price(s)
    as_role(dashboard, s, "viewer")
    seen = {e["target"] for e in _audit_topic(s)}
    record = _wait("a DLQ record not replayed yet", lambda: next(
        (r for r in dashboard.get("/api/dlq").json() if f"{s.topic_prefix}.dlq:{r['id']}" not in seen), None), 180)
    env = {**os.environ, "SIMPUL_KAFKA_BOOTSTRAP": s.kafka.bootstrap, "SIMPUL_REGISTRY_URL": s.registry,
           "SIMPUL_TOPIC_PREFIX": s.topic_prefix, "SIMPUL_STATE_DIR": str(s.state_dir),
           "SIMPUL_SECRETS_DIR": str(settings.secrets_folder.resolve())}
    done = subprocess.run([sys.executable, "-m", "simpul", "dlq", "replay", record["id"], "--json"], env=env,
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    target = f"{s.topic_prefix}.dlq:{record['id']}"
    (entry,) = [e for e in _audit_topic(s) if e["target"] == target]
    assert entry["actor"].startswith("cli:") and entry["role"] == "cli"
    assert (entry["action"], entry["result"]) == ("dlq.replay", "ok")
    if "before_digest" in json.loads(done.stdout):  # as it was: the same bytes go back
        assert entry["before_digest"] == entry["after_digest"] is not None
    assert any(e["target"] == target for e in dashboard.get("/api/audit").json())


# ---- login rate limit, cookie flags, /metrics, headers -------------------------------------------------------------

def test_failed_logins_are_rate_limited(pipeline: Settings) -> None:
    name, password = new_account(pipeline, "viewer")
    with TestClient(bootstrap.dashboard(pipeline, interval_s=60)) as client:
        answers = [client.post("/login", data={"username": name, "password": password + "-wrong"},
                               follow_redirects=False) for _ in range(5)]
        unknown = client.post("/login", data={"username": "nobody-here", "password": "whatever-it-is"},
                              follow_redirects=False)
        assert [a.status_code for a in answers] == [401] * 5
        assert unknown.status_code == 429  # the address is past its limit too
        limited = client.post("/login", data={"username": name, "password": password}, follow_redirects=False)
        assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 301
        assert "simpul_session" not in limited.headers.get("set-cookie", "")
    with TestClient(bootstrap.dashboard(pipeline, interval_s=60)) as fresh:
        wrong_user = fresh.post("/login", data={"username": "nobody-here", "password": password},
                                follow_redirects=False)
        wrong_password = fresh.post("/login", data={"username": name, "password": password + "x"},
                                    follow_redirects=False)
        assert wrong_user.status_code == wrong_password.status_code == 401
        assert wrong_user.text == wrong_password.text  # the same answer for an unknown user and a bad password


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_session_cookie_flags(pipeline: Settings, scheme: str) -> None:
    name, password = new_account(pipeline, "viewer")
    with TestClient(bootstrap.dashboard(pipeline, interval_s=60), base_url=f"{scheme}://testserver") as client:
        answer = client.post("/login", data={"username": name, "password": password}, follow_redirects=False)
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"]
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert cookie.startswith("simpul_session=")
    assert "httponly" in attributes and "samesite=strict" in attributes and "path=/" in attributes
    max_age = next(int(a.split("=")[1]) for a in attributes if a.startswith("max-age="))
    assert 8 * 3600 <= max_age <= 12 * 3600
    assert ("secure" in attributes) == (scheme == "https")
    assert password not in cookie


def test_metrics_need_the_bearer_token(dashboard: TestClient, pipeline: Settings) -> None:
    assert dashboard.get("/metrics").status_code == 401
    assert dashboard.get("/metrics", headers={"Authorization": "Bearer not-the-token"}).status_code == 401
    as_role(dashboard, pipeline, "operator")
    assert dashboard.get("/metrics").status_code == 401  # a dashboard session is not the scrape token
    token = pipeline.secret("metrics_token")
    answer = dashboard.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and "simpul_monitor_up" in answer.text


def test_security_headers(dashboard: TestClient, pipeline: Settings) -> None:
    as_role(dashboard, pipeline, "viewer")
    page = dashboard.get("/")
    assert page.status_code == 200 and "<script>" not in page.text and "style=" not in page.text
    csp = page.headers["content-security-policy"]
    assert "unsafe-inline" not in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["x-frame-options"] == "DENY"
    for path in ("/api/dlq", "/api/overview", "/api/audit", "/api/session"):
        assert dashboard.get(path).headers["cache-control"] == "no-store", path


# ---- simpul users ---------------------------------------------------------------------------------------------------

def test_users_cli(pipeline: Settings, tmp_path: Path) -> None:
    env = {"SIMPUL_STATE_DIR": str(tmp_path / "state"), "SIMPUL_KAFKA_BOOTSTRAP": pipeline.kafka.bootstrap,
           "SIMPUL_TOPIC_PREFIX": pipeline.topic_prefix}
    runner = CliRunner()
    made = runner.invoke(users_cli, ["create", "siti", "--role", "operator", "--json"], env=env)
    assert made.exit_code == 0, made.output
    created = json.loads(made.stdout)
    assert created["role"] == "operator" and len(created["password"]) >= 32
    typed = runner.invoke(users_cli, ["create", "budi", "--role", "viewer", "--password-stdin"],
                          input="a typed password of some length\n", env=env)
    assert typed.exit_code == 0, typed.output
    assert "a typed password" not in typed.output
    listed = runner.invoke(users_cli, ["list", "--json"], env=env)
    rows = json.loads(listed.stdout)
    assert [(r["name"], r["role"], r["disabled_at"]) for r in rows] == [("budi", "viewer", None),
                                                                          ("siti", "operator", None)]
    assert created["password"] not in listed.stdout and "argon2" not in listed.stdout
    bad = runner.invoke(users_cli, ["create", "eko", "--role", "admin"], env=env)
    assert bad.exit_code == 1 and "role 'admin' is not one of viewer, operator" in bad.stderr
    assert runner.invoke(users_cli, ["disable", "budi"], env=env).exit_code == 0
    rows = json.loads(runner.invoke(users_cli, ["list", "--json"], env=env).stdout)
    assert rows[0]["disabled_at"] is not None

    s = pipeline.model_copy(update={"state_dir": tmp_path / "state"})
    with TestClient(bootstrap.dashboard(s, interval_s=60)) as client:
        log_in(client, "siti", created["password"])
        assert client.get("/api/session").json()["role"] == "operator"
        refused = client.post("/login", data={"username": "budi", "password": "a typed password of some length"},
                              follow_redirects=False)
        assert refused.status_code == 401
    entries = [(e["action"], e["target"]) for e in _audit_topic(pipeline) if e["target"] in ("user:siti", "user:budi")]
    assert entries == [("user.create", "user:siti"), ("user.create", "user:budi"), ("user.disable", "user:budi")]
