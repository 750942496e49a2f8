"""Fuzzing the HTTP gateway (the real app from simpul.bootstrap.gateway on the real broker and registry).

Hypothesis posts arbitrary JSON values, bodies that are not JSON, valid events with fields replaced by arbitrary
JSON values or values of the wrong type, and batches around the size limit, always with a valid key of 3374.
Every answer must be 202 or a 4xx whose body is an ErrorBody naming a field — never a 5xx — and repeat no
16-digit run (a NIK) of the request; and each event a 202 answer accepted must be on the regency's ingress topic
exactly once (and nothing else may be there). A gatekeeper runs on the prefix, so the accounting follows every
input to its end and is asserted: inputs == answered 4xx + answered 202; every event of a 202 is accepted or a
duplicate of an accepted one; every accepted event is delivered (canonical topic) or in the DLQ with a reason.
Bounded: SIMPUL_FUZZ_GATEWAY_EXAMPLES (else SIMPUL_FUZZ_EXAMPLES) per strategy (150; 10,000 under
SIMPUL_LONG_TESTS=1, as `make test-long` runs it), derandomized; `python -m bench.fuzz` runs any number.
"""

from __future__ import annotations

import collections
import json
import os
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

import harness as h
from producers.gateway.api import ErrorBody
from schemas.catalog import event_types
from schemas.examples import example
from simpul import bootstrap
from simpul.settings import Settings

pytestmark = pytest.mark.integration

LONG = os.environ.get("SIMPUL_LONG_TESTS") == "1"
EXAMPLES = int(os.environ.get("SIMPUL_FUZZ_GATEWAY_EXAMPLES") or os.environ.get("SIMPUL_FUZZ_EXAMPLES")
               or (10_000 if LONG else 150))
REGENCY = "3374"
FUZZ = hsettings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                 suppress_health_check=list(HealthCheck))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12)


class Gw:
    def __init__(self, p: h.Pipeline, client: TestClient, key: str) -> None:
        self.p, self.s, self.client, self.key = p, p.settings, client, key
        self.accepted: collections.Counter[str] = collections.Counter()
        self.duplicates = 0
        self.statuses: collections.Counter[int] = collections.Counter()
        self.inputs = 0

    def post(self, body: bytes) -> Any:
        self.inputs += 1
        r = self.client.post("/v1/events", content=body,
                             headers={"X-API-Key": self.key, "Content-Type": "application/json"})
        self.statuses[r.status_code] += 1
        assert r.status_code == 202 or 400 <= r.status_code < 500, (r.status_code, r.text[:500], body[:500])
        echoed = [n for n in set(re.findall(rb"[0-9]{16}", body)) if n in r.content]
        assert not echoed, (r.status_code, echoed, r.text[:500])
        if r.status_code == 202:
            data = r.json()
            for res in data["results"]:
                if res["status"] == "accepted":
                    self.accepted[res["event_id"]] += 1
                else:
                    assert res["status"] == "duplicate", res
                    self.duplicates += 1
            assert data["accepted"] + data["duplicates"] == len(data["results"])
        else:
            err = ErrorBody.model_validate(r.json())
            assert err.message
            if r.status_code in (400, 403, 413, 422):
                assert err.problems and all(p.field for p in err.problems), r.text[:500]
        return r

    def check_topic(self, name: str) -> None:
        """Each accepted event id is on the ingress topics exactly once, and nothing else is; then the accounting:
        inputs == 4xx + 202, and each accepted event delivered or in the DLQ with a reason."""
        codec = bootstrap.codec(self.s)
        records = h.read_all(self.s, self.p.ingress)
        on_topic = collections.Counter(str(codec.decode(m.value()).event_id) for m in records)
        assert all(n == 1 for n in self.accepted.values()), "a 202 accepted one event id twice"
        assert on_topic == self.accepted, (
            f"{len(set(self.accepted) - set(on_topic))} accepted but not on the topic, "
            f"{len(set(on_topic) - set(self.accepted))} on the topic but not accepted, "
            f"{sum(n - 1 for n in on_topic.values() if n > 1)} twice")
        coords = [(m.topic(), m.partition(), m.offset()) for m in records]
        p = self.p
        h.wait_for("the gatekeeper's lag on ingress to reach 0", lambda: h.lag(  # 0.1 s an input on a loaded host
            self.s, p.group("gatekeeper"), p.ingress) == 0, timeout=300 + 0.1 * len(coords), alive=p.alive)
        state: dict[str, Any] = {}

        def all_accounted() -> bool:
            state["fates"], state["problems"] = h.gatekeeper_accounting(p, coords, timeout=120)
            return all(c in state["fates"] for c in coords)

        h.wait_for("an outcome for every accepted event", all_accounted, timeout=120, alive=p.alive, every=2.0)
        assert not state["problems"], state["problems"][:5]
        fates = [state["fates"][c] for c in coords]
        delivered = sum(1 for f in fates if f.startswith("event:"))
        reasons = collections.Counter(f.split(":", 1)[1] for f in fates if f.startswith("dlq:"))
        answered_4xx = sum(n for code, n in self.statuses.items() if 400 <= code < 500)
        print(f"fuzz gateway {name}: inputs={self.inputs} 202={self.statuses[202]} 4xx={answered_4xx} "
              f"statuses={dict(sorted(self.statuses.items()))} events_accepted={len(self.accepted)} "
              f"duplicates={self.duplicates} delivered={delivered} dlq={sum(reasons.values())} "
              f"dlq_by_reason={dict(sorted(reasons.items()))}")
        assert self.statuses[202] + answered_4xx == self.inputs == sum(self.statuses.values())
        assert not {r for r in reasons if r in ("", "?")}, reasons
        assert delivered + sum(reasons.values()) == len(self.accepted) == len(coords)


