"""Webhook signatures, the backoff schedule, dispatcher retries (HTTP mocked by httpx.MockTransport)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from consumers.alerts import sign, verify_signature
from consumers.alerts.dispatch import AlertDispatcher, backoff_schedule, delivery_status
from simpul.settings import load_settings
from consumers.store.db import connect, migrate
from schemas.records import Alert, alert_id


def test_signature_round_trip_and_tampering() -> None:
    body = b'{"alert_id": "x"}'
    header = sign("s3cret", "1700000000", body)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert verify_signature("s3cret", "1700000000", body, header)
    assert not verify_signature("s3cret", "1700000000", body + b" ", header)
    assert not verify_signature("other", "1700000000", body, header)
    assert not verify_signature("s3cret", "1700000001", body, header)
    assert not verify_signature("s3cret", "1700000000", body, None)
    assert verify_signature("s3cret", "1700000000", body, header, tolerance_s=60, now=1700000030)
    assert not verify_signature("s3cret", "1700000000", body, header, tolerance_s=60, now=1700000090)


def test_backoff_doubles_and_is_capped() -> None:
    assert backoff_schedule(0.2, 30, 5) == [0.2, 0.4, 0.8, 1.6]
    assert backoff_schedule(1, 3, 5) == [1, 2, 3, 3]
    assert backoff_schedule(1, 3, 1) == []


def test_settings_split_webhooks(monkeypatch) -> None:
    monkeypatch.setenv("SIMPUL_ALERT_WEBHOOKS", "http://a/x, http://b/y")
    cs = load_settings()
    assert cs.alert_webhooks == ("http://a/x", "http://b/y") and "secret" not in repr(cs.alert_webhook_secret)


def _alert(i: int) -> Alert:
    now = datetime(2025, 3, 3, tzinfo=UTC)
    return Alert(alert_id=alert_id("air_quality", ["3374", f"S{i}"]), rule="air_quality", severity="critical",
                 regency_code="3374", window_start=now, window_end=now, subject=["3374", f"S{i}"], message="pm25",
                 evidence_event_ids=[], raised_at=now)


def test_dispatcher_retries_then_delivers_once_and_dead_letters(tmp_path) -> None:
    calls: dict[str, int] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        key = f"{request.url.host}:{request.headers['X-Simpul-Alert-Id']}"
        calls[key] = calls.get(key, 0) + 1
        assert verify_signature("k", request.headers["X-Simpul-Timestamp"], request.content,
                                request.headers["X-Simpul-Signature"])
        if request.url.host == "good" and calls[key] > 1:
            return httpx.Response(200)
        return httpx.Response(503)

    engine = connect(f"sqlite:///{tmp_path / 's.sqlite'}")
    migrate(engine)
    slept: list[float] = []
    d = AlertDispatcher(engine, ["http://good/h", "http://bad/h"], "k", max_attempts=3, retry_base_s=0.5,
                        client=httpx.Client(transport=httpx.MockTransport(handler)), sleep=slept.append)
    results = d.dispatch([_alert(1), _alert(2), _alert(1)])
    assert sorted(r.status for r in results) == ["dead", "dead", "delivered", "delivered"]
    assert sorted(slept) == sorted([0.5] * 2 + [0.5, 1.0] * 2)
    assert d.dispatch([_alert(1), _alert(2)]) == []  # replay: nothing delivered twice
    status = delivery_status(engine)
    assert status["deliveries"] == {"pending": 0, "delivered": 2, "dead": 2}
    assert {x["webhook"] for x in status["dead_letters"]} == {"http://bad/h"}
    assert all(x["attempts"] == 3 and "503" in x["last_error"] for x in status["dead_letters"])
    retried = d.retry_dead()
    assert [r.status for r in retried] == ["dead", "dead"]
    assert delivery_status(engine)["dead_letters"][0]["attempts"] == 6
    engine.dispose()
