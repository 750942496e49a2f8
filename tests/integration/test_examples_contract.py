"""docs/contract.md as a regency developer reads it, against a running `simpul gateway`: every error code of its
tables and every body form it documents is sent to the gateway, which must answer what the contract prints. The
codes and forms are parsed from the committed document, so a row added there without a case here fails, and so
does a row the gateway answers otherwise. The curl example of the contract runs too."""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

import harness as h
from producers.gateway.store import GatewayStore
from schemas.examples import example
from simpul import bootstrap
from simpul.settings import Settings
from simpul.platform.probes import free_port_block
from tests.integration.examples_platform import EXAMPLES, GatewayProcess, gatekeeper_pipeline, gateway_process

pytestmark = pytest.mark.integration

CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "contract.md"


# ---- what the contract documents -----------------------------------------------------------------------------------

def _section(text: str, start: str, end: str) -> str:
    return text.split(start, 1)[1].split(end, 1)[0]


def _rows(section: str, header: str) -> list[list[str]]:
    """The rows of the table under `header` (its first line) in `section`."""
    lines = section.split(header + "\n", 1)[1].splitlines()[1:]
    rows = []
    for line in lines:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


def _codes(section: str) -> set[tuple[int, str]]:
    """The (status, error) pairs of the status table in `section` (rows without an error code are successes)."""
    code = re.compile(r"`([a-z_]+)`")
    rows = _rows(section, "| status | `error` | when |")
    return {(int(r[0]), code.fullmatch(r[1]).group(1)) for r in rows if r[1]}  # type: ignore[union-attr]


def documented() -> dict[str, Any]:
    text = CONTRACT.read_text(encoding="utf-8")
    gateway = _section(text, "\n## The HTTP gateway\n", "\n## ")
    publish, rest = gateway.split("\n### Receipts\n", 1)
    receipts, outcomes = rest.split("\n### What became of your records\n", 1)
    events = _section(outcomes, "\n#### `GET /v1/events/{event_id}`\n", "\n#### ")
    rejections = outcomes.split("\n#### `GET /v1/rejections`\n", 1)[1]
    return {
        "publish": _codes(publish),
        "receipts": _codes(receipts),
        "events": _codes(events),
        "rejections": _codes(rejections),
        "bodies": {_form_key(r[0]): _answer(r[1]) for r in _rows(publish, "| body | answer |")},
    }


def _form_key(cell: str) -> str:
    first = re.match(r"`([^`]+)`", cell)
    return first.group(1) if first else cell


def _answer(cell: str) -> tuple[int, str | None, str | None]:
    status = int(re.findall(r"`(\d{3})`", cell)[-1])
    error = re.search(r"`\d{3}` `([a-z_]+)`", cell)
    field = re.search(r"field `([^`]+)`", cell)
    return status, error.group(1) if error else None, field.group(1) if field else None


# ---- the gateway -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pipeline(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[h.Pipeline]:
    """The gatekeeper and the transparency log on a fresh prefix and store, so receipts exist."""
    with gatekeeper_pipeline(settings, tmp_path_factory.mktemp("ex-contract") / "state", "exc") as p:
        p.store_url = f"sqlite:///{p.state / 'store.sqlite'}"
        bootstrap.store_engine(p.settings, p.store_url).dispose()
        p.start("transparency")
        yield p


@pytest.fixture(scope="module")
def gateway(pipeline: h.Pipeline) -> Iterator[GatewayProcess]:
    with gateway_process(pipeline, SIMPUL_STORE_URL=pipeline.store_url) as gw:
        yield gw


@pytest.fixture(scope="module")
def broken(pipeline: h.Pipeline) -> Iterator[GatewayProcess]:
    """A gateway whose broker and store do not answer (the registry does)."""
    port = free_port_block(1)[0]
    with gateway_process(pipeline, SIMPUL_KAFKA_BOOTSTRAP=f"127.0.0.1:{port}",
                         SIMPUL_STORE_URL=f"postgresql+psycopg://nobody@127.0.0.1:{port}/none") as gw:
        yield gw


