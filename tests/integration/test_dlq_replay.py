"""A rejected event is fixed in the dashboard, replayed, and ends in the store exactly once.

Real chain: ingress topic -> gatekeeper (Faust) -> DLQ -> dashboard replay (fixed) -> gatekeeper -> canonical
topic -> store sink -> SQLite.
"""

from __future__ import annotations

import io
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
from confluent_kafka import Producer
from fastapi.testclient import TestClient
from private_platform import stop_processes

from schemas.codec import frame
from schemas.examples import example
from simpul import bootstrap
from simpul.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def _wait(what: str, check: Callable[[], object], deadline_s: float = 120) -> object:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {deadline_s:.0f} s waiting for {what}")


@pytest.fixture
def pipeline(settings: Settings, tmp_path: Path) -> Iterator[tuple[Settings, str]]:
    prefix = f"rp{uuid.uuid4().hex[:8]}"
    store = f"sqlite:///{tmp_path / 'store.sqlite'}"
    s = settings.model_copy(update={"topic_prefix": prefix, "store_url": store, "state_dir": tmp_path / "state"})
    bootstrap.provision(s)
    bootstrap.store_engine(s).dispose()
    env = {**os.environ, "SIMPUL_KAFKA_BOOTSTRAP": s.kafka.bootstrap, "SIMPUL_REGISTRY_URL": s.registry,
           "SIMPUL_TOPIC_PREFIX": prefix, "SIMPUL_STORE_URL": store, "SIMPUL_STATE_DIR": str(tmp_path / "state")}
    procs = [subprocess.Popen([sys.executable, "-m", "simpul", *args], env=env, cwd=REPO, start_new_session=True,
                              stdout=open(tmp_path / f"{name}.log", "wb"), stderr=subprocess.STDOUT)
             for name, args in (("gatekeeper", ["streams", "run", "gatekeeper"]), ("sink", ["sink", "store"]))]
    try:
        yield s, store
    finally:
        stop_processes(procs)


def test_fixed_dlq_record_ends_in_the_store_once(pipeline: tuple[Settings, str]) -> None:
    s, store = pipeline
    codec = bootstrap.codec(s)
    good = example("StapleFoodPriceObserved", regency_code="3305", event_id=uuid.uuid4(), case_id="PSR-3305-BERAS")
    datum = {**good.to_avro(), "price_idr": -14500}  # a broken scale in the market's system
    body = io.BytesIO()
    fastavro.schemaless_writer(body, codec.catalog.get("StapleFoodPriceObserved").parsed, datum)
    producer = Producer(s.kafka.librdkafka())
    producer.produce(f"{s.topic_prefix}.ingress.3305", key=good.ordering_key.encode(),
                     value=frame(codec.schema_id("StapleFoodPriceObserved"), body.getvalue()))
    assert producer.flush(30) == 0

    with TestClient(bootstrap.dashboard(s, interval_s=60)) as dashboard:
        rejected = _wait("the DLQ record", lambda: dashboard.get("/api/dlq").json(), 180)
        assert len(rejected) == 1
        record = rejected[0]
        assert record["reason"] == "invalid_event" and "price_idr" in record["message"]
        assert record["source_topic"] == f"{s.topic_prefix}.ingress.3305"
        assert record["payload"]["price_idr"] == -14500  # decoded for the operator to fix

        fixed = {"event_type": record["event_type"], **record["payload"], "price_idr": 14500}
        fixed["occurred_at"] = good.occurred_at.isoformat()
        still_bad = {**fixed, "price_idr": -1}
        refused = dashboard.post("/api/dlq/replay", json={"records": [
            {"partition": record["partition"], "offset": record["offset"], "fixed": still_bad}]})
        assert refused.status_code == 422 and "price_idr" in refused.json()["detail"]

        for _ in range(2):  # an operator who clicks twice replays twice; the bus keeps one
            replayed = dashboard.post("/api/dlq/replay", json={"records": [
                {"partition": record["partition"], "offset": record["offset"], "fixed": fixed}]})
            assert replayed.status_code == 200, replayed.text
            assert replayed.json()[0]["to"] == f"{s.topic_prefix}.ingress.3305"

    engine = sa.create_engine(store)

    def stored() -> list[tuple[str, int]]:
        with engine.connect() as conn:
            return conn.execute(sa.text("select event_id, json_extract(payload, '$.price_idr') from events_economy")).all()

    rows = _wait("the replayed event in the store", stored, 180)
    time.sleep(5)  # the second replay has had time to arrive too
    rows = stored()
    assert rows == [(str(good.event_id), 14500)]
