"""docs/contract.md as a regency developer reads it, against a running `simpul gateway`: every error code of its
tables and every body form it documents is sent to the gateway, which must answer what the contract prints. The
codes and forms are parsed from the committed document, so a row added there without a case here fails, and so
does a row the gateway answers otherwise. The curl example of the contract runs too."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import harness as h
from schemas.examples import example
from simpul import bootstrap
from simpul.settings import Settings
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


def documented() -> dict[str, Any]:
    text = CONTRACT.read_text(encoding="utf-8")
    gateway = _section(text, "\n## The HTTP gateway\n", "\n## ")
    publish, receipts = gateway.split("\n### Receipts\n", 1)
    code = re.compile(r"`([a-z_]+)`")
    return {
        "publish": {(int(r[0]), code.fullmatch(r[1]).group(1)) for r in _rows(publish, "| status | `error` | when |")  # type: ignore[union-attr]
                    if r[1]},
        "receipts": {(int(r[0]), code.fullmatch(r[1]).group(1)) for r in _rows(receipts, "| status | `error` | when |")  # type: ignore[union-attr]
                     if r[1]},
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

def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
    port = _closed_port()
    with gateway_process(pipeline, SIMPUL_KAFKA_BOOTSTRAP=f"127.0.0.1:{port}",
                         SIMPUL_STORE_URL=f"postgresql+psycopg://nobody@127.0.0.1:{port}/none") as gw:
        yield gw


@pytest.fixture(scope="module")
def no_registry(pipeline: h.Pipeline) -> Iterator[GatewayProcess]:
    """A gateway whose registry does not answer (the broker does)."""
    with gateway_process(pipeline, SIMPUL_REGISTRY_URL=f"http://127.0.0.1:{_closed_port()}/apis/ccompat/v7") as gw:
        yield gw


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


def test_the_contracts_curl_example_publishes(gateway: GatewayProcess, keys: dict[str, str]) -> None:
    env = {"PATH": "/usr/bin:/bin", "SIMPUL_GATEWAY_URL": gateway.url, "SIMPUL_API_KEY": keys["3374"]}
    runs = [subprocess.run(["bash", str(EXAMPLES / "curl" / "publish.sh")], env=env, capture_output=True, text=True,
                           timeout=120, check=False) for _ in range(2)]
    for run in runs:
        assert run.returncode == 0, run.stdout + run.stderr
    answers = [json.loads(run.stdout) for run in runs]
    assert [a["accepted"] for a in answers] == [1, 1], "each run is a new event, not a duplicate"
    assert answers[0]["results"][0]["event_id"] != answers[1]["results"][0]["event_id"]