@pytest.fixture(scope="module")
def no_registry(pipeline: h.Pipeline) -> Iterator[GatewayProcess]:
    """A gateway whose registry does not answer (the broker does)."""
    nobody = free_port_block(1)[0]
    with gateway_process(pipeline, SIMPUL_REGISTRY_URL=f"http://127.0.0.1:{nobody}/apis/ccompat/v7") as gw:
        yield gw


@pytest.fixture(scope="module")
def no_outcomes(pipeline: h.Pipeline) -> Iterator[tuple[GatewayProcess, str]]:
    """A gateway (and a key of 3374) whose outcome index cannot be read: its table is gone from the gateway's own
    database, as when that database fails under it."""
    url = f"sqlite:///{pipeline.state / 'gateway-no-outcomes.sqlite'}"
    store = GatewayStore(url)
    store.migrate()
    key = store.create_key("3374", "contract test: outcome index gone").secret
    store.engine.dispose()
    with gateway_process(pipeline, SIMPUL_GATEWAY_DB_URL=url) as gw:
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE gateway_regency_outcomes"))
        engine.dispose()
        yield gw, key


@pytest.fixture(scope="module")
def keys(gateway: GatewayProcess) -> dict[str, str]:
    return {code: gateway.key(code) for code in ("3374", "3301")}


def _event(regency: str = "3374", **fields: object) -> dict[str, Any]:
    e = example("ServiceRequestSubmitted", regency_code=regency, event_id=uuid.uuid4(),
                case_id=f"SR-{regency}-{uuid.uuid4().hex[:8]}")
    return {"event_type": "ServiceRequestSubmitted", **e.model_dump(mode="json"), **fields}


def _post(gw: GatewayProcess, key: str | None, body: Any = None, raw: bytes | None = None) -> httpx.Response:
    headers = {"Content-Type": "application/json", **({"X-API-Key": key} if key else {})}
    content = raw if raw is not None else json.dumps(body).encode()
    return httpx.post(f"{gw.url}/v1/events", content=content, headers=headers, timeout=60)


def _receipt(gw: GatewayProcess, key: str | None, event_id: str) -> httpx.Response:
    return httpx.get(f"{gw.url}/v1/receipts/{event_id}", headers={"X-API-Key": key} if key else {}, timeout=30)


def _get(gw: GatewayProcess, key: str | None, path: str, **params: str) -> httpx.Response:
    return httpx.get(f"{gw.url}{path}", params=params, headers={"X-API-Key": key} if key else {}, timeout=30)


def _routed(gw: GatewayProcess, key: str, pipeline: h.Pipeline) -> str:
    """An event of `key`'s regency, accepted and routed by the gatekeeper, its outcome in the gateway's index."""
    event = _event("3374")
    assert _post(gw, key, {"events": [event]}).status_code == 202
    h.wait_for("the event's outcome", lambda: _get(gw, key, f"/v1/events/{event['event_id']}").json().get("status")
               == "routed", timeout=120, alive=pipeline.alive, every=1)
    return str(event["event_id"])


def _logged(gw: GatewayProcess, key: str, pipeline: h.Pipeline) -> str:
    """An event of `key`'s regency, accepted and in the transparency log with a signed checkpoint."""
    event = _event("3374")
    assert _post(gw, key, {"events": [event]}).status_code == 202
    h.wait_for("the event's receipt", lambda: _receipt(gw, key, event["event_id"]).status_code == 200, timeout=120,
               alive=pipeline.alive, every=1)
    return str(event["event_id"])


# ---- the cases ---------------------------------------------------------------------------------------------------

