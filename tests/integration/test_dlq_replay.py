"""The DLQ end to end: records rejected by the real gatekeeper are sealed, shown with NIKs masked, replayed as they
were or fixed (an operator leaves a masked NIK in place and the event still carries the original NIK's token),
and nothing of a NIK a sender wrote reaches any topic past ingress in the clear.

Real chain: a plain Kafka producer on the ingress topic -> gatekeeper -> DLQ -> `DlqBrowser` (what the dashboard
calls) and `simpul dlq` -> gatekeeper -> canonical topic -> store sink -> SQLite.
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
from typing import Any

import fastavro
import pytest
import sqlalchemy as sa
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from private_platform import stop_processes

import harness as h
from monitor.dlq import DlqRecord, ReplayError
from schemas.codec import frame
from schemas.examples import example
from schemas.nik import NikContext, tokenise_nik
from schemas.outcomes import Header
from simpul import bootstrap
from simpul.settings import Settings

REPO = Path(__file__).resolve().parents[2]
TOKEN_SHAPED = "3374015502900017"  # sent as `nik:<16 digits>`
REJECTED_RAW = "3374014107770031"  # a raw NIK in a record rejected for a fee below zero
IN_KEY = "3374016608850023"  # a raw NIK as the record key and in a sender's header


def _wait(what: str, check: Callable[[], Any], deadline_s: float = 120) -> Any:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {deadline_s:.0f} s waiting for {what}")


class Run:
    """One prefix with a gatekeeper and a store sink running as `python -m simpul` subprocesses."""

    def __init__(self, settings: Settings, store: str, env: dict[str, str]) -> None:
        self.s, self.store, self.env = settings, store, env
        self.codec = bootstrap.codec(settings)
        self.browser = bootstrap.dlq_browser(settings)
        self.prefix = settings.topic_prefix

    def produce(self, topic: str, event_type: str, datum: dict[str, Any], key: bytes,
                headers: list[tuple[str, bytes]] | None = None) -> None:
        """A plain Kafka client and our codec's framing, any datum (no model in the way)."""
        body = io.BytesIO()
        fastavro.schemaless_writer(body, self.codec.catalog.get(event_type).parsed, datum)
        producer = Producer(self.s.kafka.librdkafka(**{"acks": "all"}))
        producer.produce(topic, key=key, value=frame(self.codec.schema_id(event_type), body.getvalue()),
                         headers=headers or [])
        assert producer.flush(30) == 0

    def dlq_for(self, event_id: uuid.UUID, count: int = 1, deadline_s: float = 180) -> list[DlqRecord]:
        def found() -> list[DlqRecord]:
            records = [r for r in self.browser.latest(1000) if (r.payload or {}).get("event_id") == str(event_id)]
            return records if len(records) >= count else []
        # in the order they were read from ingress (DLQ records of one source spread over the DLQ's partitions)
        return sorted(_wait(f"{count} DLQ record(s) of {event_id}", found, deadline_s),
                      key=lambda r: (r.source_topic, r.source_partition or 0, r.source_offset or 0))

    def cli(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "simpul", *args], env=self.env, cwd=REPO, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout


@pytest.fixture
def run(settings: Settings, tmp_path: Path) -> Iterator[Run]:
    prefix = f"rp{uuid.uuid4().hex[:8]}"
    store = f"sqlite:///{tmp_path / 'store.sqlite'}"
    s = settings.model_copy(update={"topic_prefix": prefix, "store_url": store, "state_dir": tmp_path / "state"})
    bootstrap.provision(s)
    bootstrap.store_engine(s).dispose()
    env = {**os.environ, "SIMPUL_KAFKA_BOOTSTRAP": s.kafka.bootstrap, "SIMPUL_REGISTRY_URL": s.registry,
           "SIMPUL_TOPIC_PREFIX": prefix, "SIMPUL_STORE_URL": store, "SIMPUL_STATE_DIR": str(tmp_path / "state"),
           "SIMPUL_NIK_HMAC_KEY": s.secret("nik_hmac_key"), "SIMPUL_DLQ_KEY": s.secret("dlq_key")}
    procs = [subprocess.Popen([sys.executable, "-m", "simpul", *args], env=env, cwd=REPO, start_new_session=True,
                              stdout=open(tmp_path / f"{name}.log", "wb"), stderr=subprocess.STDOUT)
             for name, args in (("gatekeeper", ["streams", "run", "gatekeeper"]), ("sink", ["sink", "store"]))]
    try:
        yield Run(s, store, env)
    finally:
        stop_processes(procs)


