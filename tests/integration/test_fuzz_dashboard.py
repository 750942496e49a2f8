"""Fuzzing the dashboard's API with a logged-in operator session (the real app from simpul.bootstrap.dashboard on
the real broker, a gatekeeper running on a fresh prefix whose DLQ holds sealed records to replay).

Hypothesis sends arbitrary requests to every API route — /api/session, /api/overview, /api/dlq and /api/audit
with arbitrary query parameters, /api/dlq/replay with arbitrary JSON and with replay requests of arbitrary (and
real) DLQ coordinates and arbitrary fixes, unknown paths and methods — always with the operator's session cookie
and CSRF token. Every answer must be a 2xx or a 4xx, never a 5xx, and repeat no 16-digit run (a NIK) of the
request. The accounting is asserted: inputs == answered 2xx + answered 4xx; every record a 2xx replay wrote back
to an ingress topic is delivered (canonical topic) or in the DLQ with a reason, once; and the session still works
at the end (no input logged it out or broke it).
Three answers once were 5xx or echoed the request; each has its own test below and the fuzz reaches them too: a
partition or offset outside Kafka's bounds (was an OverflowError in the DLQ reader: 500), a non-finite number in a
body (FastAPI's 422 handler could not render `inf`: 500), and the 422 of a body that is not a replay request (it
echoed the input, a NIK with it).
Bounded: SIMPUL_FUZZ_DASHBOARD_EXAMPLES (else SIMPUL_FUZZ_EXAMPLES) examples (150; 10,000 under
SIMPUL_LONG_TESTS=1, as `make test-long` runs it), derandomized.
"""

from __future__ import annotations

import collections
import json
import os
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from dashboard_login import TEST_HOSTS, as_role
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

import harness as h
from schemas.examples import example
from simpul import bootstrap
from simpul.settings import Settings

pytestmark = pytest.mark.integration

LONG = os.environ.get("SIMPUL_LONG_TESTS") == "1"
EXAMPLES = int(os.environ.get("SIMPUL_FUZZ_DASHBOARD_EXAMPLES") or os.environ.get("SIMPUL_FUZZ_EXAMPLES")
               or (10_000 if LONG else 150))
FUZZ = hsettings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                 suppress_health_check=list(HealthCheck))
ROUTES = ("/api/session", "/api/overview", "/api/dlq", "/api/audit", "/api/dlq/replay")
SEEDED_DLQ = 12  # sealed DLQ records written before the fuzz: real coordinates to replay

WIDE_INT = st.integers(-2**63, 2**63 - 1) | st.integers(-2**80, 2**80)
json_values = st.recursive(  # json.dumps writes inf and nan as Infinity and NaN, which Python's parser takes
    st.none() | st.booleans() | WIDE_INT | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12)
params = st.dictionaries(st.sampled_from(["limit", "regency", "offset", "x"]),
                         st.one_of(st.integers(-10**20, 10**20).map(str), st.text(max_size=12),
                                   st.sampled_from(["3374", "3301", "9999", "", "0", "1000", "1001"])), max_size=3)


class Dash:
    def __init__(self, p: h.Pipeline, client: TestClient) -> None:
        self.p, self.client = p, client
        self.inputs = 0
        self.statuses: collections.Counter[int] = collections.Counter()
        self.by_route: collections.Counter[str] = collections.Counter()
        self.replayed: list[tuple[str, int, int]] = []  # ingress coordinates a 2xx replay wrote

    def send(self, method: str, path: str, query: dict[str, str], body: bytes | None) -> None:
        self.inputs += 1
        r = self.client.request(method, path, params=query, content=body,
                                headers={"Content-Type": "application/json"} if body is not None else {})
        self.statuses[r.status_code] += 1
        self.by_route[f"{method} {path if path in ROUTES else '/api/*'} {r.status_code // 100}xx"] += 1
        sent = (body or b"") + json.dumps(query).encode()
        assert 200 <= r.status_code < 300 or 400 <= r.status_code < 500, (method, path, query, r.status_code,
                                                                          r.text[:500], sent[:300])
        echoed = [n for n in set(re.findall(rb"[0-9]{16}", sent)) if n in r.content]
        assert not echoed, (r.status_code, echoed, r.text[:300])
        if path == "/api/dlq/replay" and method == "POST" and r.status_code == 200:
            for result in r.json():
                self.replayed.append((result["to"], int(result["partition"]), int(result["offset"])))


