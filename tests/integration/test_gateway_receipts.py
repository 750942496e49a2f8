"""GET /v1/receipts/{event_id} through the real app (simpul.bootstrap.gateway) on a real, migrated store (SQLite and
PostgreSQL) holding a real log: Merkle tree, Ed25519-signed checkpoint and receipt rows, as the log stage writes
them. The receipt a regency gets verifies with the province's key alone; another regency gets nothing of it."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from consumers.store.db import connect, migrate
from producers.gateway.api import ReceiptOut
from schemas.examples import example
from simpul import bootstrap
from simpul.settings import Settings
from transparency.checkpoint import Checkpoint, open_note, sign, verifier_key
from transparency.exceptions import ProofError
from transparency.leaves import event_leaf, ops_leaf
from transparency.log_store import CheckpointRecord, add_checkpoint, append, proof_json, proof_text
from transparency.merkle import verify_inclusion
from transparency.receipts import Receipt
from transparency.tree import MerkleTree

ORIGIN = "jatengprov.go.id/simpul/receipts-test"
STANDALONE_VERIFIER = Path(__file__).resolve().parents[2] / "docs" / "audit_verify.py"
KEY_NAME = "jatengprov.go.id/simpul/receipts-test"


@dataclass
class Log:
    """The events the test log holds: receipted (in the checkpoint) and pending (after it), by regency."""

    receipted: dict[str, list[str]]
    pending: dict[str, str]
    leaves: dict[str, str]
    vkey: str


def _fill_log(store_url: str) -> Log:
    """Six leaves (five events of 3374 and 3301, one ops entry); a signed checkpoint of the first four with the
    receipts of its events; the last two are logged but not yet checkpointed."""
    engine = connect(store_url)
    migrate(engine)
    now = datetime.now(UTC)
    plan = [("3374", "event"), ("3301", "event"), (None, "ops"), ("3374", "event"), ("3374", "event"),
            ("3301", "event")]
    tree, rows, leaves = MerkleTree(), [], {}
    for idx, (regency, kind) in enumerate(plan):
        ref = str(uuid.uuid4())
        if kind == "event":
            payload = example("ServiceRequestSubmitted", regency_code=regency, event_id=uuid.UUID(ref),
                              case_id=f"REQ-{ref[:8]}").model_dump(mode="json")
            leaf = event_leaf(payload)
        else:
            leaf = ops_leaf({"entry_id": ref, "action": "api_key.create", "actor": "test"})
        tree.append(leaf)
        leaves[ref] = leaf.hex()
        rows.append((idx, kind, ref, regency, leaf.hex(), f"test.events.governance:0:{idx}"))
    size = 4
    key = Ed25519PrivateKey.generate()
    vkey = verifier_key(KEY_NAME, key.public_key())
    note = sign(Checkpoint(ORIGIN, size, tree.root(size)), KEY_NAME, key)
    record = CheckpointRecord(size=size, root_hash=tree.root(size).hex(), signed_at=now, origin=ORIGIN, note=note,
                              verifier_key=vkey)
    receipts = [(ref, str(regency), idx, size, proof_text(proof_json(tree.inclusion_proof(idx, size))))
                for idx, kind, ref, regency, _leaf, _source in rows[:size] if kind == "event"]
    with engine.begin() as conn:
        append(conn, rows, now)
        add_checkpoint(conn, record, receipts)
    engine.dispose()
    receipted: dict[str, list[str]] = {}
    for event_id, regency_code, *_ in receipts:
        receipted.setdefault(regency_code, []).append(event_id)
    pending = {str(r[3]): r[2] for r in rows[size:]}
    return Log(receipted=receipted, pending=pending, leaves=leaves, vkey=vkey)


@pytest.fixture
def gw_settings(settings: Settings, store_url: str, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"store_url": store_url, "gateway_db_url": f"sqlite:///{tmp_path / 'gw.sqlite'}",
                                       "topic_prefix": f"rc{uuid.uuid4().hex[:8]}"})


@pytest.fixture
def log(gw_settings: Settings) -> Log:
    assert gw_settings.store_url is not None
    return _fill_log(gw_settings.store_url)


@pytest.fixture
def keys(gw_settings: Settings) -> dict[str, str]:
    store = bootstrap.gateway_store(gw_settings)
    store.migrate()
    return {code: store.create_key(code, label="receipts test").secret for code in ("3374", "3301")}


@pytest.fixture
def client(gw_settings: Settings, log: Log, keys: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(bootstrap.gateway(gw_settings)) as c:
        yield c


def test_own_regency_gets_a_receipt_that_verifies_with_the_public_key_alone(
        client: TestClient, log: Log, keys: dict[str, str]) -> None:
    for event_id in log.receipted["3374"]:
        r = client.get(f"/v1/receipts/{event_id}", headers={"X-API-Key": keys["3374"]})
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == set(Receipt.model_fields) == set(ReceiptOut.model_fields)
        assert body["event_id"] == event_id and body["regency_code"] == "3374"
        assert body["leaf_hash"] == log.leaves[event_id]
        assert body["verifier_key"] == log.vkey and body["origin"] == ORIGIN
        checkpoint = open_note(body["checkpoint"], log.vkey)  # signature by the province's key
        assert checkpoint.size == body["tree_size"] == 4 and checkpoint.origin == ORIGIN
        proof = [bytes.fromhex(h) for h in body["inclusion_proof"]]
        verify_inclusion(bytes.fromhex(body["leaf_hash"]), body["log_index"], body["tree_size"], proof,
                         checkpoint.root_hash)
        # the proof is the event's own: another leaf does not verify with it
        other = next(h for e, h in log.leaves.items() if e != event_id)
        with pytest.raises(ProofError):
            verify_inclusion(bytes.fromhex(other), body["log_index"], body["tree_size"], proof, checkpoint.root_hash)
    r = client.get(f"/v1/receipts/{log.receipted['3301'][0]}", headers={"X-API-Key": keys["3301"]})
    assert r.status_code == 200 and r.json()["regency_code"] == "3301"


def test_receipt_verifies_with_the_standalone_script(client: TestClient, log: Log, keys: dict[str, str],
                                                     tmp_path: Path) -> None:
    """docs/audit_verify.py, in a process of its own (isolated mode: no Simpul on its path), given the response
    as it came over HTTP and the province's key; the same receipt under another key is refused."""
    receipt = tmp_path / "receipt.json"
    receipt.write_bytes(client.get(f"/v1/receipts/{log.receipted['3374'][1]}",
                                   headers={"X-API-Key": keys["3374"]}).content)

    def verify(key: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-I", str(STANDALONE_VERIFIER), "--key", key, str(receipt)],
                              capture_output=True, text=True, timeout=60, cwd=tmp_path)

    ok = verify(log.vkey)
    assert ok.returncode == 0 and ok.stdout.startswith("OK"), ok.stdout + ok.stderr
    other = verifier_key(KEY_NAME, Ed25519PrivateKey.generate().public_key())
    assert verify(other).returncode == 1