@pytest.fixture(scope="module")
def gw(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gw]:
    from producers.gateway.store import GatewayStore

    state = tmp_path_factory.mktemp("fuzz-gateway")
    base = settings.model_copy(update={"gateway_db_url": f"sqlite:///{state / 'gw.sqlite'}"})
    p = h.Pipeline(base, f"fg{uuid.uuid4().hex[:8]}", state / "pipeline")
    p.provision()
    p.start("gatekeeper")
    key = GatewayStore(p.settings.gateway_db).create_key(REGENCY, label="fuzz").secret
    try:
        with TestClient(bootstrap.gateway(p.settings)) as client:
            yield Gw(p, client, key)
    finally:
        print(p.tail("gatekeeper"))
        p.cleanup()


def _event(event_type: str, **fields: Any) -> dict[str, Any]:
    ev = example(event_type, event_id=uuid.uuid4())
    data = {"event_type": event_type, **ev.model_dump(mode="json")}
    if ev.regency_code != REGENCY:  # the one example of another regency: make it ours
        data["regency_code"] = REGENCY
    data.update(fields)
    return data


def _wrong_type(value: Any) -> st.SearchStrategy[Any]:
    others = [st.none(), st.booleans(), st.integers(), st.text(max_size=8), st.lists(st.integers(), max_size=2),
              st.dictionaries(st.text(max_size=3), st.integers(), max_size=2), st.floats(allow_nan=False)]
    return st.one_of(*others).filter(lambda v: type(v) is not type(value))


def test_arbitrary_json_and_bytes_are_answered_with_a_4xx_or_202(gw: Gw) -> None:
    @FUZZ
    @given(st.one_of(json_values.map(lambda v: json.dumps(v).encode()), st.binary(max_size=200),
                     st.dictionaries(st.sampled_from(["events", "event_type", "x"]), json_values, max_size=3)
                     .map(lambda v: json.dumps(v).encode())))
    def run(body: bytes) -> None:
        gw.post(body)

    run()
    gw.check_topic("json/bytes")


def test_mutated_and_mistyped_events_are_answered_with_a_4xx_or_202(gw: Gw) -> None:
    @st.composite
    def batches(draw) -> bytes:  # type: ignore[no-untyped-def]
        events = []
        for _ in range(draw(st.integers(1, 4))):
            ev = _event(draw(st.sampled_from(event_types())))
            for name in draw(st.lists(st.sampled_from(sorted(ev)), max_size=3, unique=True)):
                how = draw(st.sampled_from(["json", "wrong_type", "drop", "big", "code"]))
                if how == "json":
                    ev[name] = draw(json_values)
                elif how == "wrong_type":
                    ev[name] = draw(_wrong_type(ev[name]))
                elif how == "drop":
                    ev.pop(name)
                elif how == "big":
                    ev[name] = draw(st.sampled_from([2**63, -2**63 - 1, 10**30, 1e308, -1, 0, "9" * 400]))
                else:
                    ev[name] = draw(st.sampled_from(["3301", "9999", "", "XXX", "3374015502900001", "nik:x"]))
            events.append(ev)
        shape = draw(st.sampled_from(["batch", "single", "batch"]))
        doc = {"events": events} if shape == "batch" or len(events) > 1 else events[0]
        return json.dumps(doc, default=str).encode()

    @FUZZ
    @given(batches())
    def run(body: bytes) -> None:
        gw.post(body)

    run()
    # valid batches at and over the limit, and a retry of an accepted batch
    ok = [_event("ServiceRequestSubmitted", case_id=f"SR-FZ-{i}") for i in range(1000)]
    assert gw.post(json.dumps({"events": ok}).encode()).status_code == 202
    assert gw.post(json.dumps({"events": ok}).encode()).json()["duplicates"] == 1000
    over = [_event("ServiceRequestSubmitted") for _ in range(1001)]
    assert gw.post(json.dumps({"events": over}).encode()).status_code == 413
    gw.check_topic("events")
    assert gw.statuses[202] and gw.statuses[422], dict(gw.statuses)