@pytest.fixture(scope="module")
def dash(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dash]:
    tmp = tmp_path_factory.mktemp("fuzz-dashboard")
    base = settings.model_copy(update={"dashboard_allowed_hosts": TEST_HOSTS,
                                       "store_url": f"sqlite:///{tmp / 'store.sqlite'}"})
    p = h.Pipeline(base, f"fd{uuid.uuid4().hex[:8]}", tmp / "pipeline")
    p.provision()
    p.start("gatekeeper")
    try:
        _seed_dlq(p)
        with TestClient(bootstrap.dashboard(p.settings, interval_s=60), raise_server_exceptions=False) as client:
            as_role(client, p.settings, "operator")
            yield Dash(p, client)
    finally:
        print(p.tail("gatekeeper"))
        p.cleanup()


def _seed_dlq(p: h.Pipeline) -> None:
    """Sealed DLQ records of three kinds: bytes that do not decode, and valid events on another regency's topic."""
    from confluent_kafka import Producer

    codec = bootstrap.codec(p.settings)
    producer = Producer(p.settings.kafka.librdkafka(acks="all"))
    for i in range(SEEDED_DLQ):
        if i % 2:
            producer.produce(p.topics.ingress("3374").name, key=b"k", value=f"not avro {i}".encode())
        else:
            ev = example("ServiceRequestSubmitted", event_id=uuid.uuid4(), case_id=f"SR-FD-{i}")
            producer.produce(p.topics.ingress("3301").name, key=ev.ordering_key.encode(), value=codec.encode(ev))
    assert producer.flush(60) == 0
    h.wait_for("the seeded records in the DLQ", lambda: h.count(p.settings, [p.topics.dlq.name]) >= SEEDED_DLQ,
               timeout=180, alive=p.alive)


def _fix() -> st.SearchStrategy[Any]:
    """A fix: arbitrary JSON, or a valid event with a field replaced."""
    def event(field: str, value: Any) -> dict[str, Any]:
        ev = example("ServiceRequestSubmitted", event_id=uuid.uuid4())
        data = {"event_type": "ServiceRequestSubmitted", **ev.model_dump(mode="json"), "regency_code": "3374"}
        if field:
            data[field] = value
        return data

    return st.one_of(st.none(), st.dictionaries(st.text(max_size=10), json_values, max_size=4),
                     st.builds(event, st.sampled_from(["", "", "case_id", "regency_code", "channel", "submitted_at",
                                                       "event_id"]), json_values))


replay_items = st.fixed_dictionaries(
    {"partition": st.one_of(st.integers(-2, 3), st.text(max_size=3)),
     "offset": st.one_of(st.integers(-2, 2 * SEEDED_DLQ), WIDE_INT, st.none())},
    optional={"fixed": _fix()})

requests = st.one_of(
    st.tuples(st.just("GET"), st.sampled_from(ROUTES[:4]), params,
              st.none()),
    st.tuples(st.just("POST"), st.just("/api/dlq/replay"), params,
              st.one_of(json_values.map(lambda v: json.dumps(v).encode()), st.binary(max_size=100),
                        st.sampled_from([b"1e999", b"-1e999", b'{"records": [{"partition": 0, "offset": 1e999}]}',
                                         b"3374015502900001", b'{"records": "3374015502900001"}']),
                        st.lists(replay_items, max_size=3).map(lambda rs: json.dumps({"records": rs}).encode()))),
    st.tuples(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]),
              st.text("abcdefghijklmnopqrstuvwxyz/._-%0123456789", max_size=20).map(lambda s: f"/api/{s}"),
              params, st.one_of(st.none(), st.binary(max_size=50))),
)


