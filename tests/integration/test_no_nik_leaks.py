"""No raw NIK past ingress, by any path: after a seeded run with every fault type through every stage (with a
gatekeeper crash), HTTP traffic through the gateway, and hostile records written with a plain Kafka client, no
topic of the run's prefix except the ingress topics, and no file under the run's state folder (the SQLite store,
the gateway's database, every process's log, the processors' local state), holds any of the run's NIKs in the
clear; nor does `simpul dlq list --json`.

The NIK appears as its 16 ASCII digits in Avro (a string), in JSON and in logs, so a byte search finds it in any
of them; topics are read through a consumer, so compressed batches are searched decompressed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

import harness as h
from producers.simulator import plan
from producers.simulator.send import send_http
from schemas.catalog import nik_fields
from schemas.examples import example
from schemas.models import is_raw_nik
from simpul import bootstrap
from simpul.settings import Settings
from simpul.platform.probes import free_port_block

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 1200
SEED = 20261202
HTTP_REGENCIES = ("3374", "3301", "3372")
# Hostile NIKs: each appears only in records that the bus must tokenise or reject.
TOKEN_SHAPED = "3374015502900017"  # sent as `nik:<16 digits>`, a value shaped like a gatekeeper token
MISMATCHED = "3301016608850023"  # a valid NIK in a record written to another regency's topic (rejected)
BAD_FIELD = "3374014107770031"  # a valid NIK in a record with a field out of range (rejected)


@pytest.fixture
def pipeline(settings: Settings, tmp_path: Path) -> Iterator[h.Pipeline]:
    unique = uuid.uuid4().hex[:8]
    state = tmp_path / "state"
    p = h.Pipeline(settings, f"nk{unique}", state)
    p.store_url = f"sqlite:///{state / 'store.sqlite'}"
    receiver = h.Receiver()
    p.webhook = receiver.url
    p.provision()
    try:
        yield p
    finally:
        p.stop_all()
        receiver.close()
        print(p.tails())
        p.cleanup()



def _cli(p: h.Pipeline, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simpul", *args], env=p.env(), cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=True)


def _send_through_gateway(p: h.Pipeline) -> set[str]:
    """A seeded HTTP plan (its faults included) for three regencies, through a gateway on the run's state folder."""
    keys = {r: json.loads(_cli(p, "keys", "create", "--regency", r, "--json").stdout)["api_key"]
            for r in HTTP_REGENCIES}
    port = free_port_block(1)[0]
    log = p.state / "gateway-0.log"
    p.logs.append(log)
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "simpul", "gateway", "--port", str(port)], env=p.env(),
                                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    p.procs["gateway"] = proc
    base = f"http://127.0.0.1:{port}"
    h.wait_for("the gateway", lambda: _answers(f"{base}/healthz"), timeout=60, alive=p.alive)
    records = [r for r in plan(400, SEED + 1, via="http", nik_hmac_key=p.settings.secret("nik_hmac_key")).records
               if r.ingress in HTTP_REGENCIES]
    send_http(records, base_url=base, api_keys=keys, show_progress=False)
    # a request the gateway refuses (422) still carries a NIK: its answer must not echo it
    bad = example("ServiceRequestSubmitted", regency_code="3374", applicant_nik=BAD_FIELD).model_dump(mode="json")
    answer = httpx.post(f"{base}/v1/events", headers={"X-API-Key": keys["3374"]},
                        json={"events": [{**bad, "event_type": "ServiceRequestSubmitted", "fee_charged_idr": -5}]})
    assert answer.status_code == 422, answer.text
    assert BAD_FIELD not in answer.text
    p.stop("gateway")
    return {getattr(r.event, f) for r in records for f in nik_fields(r.event_type)} - {None}


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code < 500
    except httpx.HTTPError:
        return False