def test_another_regency_is_refused_and_told_nothing_of_the_event(
        client: TestClient, log: Log, keys: dict[str, str]) -> None:
    event_id = log.receipted["3374"][0]
    r = client.get(f"/v1/receipts/{event_id}", headers={"X-API-Key": keys["3301"]})
    assert r.status_code == 403, r.text
    body = r.json()
    assert body["error"] == "regency_forbidden"
    assert "another regency" in body["message"]
    assert body["problems"] == [{"index": None, "field": "event_id", "reason": "event belongs to another regency"}]
    assert "3374" not in r.text and log.leaves[event_id] not in r.text and "tree_size" not in r.text
    # pending: refused the same way, not "pending"
    r = client.get(f"/v1/receipts/{log.pending['3374']}", headers={"X-API-Key": keys["3301"]})
    assert r.status_code == 403 and r.json()["error"] == "regency_forbidden"


def test_unknown_event_is_404(client: TestClient, log: Log, keys: dict[str, str]) -> None:
    r = client.get(f"/v1/receipts/{uuid.uuid4()}", headers={"X-API-Key": keys["3374"]})
    assert r.status_code == 404, r.text
    assert r.json()["error"] == "not_found" and r.json()["problems"][0]["field"] == "event_id"
    # an ops entry is in the log, but it is not an event: no receipt
    ops_id = next(e for e in log.leaves if e not in log.pending.values()
                  and all(e not in ids for ids in log.receipted.values()))
    assert client.get(f"/v1/receipts/{ops_id}", headers={"X-API-Key": keys["3374"]}).status_code == 404