def test_fixed_dlq_record_ends_in_the_store_once(run: Run) -> None:
    good = example("StapleFoodPriceObserved", regency_code="3305", event_id=uuid.uuid4(), case_id="PSR-3305-BERAS")
    ingress = f"{run.prefix}.ingress.3305"
    run.produce(ingress, "StapleFoodPriceObserved", {**good.to_avro(), "price_idr": -14500}, good.ordering_key.encode())

    (record,) = run.dlq_for(good.event_id)
    assert record.reason == "invalid_event" and "price_idr" in record.message
    assert record.source_topic == ingress and record.sealed and record.problem is None
    assert record.payload is not None and record.payload["price_idr"] == -14500  # decoded for the operator to fix

    fixed = {"event_type": record.event_type, **record.payload, "price_idr": 14500,
             "occurred_at": good.occurred_at.isoformat()}
    with pytest.raises(ReplayError, match="price_idr"):
        run.browser.replay(record.partition, record.offset, {**fixed, "price_idr": -1})
    with pytest.raises(ReplayError, match="regency_code"):  # another regency's event, through this topic: never
        run.browser.replay(record.partition, record.offset, {**fixed, "regency_code": "3301"})

    for _ in range(2):  # an operator who replays twice; the bus keeps one
        done = run.browser.replay(record.partition, record.offset, fixed)
        assert done["to"] == ingress and done["fixed"] is True
        assert done["before_digest"] != done["after_digest"] and len(done["after_digest"]) == 64

    engine = sa.create_engine(run.store)

    def stored() -> list[tuple[str, int]]:
        with engine.connect() as conn:
            return conn.execute(sa.text("select event_id, json_extract(payload, '$.price_idr') from events_economy")).all()

    _wait("the replayed event in the store", stored, 180)
    time.sleep(5)  # the second replay has had time to arrive too
    assert stored() == [(str(good.event_id), 14500)]


def test_replay_as_it_was_writes_the_original_bytes_back(run: Run) -> None:
    event = example("ServiceRequestSubmitted", event_id=uuid.uuid4(), applicant_nik=REJECTED_RAW)
    ingress = f"{run.prefix}.ingress.3374"
    run.produce(ingress, "ServiceRequestSubmitted", {**event.to_avro(), "fee_charged_idr": -5},
                event.ordering_key.encode(), [("x-trace", b"t-1")])
    (first,) = run.dlq_for(event.event_id)
    done = run.browser.replay(first.partition, first.offset)
    assert done["to"] == ingress and done["fixed"] is False
    assert done["before_digest"] == done["after_digest"]  # the same bytes went back

    # screened again: the same bytes fail the same way, and the new DLQ record seals the very same original
    first_again, second = run.dlq_for(event.event_id, count=2)
    differs = {k: (v, first.model_dump()[k]) for k, v in first_again.model_dump().items() if first.model_dump()[k] != v}
    assert not differs, differs
    assert second.reason == first.reason and second.payload == first.payload
    assert (second.source_topic, second.source_offset) == (ingress, done["offset"]) and second.key == first.key
    assert run.browser.replay(second.partition, second.offset)["before_digest"] == done["before_digest"]


def test_fixed_with_the_nik_left_masked_carries_the_original_nik_token(run: Run) -> None:
    event = example("ServiceRequestSubmitted", event_id=uuid.uuid4(), applicant_nik=REJECTED_RAW)
    run.produce(f"{run.prefix}.ingress.3374", "ServiceRequestSubmitted", {**event.to_avro(), "fee_charged_idr": -5},
                event.ordering_key.encode())
    (record,) = run.dlq_for(event.event_id)
    listed = run.cli("dlq", "list", "--json")
    assert str(event.event_id) in listed and REJECTED_RAW not in listed
    shown = next(r for r in json.loads(listed) if (r["payload"] or {}).get("event_id") == str(event.event_id))
    assert shown["payload"]["applicant_nik"] == "3374************"

    fixed = {**shown["payload"], "event_type": shown["event_type"], "fee_charged_idr": 0,
             "occurred_at": event.occurred_at.isoformat()}  # the NIK left as shown: masked
    path = Path(run.env["SIMPUL_STATE_DIR"]).parent / "fixed.json"
    path.write_text(json.dumps(fixed))
    done = json.loads(run.cli("dlq", "replay", record.id, "--fixed", str(path), "--json"))
    assert done["fixed"] is True and REJECTED_RAW not in json.dumps(done)

    want = tokenise_nik(run.s.secret("nik_hmac_key").encode(), REJECTED_RAW)

    def routed() -> list[Any]:
        return [e for m in h.read_all(run.s, [f"{run.prefix}.events.governance"])
                if (e := run.codec.decode(m.value(), NikContext.CANONICAL)).event_id == event.event_id]

    (canonical,) = _wait("the fixed event on the canonical topic", routed, 180)
    assert canonical.applicant_nik == want and canonical.fee_charged_idr == 0


