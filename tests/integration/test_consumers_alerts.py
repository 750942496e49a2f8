"""Alert dispatch on real Kafka into real SQLite and PostgreSQL, to webhook receivers served by this test."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import threading
from collections import defaultdict
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import sqlalchemy as sa
from confluent_kafka import Producer

from consumers.alerts import verify_signature
from consumers.store.db import connect
from consumers.store.tables import alert_deliveries, alerts
from simpul import bootstrap
from simpul.settings import Settings
from schemas.records import Alert, alert_id
from topics.catalog import topic_names

SECRET = secrets.token_urlsafe(32)
ATTEMPTS = 4


class Receiver:
    """An HTTP server that answers 500 to the first `fail_first` attempts per alert id (or always), then 200."""

    def __init__(self, fail_first: int | None) -> None:
        self.fail_first = fail_first
        self.attempts: dict[str, int] = defaultdict(int)
        self.accepted: list[tuple[str, dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                aid = self.headers["X-Simpul-Alert-Id"]
                with receiver.lock:
                    receiver.attempts[aid] += 1
                    ok = receiver.fail_first is not None and receiver.attempts[aid] > receiver.fail_first
                    if ok:
                        receiver.accepted.append((aid, dict(self.headers), body))
                self.send_response(200 if ok else 500)
                self.end_headers()
                self.wfile.write(b"ok" if ok else b"try again")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def dispatch(s: Settings, store_url: str, *args: str) -> dict:
    env = {**os.environ, "SIMPUL_KAFKA_BOOTSTRAP": s.kafka.bootstrap, "SIMPUL_REGISTRY_URL": s.registry,
           "SIMPUL_TOPIC_PREFIX": s.topic_prefix, "SIMPUL_ALERT_WEBHOOK_SECRET": SECRET,
           "SIMPUL_ALERT_RETRY_BASE_S": "0.05", "SIMPUL_ALERT_MAX_ATTEMPTS": str(ATTEMPTS)}
    cmd = [sys.executable, "-m", "simpul", "sink", "alerts", "--store-url", store_url, "--json", "--loglevel", "error", *args]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_each_alert_reaches_each_webhook_once_signed_and_a_dead_webhook_is_dead_lettered(
        settings: Settings, unique: str, store_url: str) -> None:
    s = settings.model_copy(update={"topic_prefix": f"a{unique}"})
    bootstrap.provision(s)
    now = datetime(2025, 3, 5, 3, 0, tzinfo=UTC)
    sent = [Alert(alert_id=alert_id("fee_above_tariff", ["3374", f"SR-{i}"]), rule="fee_above_tariff",
                  severity="warning", regency_code="3374", window_start=now, window_end=now, subject=["3374", f"SR-{i}"],
                  message=f"fee above tariff on SR-{i}", evidence_event_ids=[f"e{i}"], raised_at=now) for i in range(12)]
    producer = Producer(s.kafka.librdkafka(**{"acks": "all"}))
    for a in [*sent, *sent[:4]]:  # the processor raised four of them twice (e.g. after a restart)
        producer.produce(topic_names(s.topic_prefix).alerts.name, key=a.key(), value=a.to_bytes())
    assert producer.flush(30) == 0

    flaky, dead = Receiver(fail_first=2), Receiver(fail_first=None)
    try:
        stats = dispatch(s, store_url, "--once", "--webhook", flaky.url, "--webhook", dead.url)
        # a replay by a new group delivers nothing again
        again = dispatch(s, store_url, "--once", "--group", f"replay-{unique}", "--webhook", flaky.url,
                         "--webhook", dead.url)
    finally:
        flaky.close()
        dead.close()

    ids = {a.alert_id for a in sent}
    assert stats["delivered"] == 12 and stats["dead"] == 12
    assert again["delivered"] == 0 and again["dead"] == 0 and again["skipped"] == 24
    received = [aid for aid, _, _ in flaky.accepted]
    assert sorted(received) == sorted(ids)  # each alert exactly once with a 200
    assert all(n == 3 for n in flaky.attempts.values())
    for aid, headers, body in flaky.accepted:
        assert verify_signature(SECRET, headers["X-Simpul-Timestamp"], body, headers["X-Simpul-Signature"],
                                tolerance_s=600)
        assert not verify_signature("wrong", headers["X-Simpul-Timestamp"], body, headers["X-Simpul-Signature"])
        assert Alert.model_validate_json(body).alert_id == aid
    assert dict(dead.attempts) == {aid: ATTEMPTS for aid in ids}

    status = dispatch(s, store_url, "--status")
    assert status["alerts"] == 12
    assert status["webhooks"][flaky.url] == {"pending": 0, "delivered": 12, "dead": 0}
    assert status["webhooks"][dead.url] == {"pending": 0, "delivered": 0, "dead": 12}
    assert {d["alert_id"] for d in status["dead_letters"]} == ids
    assert all(d["attempts"] == ATTEMPTS and d["webhook"] == dead.url for d in status["dead_letters"])

    engine = connect(store_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(alerts)).scalar_one() == 12
            assert conn.execute(sa.select(sa.func.count()).select_from(alert_deliveries)).scalar_one() == 24
    finally:
        engine.dispose()
