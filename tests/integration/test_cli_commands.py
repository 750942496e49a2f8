"""Commands users run, as they run them (`python -m simpul ...` subprocesses on the running platform):

- `simpul keys create|list|revoke`: a created key publishes through the gateway, a revoked one gets 401 at once;
- `simpul simulate --via http` against `simpul gateway` on a free port (its URL from the settings, as an
  installation has it): every record answered as the manifest says, and the accepted events on the ingress topics.
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
from fastapi.testclient import TestClient

import harness as h
from producers.simulator import FaultMix, plan
from producers.simulator.model import Expect
from schemas.examples import example
from schemas.reference import regency_codes
from simpul import bootstrap
from simpul.settings import Settings
from simpul.platform.probes import free_port_block

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pipe(settings: Settings, tmp_path: Path) -> Iterator[h.Pipeline]:
    p = h.Pipeline(settings, f"cli{uuid.uuid4().hex[:8]}", tmp_path / "state")
    p.provision()
    try:
        yield p
    finally:
        p.cleanup()
        print(p.tails())


def _cli(p: h.Pipeline, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simpul", *args], env={**p.env(), **(env or {})}, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def _event(regency: str) -> dict[str, object]:
    e = example("ServiceRequestSubmitted", regency_code=regency, event_id=uuid.uuid4(),
                case_id=f"SR-{uuid.uuid4().hex[:8]}")
    return {"event_type": "ServiceRequestSubmitted", **e.model_dump(mode="json")}


def test_keys_create_list_revoke(pipe: h.Pipeline) -> None:
    created = _cli(pipe, "keys", "create", "--regency", "3374", "--label", "dinas kominfo", "--json")
    assert created.returncode == 0, created.stderr
    issued = json.loads(created.stdout)
    assert issued["regency_code"] == "3374" and issued["api_key"] and issued["key_id"]

    listed = _cli(pipe, "keys", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert issued["api_key"] not in listed.stdout  # only its hash is kept
    (row,) = [r for r in json.loads(listed.stdout) if r["key_id"] == issued["key_id"]]
    assert (row["regency_code"], row["label"], row["revoked_at"]) == ("3374", "dinas kominfo", None)

    with TestClient(bootstrap.gateway(pipe.settings)) as gateway:  # the database the commands wrote
        sent = gateway.post("/v1/events", json={"events": [_event("3374")]}, headers={"X-API-Key": issued["api_key"]})
        assert sent.status_code == 202, sent.text

        revoked = _cli(pipe, "keys", "revoke", issued["key_id"])
        assert revoked.returncode == 0 and f"key {issued['key_id']} revoked" in revoked.stderr, revoked.stderr
        refused = gateway.post("/v1/events", json={"events": [_event("3374")]},
                               headers={"X-API-Key": issued["api_key"]})
        assert refused.status_code == 401, refused.text

    (row,) = [r for r in json.loads(_cli(pipe, "keys", "list", "--json").stdout) if r["key_id"] == issued["key_id"]]
    assert row["revoked_at"]
    again = _cli(pipe, "keys", "revoke", issued["key_id"])
    assert again.returncode == 1 and again.stderr.startswith("error: no active key with id"), again.stderr



def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_simulate_via_http_against_a_real_gateway(pipe: h.Pipeline, tmp_path: Path) -> None:
    store = bootstrap.gateway_store(pipe.settings)
    keys = {code: store.create_key(code, label="simulator").secret for code in sorted(regency_codes())}
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(json.dumps(keys))
    port = free_port_block(1)[0]
    served = {"SIMPUL_GATEWAY_PORT": str(port)}  # simulate finds the gateway through the same setting
    log = pipe.state / "gateway-0.log"
    pipe.logs.append(log)
    with log.open("wb") as out:
        pipe.procs["gateway"] = subprocess.Popen([sys.executable, "-m", "simpul", "gateway"],
                                                 env={**pipe.env(), **served}, cwd=ROOT, stdout=out,
                                                 stderr=subprocess.STDOUT)
    h.wait_for("the gateway", lambda: _healthy(f"http://127.0.0.1:{port}/healthz"), timeout=90, every=0.3,
               alive=pipe.alive)

    events, seed = 400, 11
    manifest = tmp_path / "manifest.json"
    ran = _cli(pipe, "simulate", "-n", str(events), "--seed", str(seed), "--via", "http", "--keys-file",
               str(keys_file), "--manifest", str(manifest), "--json", env=served)
    pipe.stop("gateway")
    assert ran.returncode == 0, ran.stderr
    summary = json.loads(ran.stdout)
    written = json.loads(manifest.read_text())
    assert summary["via"] == "http" and summary["total_sent"] == written["total_sent"] == events
    assert (summary["sent"], summary["delivered"], summary["failed"]) == (events, events, 0)
    assert summary["unexpected"] == [] and summary["gateway_answers"] == written["gateway_rejected"]
    assert summary["gateway_accepted"] == events - sum(written["gateway_rejected"].values()) > 0

    the_plan = plan(events, seed, FaultMix(), via="http", nik_hmac_key=pipe.settings.secret("nik_hmac_key"))
    accepted = {str(r.event.event_id) for r in the_plan.records
                if not (r.expect is Expect.DLQ and r.gateway_rejection)}
    codec = bootstrap.codec(pipe.settings)
    on_ingress = {str(codec.decode_record(m.value())[1]["event_id"]) for m in h.read_all(pipe.settings, pipe.ingress)}
    assert on_ingress == accepted