def test_every_documented_publish_error_is_what_the_gateway_answers(gateway: GatewayProcess, broken: GatewayProcess,
                                                                   keys: dict[str, str]) -> None:
    key = keys["3374"]
    reused = _event()
    assert _post(gateway, key, reused).status_code == 202
    cases: dict[tuple[int, str], list[Callable[[], httpx.Response]]] = {
        (400, "bad_request"): [lambda: _post(gateway, key, raw=b"{not json")],
        (401, "unauthorized"): [lambda: _post(gateway, None, {"events": [_event()]}),
                                lambda: _post(gateway, "smp_3374_00000000_unknown", {"events": [_event()]})],
        (403, "regency_forbidden"): [lambda: _post(gateway, key, {"events": [_event(), _event("3301")]})],
        (413, "payload_too_large"): [lambda: _post(gateway, key, {"events": [_event()] * 1001})],
        (422, "invalid_event"): [lambda: _post(gateway, key, {"events": [_event(fee_charged_idr=-1)]}),
                                 lambda: _post(gateway, key, {**reused, "case_id": "SR-3374-other"})],
        (503, "unavailable"): [lambda: _post(broken, key, {"events": [_event()]})],  # the broker never acks (30 s)
    }
    assert documented()["publish"] == set(cases), "a documented code without a case here, or the reverse"
    for (status, error), sends in cases.items():
        for send in sends:
            answer = send()
            assert (answer.status_code, answer.json()["error"]) == (status, error), answer.text
            assert answer.json()["message"] and isinstance(answer.json()["problems"], list)
    conflict = _post(gateway, key, {**reused, "case_id": "SR-3374-other"}).json()
    assert [p["field"] for p in conflict["problems"]] == ["event_id"]


def test_registry_down_is_503(no_registry: GatewayProcess, keys: dict[str, str]) -> None:
    answer = _post(no_registry, keys["3374"], {"events": [_event()]})
    assert answer.status_code == 503 and answer.json()["error"] == "unavailable", answer.text


def test_every_documented_body_form_is_what_the_gateway_answers(gateway: GatewayProcess,
                                                                keys: dict[str, str]) -> None:
    event = _event()
    bodies: dict[str, list[bytes]] = {
        '{"events": [<event>, ...]}': [json.dumps({"events": [_event(), _event()]}).encode()],
        "<event>": [json.dumps(_event()).encode()],
        '{"events": []}': [b'{"events": []}'],
        "{}": [b"{}", json.dumps({"event": event}).encode(), b'{"evnets": []}'],
        '{"events": <not a list>}': [json.dumps({"events": event}).encode()],
        "[<event>, ...]": [json.dumps([event]).encode(), b'"an event"', b"42"],
        "not JSON": [b"{not json", b"events=1"],
    }
    forms = documented()["bodies"]
    assert set(forms) == set(bodies), "a documented body form without a case here, or the reverse"
    for form, sends in bodies.items():
        status, error, field = forms[form]
        for raw in sends:
            answer = _post(gateway, keys["3374"], raw=raw)
            assert answer.status_code == status, (form, raw, answer.text)
            if error is not None:
                assert answer.json()["error"] == error, (form, answer.text)
            if field is not None:
                assert field in [p["field"] for p in answer.json()["problems"]], (form, answer.text)
            if status == 202:
                assert answer.json()["results"][0]["index"] == 0


def test_every_documented_receipt_error_is_what_the_gateway_answers(gateway: GatewayProcess, broken: GatewayProcess,
                                                                   keys: dict[str, str],
                                                                   pipeline: h.Pipeline) -> None:
    logged = _logged(gateway, keys["3374"], pipeline)
    cases: dict[tuple[int, str], Callable[[], httpx.Response]] = {
        (401, "unauthorized"): lambda: _receipt(gateway, None, logged),
        (403, "regency_forbidden"): lambda: _receipt(gateway, keys["3301"], logged),
        (404, "not_found"): lambda: _receipt(gateway, keys["3374"], str(uuid.uuid4())),
        (422, "invalid_parameter"): lambda: _receipt(gateway, keys["3374"], "not-a-uuid"),
        (503, "unavailable"): lambda: _receipt(broken, keys["3374"], logged),
    }
    assert documented()["receipts"] == set(cases), "a documented code without a case here, or the reverse"
    for (status, error), send in cases.items():
        answer = send()
        assert (answer.status_code, answer.json()["error"]) == (status, error), answer.text
    assert _receipt(gateway, keys["3374"], logged).json()["event_id"] == logged


def _check(cases: dict[tuple[int, str], list[Callable[[], httpx.Response]]]) -> None:
    for (status, error), sends in cases.items():
        for send in sends:
            answer = send()
            assert (answer.status_code, answer.json()["error"]) == (status, error), answer.text
            assert answer.json()["message"] and isinstance(answer.json()["problems"], list)