def _send_hostile(p: h.Pipeline) -> int:
    """Records a plain Kafka client writes: a token-shaped NIK, and raw NIKs in records the gatekeeper rejects."""
    codec = bootstrap.codec(p.settings)
    base = example("ServiceRequestSubmitted", regency_code="3374").to_avro()
    hostile = [
        (f"{p.prefix}.ingress.3374", {**base, "event_id": str(uuid.uuid4()), "applicant_nik": f"nik:{TOKEN_SHAPED}"}),
        (f"{p.prefix}.ingress.3374", {**base, "event_id": str(uuid.uuid4()), "regency_code": "3301",
                                      "applicant_nik": MISMATCHED}),
        (f"{p.prefix}.ingress.3374", {**base, "event_id": str(uuid.uuid4()), "applicant_nik": BAD_FIELD,
                                      "fee_charged_idr": -5}),
    ]
    producer = Producer(p.settings.kafka.librdkafka(**{"acks": "all"}))
    for topic, datum in hostile:
        producer.produce(topic, key=datum["applicant_nik"].encode(), value=codec.encode_datum(
            "ServiceRequestSubmitted", datum), headers=[("x-citizen", datum["applicant_nik"].encode())])
    assert producer.flush(30) == 0
    return len(hostile)


def _topics_of(p: h.Pipeline) -> list[str]:
    names = AdminClient(p.settings.kafka.librdkafka()).list_topics(timeout=10).topics
    return sorted(t for t in names if t.startswith((f"{p.prefix}.", f"{p.prefix}-"))
                  and not t.startswith(f"{p.prefix}.ingress."))


def _found_in_topics(p: h.Pipeline, niks: set[str]) -> list[str]:
    needles = [n.encode() for n in niks]
    found = []
    for m in h.read_all(p.settings, _topics_of(p)):
        blobs = [m.key() or b"", m.value() or b"", *[(v or b"") for _, v in (m.headers() or [])],
                 *[k.encode() for k, _ in (m.headers() or [])]]
        for blob in blobs:
            found += [f"{m.topic()}:{m.partition()}:{m.offset()} holds {n.decode()[:4]}…" for n in needles if n in blob]
    return found


def _found_in_files(folder: Path, niks: set[str]) -> list[str]:
    needles = [n.encode() for n in niks]
    found = []
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path.relative_to(folder)} holds {n.decode()[:4]}…" for n in needles if n in data]
    return found


@pytest.mark.timeout(900)
def test_no_raw_nik_on_any_topic_file_or_output_past_ingress(pipeline: h.Pipeline) -> None:
    p = pipeline
    result = h.chaos_run(p, events=EVENTS, seed=SEED, kills=(("gatekeeper", 0.4),), down_seconds=2.0, timeout=600.0)
    assert not result.problems, result.problems
    simulated = plan(EVENTS, SEED, nik_hmac_key=p.settings.secret("nik_hmac_key"))
    niks = {getattr(r.event, f) for r in simulated.records for f in nik_fields(r.event_type)} - {None}

    # after the run: the gateway, then hostile records, through a gatekeeper and a store sink started anew
    for name in ("gatekeeper", "sink-store"):
        p.start(name)
    niks |= _send_through_gateway(p)
    dlq_before = h.count(p.settings, [p.topics.dlq.name])
    hostile = _send_hostile(p)
    niks |= {TOKEN_SHAPED, MISMATCHED, BAD_FIELD}
    h.wait_for("the gatekeeper to commit", lambda: h.lag(p.settings, p.group("gatekeeper"), p.ingress) == 0,
               timeout=120, alive=p.alive)
    rejected = h.count(p.settings, [p.topics.dlq.name]) - dlq_before
    assert rejected >= hostile, f"only {rejected} of the {hostile} hostile records went to the DLQ"
    h.wait_for("the store sink to commit", lambda: h.lag(p.settings, p.group("sink-store"), p.events) == 0,
               timeout=120, alive=p.alive)
    listed = _cli(p, "dlq", "list", "--limit", "1000", "--json").stdout
    p.stop_all()

    niks = {n for n in niks if is_raw_nik(n)}
    assert len(niks) > 300, f"the run carried only {len(niks)} NIKs"
    assert json.loads(listed), "the DLQ listing is empty: the check below would prove nothing"
    leaks = _found_in_topics(p, niks) + _found_in_files(p.state, niks)
    leaks += [f"`simpul dlq list --json` shows {n[:4]}…" for n in niks if n in listed]
    assert not leaks, f"{len(leaks)} raw NIKs past ingress, first: {leaks[:10]}"
    # the check can see a NIK: the ingress topics, which may hold them, do
    ingress = h.read_all(p.settings, [f"{p.prefix}.ingress.3374"])
    assert any(TOKEN_SHAPED.encode() in (m.value() or b"") for m in ingress)
