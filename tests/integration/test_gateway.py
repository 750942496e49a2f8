"""The HTTP ingress gateway against the real broker and registry: 202 with acks, 401/403/413/422, retries."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator

import anyio
import pytest
from confluent_kafka import Consumer, TopicPartition
from fastapi.testclient import TestClient

from producers.gateway.body import body_limit
from schemas.codec import AvroCodec
from schemas.examples import example
from schemas.models import model_for
from simpul import bootstrap
from simpul.settings import Settings


@pytest.fixture(scope="module")
def gw_settings(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    prefix = f"gw{uuid.uuid4().hex[:8]}"
    state = tmp_path_factory.mktemp("gateway")
    s = settings.model_copy(update={"topic_prefix": prefix, "gateway_db_url": f"sqlite:///{state / 'gw.sqlite'}"})
    bootstrap.provision(s)
    return s


@pytest.fixture(scope="module")
def client(gw_settings: Settings) -> Iterator[TestClient]:
    with TestClient(bootstrap.gateway(gw_settings)) as c:
        yield c


@pytest.fixture(scope="module")
def keys(gw_settings: Settings) -> dict[str, str]:
    from producers.gateway.store import GatewayStore

    store = GatewayStore(gw_settings.gateway_db)
    return {code: store.create_key(code, label="test").secret for code in ("3374", "3301")}


def _event(regency: str = "3374", **overrides: object) -> dict[str, object]:
    e = example("ServiceRequestSubmitted", regency_code=regency, event_id=uuid.uuid4(),
                case_id=f"REQ-{uuid.uuid4().hex[:8]}", **overrides)
    return {"event_type": "ServiceRequestSubmitted", **e.model_dump(mode="json")}


def _read_topic(settings: Settings, topic: str) -> list[tuple[bytes, bytes]]:
    consumer = Consumer(settings.kafka.librdkafka(**{"group.id": f"read-{uuid.uuid4().hex}",
                                                     "enable.auto.commit": False}))
    md = consumer.list_topics(topic, timeout=10).topics[topic]
    records = []
    for p in md.partitions:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        if high <= low:
            continue
        consumer.assign([TopicPartition(topic, p, low)])
        while True:
            msg = consumer.poll(5)
            assert msg is not None and msg.error() is None
            records.append((msg.key(), msg.value()))
            if msg.offset() >= high - 1:
                break
    consumer.close()
    return records


def test_valid_batch_lands_on_the_regency_topic(client: TestClient, keys: dict[str, str], gw_settings: Settings) -> None:
    batch = [_event() for _ in range(50)]
    r = client.post("/v1/events", json={"events": batch}, headers={"X-API-Key": keys["3374"]})
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["accepted"] == 50 and body["duplicates"] == 0
    topic = f"{gw_settings.topic_prefix}.ingress.3374"
    assert {res["topic"] for res in body["results"]} == {topic}
    codec = AvroCodec.from_url(gw_settings.registry)
    on_topic = {str(codec.decode(value).event_id): key for key, value in _read_topic(gw_settings, topic)}
    for sent in batch:
        assert on_topic[sent["event_id"]] == f"3374:{sent['case_id']}".encode()


def test_retried_batch_adds_no_copies(client: TestClient, keys: dict[str, str], gw_settings: Settings) -> None:
    topic = f"{gw_settings.topic_prefix}.ingress.3301"
    batch = [_event("3301") for _ in range(20)]
    first = client.post("/v1/events", json={"events": batch}, headers={"X-API-Key": keys["3301"]})
    before = len(_read_topic(gw_settings, topic))
    second = client.post("/v1/events", json={"events": batch}, headers={"Authorization": f"Bearer {keys['3301']}"})
    assert first.status_code == second.status_code == 202
    assert second.json()["duplicates"] == 20 and second.json()["accepted"] == 0
    strip = [{k: v for k, v in r.items() if k != "status"} for r in first.json()["results"]]
    assert strip == [{k: v for k, v in r.items() if k != "status"} for r in second.json()["results"]]
    assert len(_read_topic(gw_settings, topic)) == before


def test_wrong_key_is_401(client: TestClient) -> None:
    assert client.post("/v1/events", json=_event(), headers={"X-API-Key": "smp_3374_00000000_nope"}).status_code == 401
    r = client.post("/v1/events", json=_event())
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"


def test_another_regencys_event_is_403(client: TestClient, keys: dict[str, str]) -> None:
    r = client.post("/v1/events", json={"events": [_event("3374"), _event("3301")]},
                    headers={"X-API-Key": keys["3374"]})
    assert r.status_code == 403
    assert r.json()["problems"] == [{"index": 1, "field": "regency_code",
                                     "reason": "3301 is not this key's regency 3374"}]


def test_invalid_event_is_422_naming_the_field(client: TestClient, keys: dict[str, str]) -> None:
    bad = _event(fee_charged_idr=0)
    bad["fee_charged_idr"] = -5000
    del bad["service_code"]
    r = client.post("/v1/events", json={"events": [_event(), bad]}, headers={"X-API-Key": keys["3374"]})
    assert r.status_code == 422
    fields = {(p["index"], p["field"]) for p in r.json()["problems"]}
    assert fields == {(1, "fee_charged_idr"), (1, "service_code")}


def test_too_many_events_is_413_and_garbage_400(client: TestClient, keys: dict[str, str]) -> None:
    headers = {"X-API-Key": keys["3374"]}
    assert client.post("/v1/events", json={"events": [_event()] * 1001}, headers=headers).status_code == 413
    r = client.post("/v1/events", content=b"{not json", headers={**headers, "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["problems"][0]["field"] == "<body>"


def test_health_and_openapi(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"kafka": True, "registry": True}
    doc = client.get("/openapi.json").json()
    body = doc["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]
    assert set(body["examples"]) == {"batch", "single"}
    responses = doc["paths"]["/v1/events"]["post"]["responses"]
    assert {"202", "400", "401", "403", "413", "422", "503"} <= set(responses)
    # the text says what the gateway does: the key before the body, the byte limit, HTTPS
    assert "before any of the body is read" in responses["401"]["description"]
    assert f"{body_limit(1000):,} bytes" in responses["413"]["description"]
    description = doc["info"]["description"]
    assert "HTTPS" in description and "--tls-cert" in description
    assert "checked before the body is read" in description and f"{body_limit(1000):,} bytes" in description


def test_no_key_is_refused_without_reading_the_body(client: TestClient) -> None:
    """Called as uvicorn calls it: the app answers 401 (closing the connection) and never asks for the body."""
    asked: list[str] = []

    async def receive() -> dict[str, object]:
        asked.append("body")
        raise AssertionError("the gateway asked for the body of an unauthenticated request")

    sent: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    for headers in ([], [(b"x-api-key", b"smp_3374_00000000_nope")]):
        sent.clear()
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "scheme": "http", "path": "/v1/events", "raw_path": b"/v1/events", "query_string": b"",
                 "root_path": "", "server": ("127.0.0.1", 18000), "client": ("127.0.0.1", 50000),
                 "headers": [(b"content-type", b"application/json"), (b"content-length", b"104857600"), *headers]}
        anyio.run(client.app, scope, receive, send)  # type: ignore[arg-type]
        start = sent[0]
        assert start["status"] == 401 and (b"connection", b"close") in start["headers"]  # type: ignore[operator]
    assert asked == []


def test_body_over_the_byte_limit_is_413(client: TestClient, keys: dict[str, str]) -> None:
    limit = body_limit(1000)
    events = [_event()]
    padded = json.dumps({"events": events}).encode() + b" " * limit
    for extra in ({}, {"Transfer-Encoding": "chunked"}):
        r = client.post("/v1/events", content=iter([padded[:1000], padded[1000:]]) if extra else padded,
                        headers={"X-API-Key": keys["3374"], "Content-Type": "application/json", **extra})
        assert r.status_code == 413, r.text
        assert r.json()["problems"] == [{"index": None, "field": "<body>", "reason": f"more than {limit:,} bytes"}]
        assert r.headers["connection"] == "close"
    exact = json.dumps({"events": events}).encode()
    r = client.post("/v1/events", content=exact + b" " * (limit - len(exact)),
                    headers={"X-API-Key": keys["3374"], "Content-Type": "application/json"})
    assert r.status_code == 202, r.text  # up to the limit is fine


def test_problems_never_repeat_the_value_sent(client: TestClient, keys: dict[str, str]) -> None:
    r = client.post("/v1/events", json={"events": [{**_event(), "regency_code": "3399"},
                                                   {**_event(), "service_code": "NO_SUCH"},
                                                   {**_event(), "event_type": "NoSuchEvent"}]},
                    headers={"X-API-Key": keys["3374"]})
    assert r.status_code == 422
    reasons = {p["field"]: p["reason"] for p in r.json()["problems"]}
    assert set(reasons) == {"regency_code", "service_code", "event_type"}
    assert reasons["regency_code"].startswith("the value is not one of the 35 Central Java regency codes")
    assert "3399" not in r.text and "NO_SUCH" not in r.text and "NoSuchEvent" not in r.text


def test_retry_digest_is_keyed_and_a_reused_event_id_is_refused(client: TestClient, keys: dict[str, str],
                                                                  gw_settings: Settings) -> None:
    from producers.gateway.digest import RetryDigest
    from producers.gateway.store import GatewayStore, Outcome

    event = _event()
    headers = {"X-API-Key": keys["3374"]}
    assert client.post("/v1/events", json=event, headers=headers).status_code == 202
    store = GatewayStore(gw_settings.gateway_db)
    row = store.outcomes_for([event["event_id"]])[event["event_id"]]  # type: ignore[index]
    canonical = model_for("ServiceRequestSubmitted").model_validate(
        {k: v for k, v in event.items() if k != "event_type"}).model_dump_json()
    digest = RetryDigest(gw_settings.secret("gateway_digest_key"))
    assert row.payload_hmac == digest.of(canonical) and row.digest_key_id == digest.key_id
    assert row.payload_hmac != hashlib.sha256(canonical.encode()).hexdigest()

    changed = client.post("/v1/events", json={**event, "fee_charged_idr": 5000}, headers=headers)
    assert changed.status_code == 422
    assert changed.json()["problems"][0]["field"] == "event_id"
    # an event accepted before digests were keyed (its unkeyed digest dropped by the migration): a duplicate
    legacy = _event()
    store.record([Outcome(str(legacy["event_id"]), "3374", None, None, "earlier.ingress.3374", 0, 7)])
    again = client.post("/v1/events", json=legacy, headers=headers)
    assert again.status_code == 202 and again.json()["results"][0]["status"] == "duplicate"
    assert again.json()["results"][0]["topic"] == "earlier.ingress.3374"
    store.engine.dispose()
