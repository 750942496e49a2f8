"""A regency learns what became of every record it sent, even straight to Kafka, and no other regency does.

Regency 3374 writes four records to its ingress topic with a plain Kafka producer (no SDK, no gateway): a valid
event, an invalid one carrying a NIK in a field where no NIK belongs, the valid event again, and bytes that are not
Avro. The real gatekeeper (`simpul streams run gatekeeper`) and the real gateway process (`simpul gateway`) run on a
prefix of their own. Then:
- 3374's outcome topic holds one record per input, keyed by event id, with the reason and the offending fields,
  and no NIK;
- the gateway answers 3374's key: `GET /v1/events/{id}` (routed with its duplicate; rejected with reason and field)
  and `GET /v1/rejections?since=...` (both rejections, paged);
- 3301's key gets 404 for 3374's events and an empty list of rejections: nothing of 3374's records.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from confluent_kafka import Consumer, Producer

import harness as h
from producers.gateway.store import GatewayStore
from schemas.codec import AvroCodec
from schemas.examples import example
from schemas.feedback import RegencyOutcome, parse_outcome
from simpul.settings import Settings
from simpul.platform.probes import free_port_block

pytestmark = pytest.mark.integration

NIK = "3374015502900001"
NIK_RUN = re.compile(rb"[0-9]{16}")


class Run:
    def __init__(self, pipeline: h.Pipeline, gateway: str, keys: dict[str, str], sent: dict[str, str]) -> None:
        self.p, self.gateway, self.keys, self.sent = pipeline, gateway, keys, sent

    def get(self, path: str, regency: str, **params: str) -> httpx.Response:
        return httpx.get(f"{self.gateway}{path}", params=params, headers={"X-API-Key": self.keys[regency]}, timeout=10)



@pytest.fixture(scope="module")
def run(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    p = h.Pipeline(settings, f"rof{uuid.uuid4().hex[:6]}", tmp_path_factory.mktemp("outcomes"))
    gateway: subprocess.Popen[bytes] | None = None
    try:
        p.provision()
        p.start("gatekeeper")
        store = GatewayStore(p.settings.gateway_db)
        keys = {code: store.create_key(code, "outcomes test").secret for code in ("3374", "3301")}
        store.engine.dispose()
        port = free_port_block(1)[0]
        log = p.state / "gateway.log"
        with log.open("wb") as out:
            gateway = subprocess.Popen([sys.executable, "-m", "simpul", "gateway", "--port", str(port)],
                                       env={**p.env(), "SIMPUL_PROVIDER": "external"}, cwd=h.ROOT, stdout=out,
                                       stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            assert gateway is not None and gateway.poll() is None, log.read_text()[-3000:]
            try:
                return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        h.wait_for("the gateway answers", up, timeout=60)
        yield Run(p, base, keys, _send_by_plain_kafka(p))
    finally:
        if gateway is not None:
            h.terminate(gateway)
        p.cleanup()


def _send_by_plain_kafka(p: h.Pipeline) -> dict[str, str]:
    """What a regency's own Kafka client writes: Confluent-framed Avro, and once garbage."""
    codec = AvroCodec.from_url(p.settings.registry)
    good = example("ServiceRequestSubmitted", event_id=uuid.uuid4(), case_id=f"SR-3374-{uuid.uuid4().hex[:8]}")
    bad = example("ServiceRequestSubmitted", event_id=uuid.uuid4(), case_id=f"SR-3374-{uuid.uuid4().hex[:8]}")
    bad_datum = {**bad.to_avro(), "service_code": NIK, "fee_charged_idr": -5}
    topic = p.topics.ingress("3374").name
    producer = Producer({"bootstrap.servers": p.settings.kafka.bootstrap, "enable.idempotence": True})
    records = [(good.ordering_key, codec.encode(good)),
               (bad.ordering_key, codec.encode_datum("ServiceRequestSubmitted", bad_datum)),
               (good.ordering_key, codec.encode(good)),
               ("3374:garbage", b"not avro at all " + NIK.encode())]
    for key, value in records:
        producer.produce(topic, value, key.encode())
        producer.flush(30)  # one at a time: the duplicate comes after its first copy
    assert producer.flush(30) == 0
    return {"good": str(good.event_id), "bad": str(bad.event_id), "bad_case": bad.case_id}


def _outcome_topic(run: Run, regency: str, n: int) -> list[tuple[bytes, bytes]]:
    consumer = Consumer({"bootstrap.servers": run.p.settings.kafka.bootstrap, "auto.offset.reset": "earliest",
                         "group.id": f"{run.p.prefix}-regency-{regency}-outcomes", "enable.auto.commit": False})
    consumer.subscribe([run.p.topics.find("outcomes", regency=regency).name])
    got: list[tuple[bytes, bytes]] = []

    def read() -> bool:
        for m in consumer.consume(100, timeout=0.5):
            assert m.error() is None, m.error()
            got.append((m.key(), m.value()))
        return len(got) >= n

    try:
        h.wait_for(f"{n} outcome records of {regency}", read, timeout=90)
    finally:
        consumer.close()
    return got