def test_every_documented_event_status_error_is_what_the_gateway_answers(
        gateway: GatewayProcess, no_outcomes: tuple[GatewayProcess, str], keys: dict[str, str],
        pipeline: h.Pipeline) -> None:
    routed = _routed(gateway, keys["3374"], pipeline)
    broken, broken_key = no_outcomes
    cases: dict[tuple[int, str], list[Callable[[], httpx.Response]]] = {
        (401, "unauthorized"): [lambda: _get(gateway, None, f"/v1/events/{routed}"),
                                lambda: _get(gateway, "smp_3374_00000000_unknown", f"/v1/events/{routed}")],
        (404, "not_found"): [lambda: _get(gateway, keys["3374"], f"/v1/events/{uuid.uuid4()}"),
                             lambda: _get(gateway, keys["3301"], f"/v1/events/{routed}")],  # another regency's
        (422, "invalid_parameter"): [lambda: _get(gateway, keys["3374"], "/v1/events/not-a-uuid")],
        (503, "unavailable"): [lambda: _get(broken, broken_key, f"/v1/events/{routed}")],
    }
    assert documented()["events"] == set(cases), "a documented code without a case here, or the reverse"
    _check(cases)
    other, unknown = (_get(gateway, k, f"/v1/events/{e}").json() for k, e in
                      ((keys["3301"], routed), (keys["3374"], str(uuid.uuid4()))))
    assert other["problems"] == unknown["problems"], "another regency's event must look like an unknown one"
    assert [p["field"] for p in _get(gateway, keys["3374"], "/v1/events/not-a-uuid").json()["problems"]] \
        == ["event_id"]
    answer = _get(gateway, keys["3374"], f"/v1/events/{routed}").json()
    assert (answer["event_id"], answer["regency_code"], answer["status"]) == (routed, "3374", "routed")
    assert [o["status"] for o in answer["outcomes"]] == ["routed"]


def test_every_documented_rejections_error_is_what_the_gateway_answers(
        gateway: GatewayProcess, no_outcomes: tuple[GatewayProcess, str], keys: dict[str, str]) -> None:
    broken, broken_key = no_outcomes
    key = keys["3374"]
    malformed = {"since": {"since": "yesterday"}, "limit": {"limit": "0"}, "after": {"after": "x" * 301}}
    cases: dict[tuple[int, str], list[Callable[[], httpx.Response]]] = {
        (401, "unauthorized"): [lambda: _get(gateway, None, "/v1/rejections"),
                                lambda: _get(gateway, "smp_3374_00000000_unknown", "/v1/rejections")],
        (422, "invalid_parameter"): [partial(_get, gateway, key, "/v1/rejections", **params)
                                     for params in [*malformed.values(), {"limit": "1001"}]],
        (503, "unavailable"): [lambda: _get(broken, broken_key, "/v1/rejections")],
    }
    assert documented()["rejections"] == set(cases), "a documented code without a case here, or the reverse"
    _check(cases)
    for name, params in malformed.items():
        assert [p["field"] for p in _get(gateway, key, "/v1/rejections", **params).json()["problems"]] == [name]
    page = _get(gateway, key, "/v1/rejections", since="2020-01-01T00:00:00Z", limit="1000")
    assert page.status_code == 200, page.text
    assert page.json()["next_since"] is None and page.json()["next_after"] is None
    assert all(r["regency_code"] == "3374" and r["status"] == "rejected" for r in page.json()["rejections"])


def test_the_contracts_curl_example_publishes(gateway: GatewayProcess, keys: dict[str, str]) -> None:
    env = {"PATH": "/usr/bin:/bin", "SIMPUL_GATEWAY_URL": gateway.url, "SIMPUL_API_KEY": keys["3374"]}
    runs = [subprocess.run(["bash", str(EXAMPLES / "curl" / "publish.sh")], env=env, capture_output=True, text=True,
                           timeout=120, check=False) for _ in range(2)]
    for run in runs:
        assert run.returncode == 0, run.stdout + run.stderr
    answers = [json.loads(run.stdout) for run in runs]
    assert [a["accepted"] for a in answers] == [1, 1], "each run is a new event, not a duplicate"
    assert answers[0]["results"][0]["event_id"] != answers[1]["results"][0]["event_id"]