def test_replay_refuses_a_record_that_was_moved_or_names_another_topic(run: Run) -> None:
    event = example("ServiceRequestSubmitted", event_id=uuid.uuid4())
    run.produce(f"{run.prefix}.ingress.3374", "ServiceRequestSubmitted", {**event.to_avro(), "fee_charged_idr": -5},
                event.ordering_key.encode())
    (record,) = run.dlq_for(event.event_id)
    (msg,) = [m for m in h.read_all(run.s, [run.browser.topic]) if m.offset() == record.offset
              and m.partition() == record.partition]
    forged = Producer(run.s.kafka.librdkafka(**{"acks": "all"}))
    for topic in (f"{run.prefix}.ingress.3301", f"{run.prefix}.events.governance", "elsewhere.ingress.3374"):
        headers = [(k, topic.encode() if k == Header.SOURCE_TOPIC else v) for k, v in msg.headers()]
        forged.produce(run.browser.topic, value=msg.value(), headers=headers, partition=record.partition)
    assert forged.flush(30) == 0
    copies = [r for r in run.browser.latest(1000) if r.offset > record.offset and r.partition == record.partition]
    assert len(copies) == 3 and all(r.payload is None and r.problem for r in copies)
    for copy in copies:
        with pytest.raises(ReplayError, match="cannot be opened|not an ingress topic of this prefix"):
            run.browser.replay(copy.partition, copy.offset)


def test_no_nik_a_sender_wrote_reaches_a_topic_past_ingress(run: Run) -> None:
    """Token-shaped NIKs, a raw NIK in a rejected record, a raw NIK as key and header of a valid one: read every
    topic of the prefix but the ingress topics, keys, values, header names and values, and the DLQ listing."""
    base = example("ServiceRequestSubmitted").to_avro()
    ingress = f"{run.prefix}.ingress.3374"
    sent = [uuid.uuid4() for _ in range(4)]
    run.produce(ingress, "ServiceRequestSubmitted", {**base, "event_id": str(sent[0]),
                                                      "applicant_nik": f"nik:{TOKEN_SHAPED}"}, b"3374:A")
    aid = example("SocialAidDisbursed").to_avro()
    run.produce(ingress, "SocialAidDisbursed", {**aid, "event_id": str(sent[1]), "recipient_nik": f"nik:{TOKEN_SHAPED}"},
                TOKEN_SHAPED.encode(), [("x-citizen", f"nik:{TOKEN_SHAPED}".encode())])
    run.produce(ingress, "ServiceRequestSubmitted", {**base, "event_id": str(sent[2]), "applicant_nik": REJECTED_RAW,
                                                      "fee_charged_idr": -5}, REJECTED_RAW.encode(),
                [("x-citizen", REJECTED_RAW.encode()), (REJECTED_RAW, b"")])
    run.produce(ingress, "ServiceRequestSubmitted", {**base, "event_id": str(sent[3]), "applicant_nik": IN_KEY},
                IN_KEY.encode(), [("x-citizen", IN_KEY.encode())])
    niks = [n.encode() for n in (TOKEN_SHAPED, REJECTED_RAW, IN_KEY)]

    token_shaped = run.dlq_for(sent[0]) + run.dlq_for(sent[1])
    assert all(r.reason == "invalid_event" for r in token_shaped)
    assert "applicant_nik" in token_shaped[0].message and "recipient_nik" in token_shaped[1].message
    assert run.dlq_for(sent[2])[0].reason == "invalid_event"
    _wait("the valid event on the canonical topic", lambda: h.count(run.s, [f"{run.prefix}.events.governance"]))
    h.wait_for("the gatekeeper to commit", lambda: h.lag(run.s, f"{run.prefix}-gatekeeper",
                                                          [t for t in _topics(run) if ".ingress." in t]) == 0)

    past_ingress = [t for t in _topics(run) if not t.startswith(f"{run.prefix}.ingress.")]
    assert run.browser.topic in past_ingress and f"{run.prefix}.events.governance" in past_ingress
    records = h.read_all(run.s, past_ingress)
    assert len(records) >= 4
    leaks = [f"{m.topic()}:{m.partition()}:{m.offset()}" for m in records for blob in
             [m.key() or b"", m.value() or b"", *[k.encode() + b"=" + (v or b"") for k, v in m.headers() or []]]
             if any(n in blob for n in niks)]
    assert not leaks, f"a NIK in the clear past ingress: {leaks[:5]}"
    listed = run.cli("dlq", "list", "--limit", "1000", "--json")
    assert json.loads(listed) and not any(n.decode() in listed for n in niks)
    # the check can see a NIK: the ingress topic holds them
    assert any(REJECTED_RAW.encode() in (m.value() or b"") for m in h.read_all(run.s, [ingress]))


def _topics(run: Run) -> list[str]:
    names = AdminClient(run.s.kafka.librdkafka()).list_topics(timeout=10).topics
    return sorted(t for t in names if t.startswith((f"{run.prefix}.", f"{run.prefix}-")))