@pytest.mark.timeout(7200 if LONG else 900)
def test_every_api_request_of_a_session_is_answered_2xx_or_4xx_and_accounted_for(dash: Dash) -> None:
    @FUZZ
    @given(requests)
    def run(req: tuple[str, str, dict[str, str], bytes | None]) -> None:
        dash.send(*req)

    run()
    # the session survived every input
    assert dash.client.get("/api/session").status_code == 200
    p = dash.p
    h.wait_for("the gatekeeper's lag on ingress to reach 0", lambda: h.lag(
        p.settings, p.group("gatekeeper"), p.ingress) == 0, timeout=300, alive=p.alive)
    state: dict[str, Any] = {}

    def all_accounted() -> bool:
        state["fates"], state["problems"] = h.gatekeeper_accounting(p, dash_inputs(p), timeout=120)
        return all(c in state["fates"] for c in dash.replayed)

    h.wait_for("an outcome for every replayed record", all_accounted, timeout=120, alive=p.alive, every=2.0)
    assert not state["problems"], state["problems"][:5]
    fates = [state["fates"][c] for c in dash.replayed]
    delivered = sum(1 for f in fates if f.startswith("event:"))
    reasons = collections.Counter(f.split(":", 1)[1] for f in fates if f.startswith("dlq:"))
    ok = sum(n for code, n in dash.statuses.items() if 200 <= code < 300)
    bad = sum(n for code, n in dash.statuses.items() if 400 <= code < 500)
    print(f"fuzz dashboard: inputs={dash.inputs} 2xx={ok} 4xx={bad} statuses={dict(sorted(dash.statuses.items()))} "
          f"replayed={len(dash.replayed)} delivered={delivered} dlq={sum(reasons.values())} "
          f"dlq_by_reason={dict(sorted(reasons.items()))}")
    print(f"fuzz dashboard by route: {dict(sorted(dash.by_route.items()))}")
    assert ok + bad == dash.inputs == sum(dash.statuses.values())
    assert len(set(dash.replayed)) == len(dash.replayed)
    assert not {r for r in reasons if r in ("", "?")}, reasons
    assert delivered + sum(reasons.values()) == len(dash.replayed)
    assert dash.by_route.get("GET /api/dlq 2xx") and dash.by_route.get("POST /api/dlq/replay 4xx"), dash.by_route


def test_an_offset_beyond_64_bits_is_a_4xx_naming_the_field(dash: Dash) -> None:
    r = dash.client.post("/api/dlq/replay", json={"records": [{"partition": 0, "offset": 2**64}]})
    assert r.status_code == 422, r.status_code
    assert [p["field"] for p in r.json()["detail"]] == ["body.records.0.offset"], r.text
    assert str(2**64) not in r.text


def test_a_record_the_dlq_does_not_hold_is_refused_at_once(dash: Dash) -> None:
    """Not after waiting out a fetch beyond the end: an operator's typo answers at once, and saying why."""
    # partition 0 holds records or none, as the fuzz's inputs fell: either way the answer says which
    for item, says in (({"partition": 0, "offset": 10**12}, ("holds offsets", "partition 0 is empty")),
                       ({"partition": 7, "offset": 0}, ("partitions 0-",))):
        started = time.monotonic()
        r = dash.client.post("/api/dlq/replay", json={"records": [item]})
        took = time.monotonic() - started
        assert r.status_code == 422 and "not found" in r.text and any(s in r.text for s in says), (
            item, r.status_code, r.text[:300])
        assert took < 5.0, (item, took)


def test_the_dlq_page_answers_without_waiting_out_a_fetch(dash: Dash) -> None:
    """The browser asks for no more records than the partitions hold past its start: asking for 500 when a dozen
    were left waited out the 5 s consume timeout on every page."""
    started = time.monotonic()
    r = dash.client.get("/api/dlq", params={"limit": 100})
    took = time.monotonic() - started
    assert r.status_code == 200 and len(r.json()) >= SEEDED_DLQ, (r.status_code, r.text[:200])
    assert took < 4.0, took


def test_a_non_finite_number_in_a_body_is_a_4xx(dash: Dash) -> None:
    for body in (b"1e999", b'{"records": [{"partition": 0, "offset": 1e999}]}'):
        r = dash.client.post("/api/dlq/replay", content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 422, (body, r.status_code, r.text[:200])


def test_a_422_does_not_echo_the_request(dash: Dash) -> None:
    nik = b"3374015502900001"
    for body in (nik, b'{"records": "' + nik + b'"}', b'{"records": [{"partition": "' + nik + b'", "offset": 0}]}'):
        r = dash.client.post("/api/dlq/replay", content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 422 and nik not in r.content, (r.status_code, r.text[:200])
        assert r.json()["detail"][0]["field"].startswith("body"), r.text


def dash_inputs(p: h.Pipeline) -> list[tuple[str, int, int]]:
    """Coordinates of every record on the ingress topics (seeded and replayed)."""
    return [(m.topic(), m.partition(), m.offset()) for m in h.read_all(p.settings, p.ingress)]