def test_logged_but_not_checkpointed_is_202_with_retry_after(
        client: TestClient, log: Log, keys: dict[str, str], gw_settings: Settings) -> None:
    r = client.get(f"/v1/receipts/{log.pending['3374']}", headers={"X-API-Key": keys["3374"]})
    assert r.status_code == 202, r.text
    retry = int(r.headers["Retry-After"])
    assert retry >= gw_settings.tlog_checkpoint_seconds and retry >= 1
    assert r.json() == {"event_id": log.pending["3374"], "status": "pending", "message": r.json()["message"],
                        "retry_after_s": retry}


def test_key_is_required_and_event_id_must_be_a_uuid(client: TestClient, log: Log, keys: dict[str, str]) -> None:
    event_id = log.receipted["3374"][0]
    r = client.get(f"/v1/receipts/{event_id}")
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    r = client.get(f"/v1/receipts/{event_id}", headers={"X-API-Key": "not-a-key"})
    assert r.status_code == 401
    r = client.get("/v1/receipts/not-a-uuid", headers={"X-API-Key": keys["3374"]})
    assert r.status_code == 422, r.text
    assert r.json() == {"error": "invalid_parameter", "message": "event_id: must be a UUID",
                        "problems": [{"index": None, "field": "event_id", "reason": "must be a UUID"}]}
    # the key comes first: without one, a malformed id is still 401
    assert client.get("/v1/receipts/not-a-uuid").status_code == 401


def test_the_endpoint_is_in_the_openapi_document(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    op = doc["paths"]["/v1/receipts/{event_id}"]["get"]
    assert {"200", "202", "401", "403", "404", "422", "503"} <= set(op["responses"])
    assert "Retry-After" in op["responses"]["202"]["headers"]
    (param,) = op["parameters"]
    assert param["name"] == "event_id" and param["schema"]["format"] == "uuid"
    assert set(doc["components"]["schemas"]["ReceiptOut"]["properties"]) == set(Receipt.model_fields)


def _app_on_store(settings: Settings, tmp_path: Path, store_url: str) -> tuple[TestClient, str]:
    s = settings.model_copy(update={"store_url": store_url,
                                    "gateway_db_url": f"sqlite:///{tmp_path / 'gw.sqlite'}"})
    store = bootstrap.gateway_store(s)
    store.migrate()
    return TestClient(bootstrap.gateway(s)), store.create_key("3374", label="receipts test").secret


@pytest.mark.parametrize("state", ["missing", "not migrated"])
def test_an_unreadable_store_fails_this_endpoint_alone(settings: Settings, tmp_path: Path, state: str) -> None:
    path = tmp_path / "store.sqlite"
    if state == "not migrated":
        path.write_bytes(b"")  # an empty SQLite file: no tables
    client, key = _app_on_store(settings, tmp_path, f"sqlite:///{path}")
    with client:
        r = client.get(f"/v1/receipts/{uuid.uuid4()}", headers={"X-API-Key": key})
        assert r.status_code == 503, r.text
        assert r.json()["error"] == "unavailable" and "transparency log" in r.json()["message"]
        assert client.get("/healthz").status_code == 200
        # the gateway still refuses and validates events as before
        r = client.post("/v1/events", json={"event_type": "Nope"}, headers={"X-API-Key": key})
        assert r.status_code == 422 and r.json()["problems"][0]["field"] == "event_type"
    assert path.exists() == (state == "not migrated")  # the gateway never creates the store