def test_the_outcome_topic_tells_each_record_with_reason_and_field_and_no_nik(run: Run) -> None:
    records = _outcome_topic(run, "3374", 4)
    assert len(records) == 4
    outcomes = [parse_outcome(v) for _k, v in records]
    assert all(not NIK_RUN.search(v) for _k, v in records)
    by = {(o.event_id, o.status.value) for o in outcomes}
    assert {(run.sent["good"], "routed"), (run.sent["good"], "duplicate"), (run.sent["bad"], "rejected")} <= by
    bad = next(o for o in outcomes if o.event_id == run.sent["bad"])
    assert (bad.reason, bad.case_id) == ("invalid_event", run.sent["bad_case"])
    assert {"service_code", "fee_charged_idr"} <= {p.field for p in bad.problems}
    garbage = next(o for o in outcomes if o.event_id is None)
    assert (garbage.reason, garbage.field) == ("undecodable", "<record>")
    assert {k for k, _v in records} == {run.sent["good"].encode(), run.sent["bad"].encode(), garbage.source.encode()}
    assert all(o.regency_code == "3374" for o in outcomes)


def _settled(run: Run, event_id: str, status: str) -> dict:  # type: ignore[type-arg]
    found: dict = {}  # type: ignore[type-arg]

    def answered() -> bool:
        r = run.get(f"/v1/events/{event_id}", "3374")
        assert r.status_code in (200, 404), r.text
        found.update(r.json())
        return r.status_code == 200 and r.json()["status"] == status
    h.wait_for(f"the gateway tells {event_id} {status}", answered, timeout=90)
    return found


def test_the_regency_reads_its_outcomes_over_http(run: Run) -> None:
    bad = _settled(run, run.sent["bad"], "rejected")
    (only,) = bad["outcomes"]
    assert (only["status"], only["reason"], only["field"] in ("service_code", "fee_charged_idr")) == (
        "rejected", "invalid_event", True)
    assert {"service_code", "fee_charged_idr"} <= {p["field"] for p in only["problems"]}
    good = _settled(run, run.sent["good"], "routed")
    h.wait_for("the duplicate is told too",
               lambda: len(run.get(f"/v1/events/{run.sent['good']}", "3374").json()["outcomes"]) == 2, timeout=60)
    statuses = [o["status"] for o in run.get(f"/v1/events/{run.sent['good']}", "3374").json()["outcomes"]]
    assert sorted(statuses) == ["duplicate", "routed"] and good["regency_code"] == "3374"

    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    page = run.get("/v1/rejections", "3374", since=since).json()
    reasons = sorted((r["event_id"] or "", r["reason"]) for r in page["rejections"])
    assert reasons == sorted([(run.sent["bad"], "invalid_event"), ("", "undecodable")])
    first = run.get("/v1/rejections", "3374", since=since, limit="1").json()
    assert len(first["rejections"]) == 1 and first["next_since"] and first["next_after"]
    second = run.get("/v1/rejections", "3374", since=first["next_since"], after=first["next_after"], limit="1").json()
    assert [r["source"] for r in first["rejections"] + second["rejections"]] == [r["source"] for r in page["rejections"]]
    later = run.get("/v1/rejections", "3374", since=(datetime.now(UTC) + timedelta(minutes=1)).isoformat()).json()
    assert later["rejections"] == []
    for answer in (bad, good, page):
        assert NIK not in str(answer)
    assert RegencyOutcome.model_validate(page["rejections"][0])


def test_another_regency_gets_nothing_of_them(run: Run) -> None:
    _settled(run, run.sent["bad"], "rejected")
    for event_id in (run.sent["good"], run.sent["bad"]):
        r = run.get(f"/v1/events/{event_id}", "3301")
        assert r.status_code == 404, r.text
        assert r.json()["error"] == "not_found"
        assert run.sent["bad_case"] not in r.text and "service_code" not in r.text and "3374" not in r.text
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert run.get("/v1/rejections", "3301", since=since).json() == {
        "rejections": [], "next_since": None, "next_after": None}
    assert httpx.get(f"{run.gateway}/v1/rejections", timeout=10).status_code == 401
    db = Path(run.p.settings.gateway_db.removeprefix("sqlite:///"))
    files = [f for f in db.parent.iterdir() if f.name.startswith(db.name)]  # the database and its WAL
    assert sum(os.path.getsize(f) for f in files) > 0
    assert not any(NIK.encode() in f.read_bytes() for f in files)
