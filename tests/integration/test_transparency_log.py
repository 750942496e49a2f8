"""The transparency log end to end: a seeded run with every fault type (and a gatekeeper SIGKILL) through the real
pipeline with the transparency stage running, then the acceptance of issue 18 checked from outside:

- `simpul audit verify --complete` passes; an event's field changed, an event deleted, a forged event inserted in
  the store each make it fail naming that event; a rewritten leaf makes it fail naming that entry;
- a proof printed by `simpul audit prove` verifies with docs/audit_verify.py in a process that imports nothing of
  Simpul, given only the public key; a proof of an event not in the log is refused; an altered proof fails;
- the checkpoint taken early in the run and the last one are proven consistent by the standalone script;
- a DLQ replay and a key revocation done with the CLI are entries of the log naming who and when;
- a receipt fetched over HTTP from `simpul gateway` by regency 3374 verifies; 3301's key is refused.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

import harness as h
from consumers.store.db import connect
from consumers.store.tables import EVENT_TABLES, tlog_checkpoints, tlog_leaves
from producers.simulator import plan
from producers.simulator.send import send_sdk
from schemas.audit import AuditEntry
from simpul import bootstrap
from simpul.settings import Settings
from simpul.platform.probes import free_port_block
from transparency.verify import verify

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "docs" / "audit_verify.py"
EVENTS = 900
LATER_EVENTS = 150
SEED = 18_2026


class Logged:
    """One finished run: its pipeline, its store file, the installation's verifier key."""

    def __init__(self, p: h.Pipeline, store: Path, first_checkpoint: int, vkey: str) -> None:
        self.p, self.store, self.first_checkpoint, self.vkey = p, store, first_checkpoint, vkey

    def cli(self, *args: str, store: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {**self.p.env(), "SIMPUL_STORE_URL": f"sqlite:///{store or self.store}"}
        done = subprocess.run([sys.executable, "-m", "simpul", *args], env=env, cwd=ROOT, capture_output=True,
                              text=True, timeout=300)
        if check:
            assert done.returncode == 0, f"simpul {' '.join(args)}: {done.stderr[-3000:]}"
        return done

    def copy(self, tmp: Path) -> tuple[Path, sa.Engine]:
        """A copy of the store to tamper with (the log's triggers stay: they refuse changes to the log itself)."""
        target = tmp / f"tampered-{uuid.uuid4().hex[:6]}.sqlite"
        with sqlite3.connect(self.store) as src, sqlite3.connect(target) as dst:
            src.backup(dst)  # the WAL too: a file copy could miss what is not checkpointed yet
        return target, connect(f"sqlite:///{target}")


def _standalone(proof: str, vkey: str, tmp: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """docs/audit_verify.py copied alone into an empty folder and run isolated (-I: no PYTHONPATH, no cwd on
    sys.path, no user site), so it can import nothing of Simpul."""
    folder = tmp / f"auditor-{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    shutil.copy(SCRIPT, folder / "audit_verify.py")
    (folder / "proof.json").write_text(proof, encoding="utf-8")
    return subprocess.run([sys.executable, "-I", "audit_verify.py", "--key", vkey, "proof.json", *extra],
                          cwd=folder, capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})


def _logged_events(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(tlog_leaves)
                                .where(tlog_leaves.c.kind == "event")).scalar_one())


def _stored_events(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return sum(int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())
                   for t in EVENT_TABLES.values())


def _latest_size(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(tlog_checkpoints.c.size), 0))).scalar_one())


def _leaf_count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(tlog_leaves)).scalar_one())


def _ops_entries(p: h.Pipeline) -> dict[str, AuditEntry]:
    entries = [AuditEntry.model_validate_json(m.value()) for m in h.read_all(p.settings, [p.topics.find("audit").name])]
    return {e.entry_id: e for e in entries}


def _caught_up(p: h.Pipeline, engine: sa.Engine) -> None:
    """Wait until the store is quiet, every stored event is in the log and a checkpoint covers the whole log."""
    last: list[int] = []

    def quiet() -> bool:
        last.append(_stored_events(engine))
        return len(last) >= 3 and last[-1] == last[-3] > 0

    h.wait_for("a quiet store", quiet, timeout=180, alive=p.alive, every=1.0)
    h.wait_for("every stored event in the log", lambda: _logged_events(engine) == _stored_events(engine),
               timeout=180, alive=p.alive)
    h.wait_for("a checkpoint of the whole log", lambda: _latest_size(engine) == _leaf_count(engine),
               timeout=60, alive=p.alive)


@pytest.fixture(scope="module")
def logged(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Logged]:
    state = tmp_path_factory.mktemp("tlog") / "state"
    p = h.Pipeline(settings, f"tl{uuid.uuid4().hex[:8]}", state)
    store = state / "store.sqlite"
    p.store_url = f"sqlite:///{store}"
    receiver = h.Receiver()
    p.webhook = receiver.url
    p.provision()
    try:
        bootstrap.store_engine(p.settings, p.store_url).dispose()
        p.start("transparency")  # alongside the whole pipeline during the run, SIGKILL of the gatekeeper included
        engine = connect(p.store_url)
        result = h.chaos_run(p, events=EVENTS, seed=SEED, kills=(("gatekeeper", 0.4),), down_seconds=2.0,
                             timeout=600.0)
        assert not result.problems, result.problems
        for name in ("gatekeeper", "sink-store", "transparency"):  # the chaos run stops every process it knows
            if name not in p.procs:
                p.start(name)
        _caught_up(p, engine)
        first, before = _latest_size(engine), _stored_events(engine)
        # later traffic: a second seeded batch, so the log grows past the first checkpoint by more than ops actions
        later = plan(LATER_EVENTS, SEED + 1, nik_hmac_key=p.settings.secret("nik_hmac_key"))
        send_sdk(later.records, kafka=p.settings.kafka, codec=bootstrap.codec(p.settings), topic_prefix=p.prefix,
                 show_progress=False)
        expected = before + sum(later.manifest.events.values())
        h.wait_for("the later events in the store", lambda: _stored_events(engine) >= expected, timeout=180,
                   alive=p.alive)
        _caught_up(p, engine)
        vkey = bootstrap.log_signer(p.settings).verifier_key
        yield Logged(p, store, first, vkey)
    finally:
        p.stop_all()
        receiver.close()
        print(p.tails())
        p.cleanup()


def test_a_seeded_run_with_every_fault_type_verifies(logged: Logged) -> None:
    done = logged.cli("audit", "verify", "--complete", "--json")
    report = json.loads(done.stdout)
    assert report["ok"] is True, report["problems"][:3]
    assert report["events_checked"] == _stored_events(connect(f"sqlite:///{logged.store}")) >= EVENTS // 2
    assert report["checkpoints"] >= 2 and report["latest_checkpoint"] == report["size"]


def _one_event(engine: sa.Engine) -> tuple[sa.Table, dict[str, Any]]:
    for table in EVENT_TABLES.values():
        with engine.connect() as conn:
            row = conn.execute(sa.select(table).order_by(table.c.event_id).limit(1)).mappings().first()
        if row is not None:
            return table, dict(row)
    raise AssertionError("no stored event")


def test_a_changed_field_is_named(logged: Logged, tmp_path: Path) -> None:
    path, engine = logged.copy(tmp_path)
    table, row = _one_event(engine)
    payload = json.loads(row["payload"]) if isinstance(row["payload"], str) else dict(row["payload"])
    payload["source_system"] = str(payload["source_system"]) + "-edited"
    with engine.begin() as conn:
        conn.execute(table.update().where(table.c.event_id == row["event_id"]).values(payload=payload))
    done = logged.cli("audit", "verify", "--complete", store=path, check=False)
    assert done.returncode == 1
    assert f"event {row['event_id']}" in done.stdout and "altered" in done.stdout, done.stdout
    first = verify(engine, [logged.vkey]).problems[0]
    assert (first.kind, first.ref_id) == ("altered", row["event_id"])


def test_a_deleted_event_is_named(logged: Logged, tmp_path: Path) -> None:
    path, engine = logged.copy(tmp_path)
    table, row = _one_event(engine)
    with engine.begin() as conn:
        conn.execute(table.delete().where(table.c.event_id == row["event_id"]))
    done = logged.cli("audit", "verify", store=path, check=False)
    assert done.returncode == 1 and f"event {row['event_id']}" in done.stdout and "removed" in done.stdout, done.stdout
    assert [(p.kind, p.ref_id) for p in verify(engine, [logged.vkey]).problems] == [("removed", row["event_id"])]


def test_an_inserted_forged_event_is_named(logged: Logged, tmp_path: Path) -> None:
    path, engine = logged.copy(tmp_path)
    table, row = _one_event(engine)
    forged = str(uuid.uuid4())
    payload = json.loads(row["payload"]) if isinstance(row["payload"], str) else dict(row["payload"])
    payload["event_id"] = forged
    with engine.begin() as conn:
        conn.execute(table.insert().values({**row, "event_id": forged, "payload": payload}))
    done = logged.cli("audit", "verify", store=path, check=False)
    assert done.returncode == 1 and f"event {forged}" in done.stdout and "inserted" in done.stdout, done.stdout
    assert [(p.kind, p.ref_id) for p in verify(engine, [logged.vkey]).problems] == [("inserted", forged)]


def test_the_log_itself_refuses_changes_and_a_rewritten_leaf_is_named(logged: Logged, tmp_path: Path) -> None:
    path, engine = logged.copy(tmp_path)
    with engine.connect() as conn:
        victim = conn.execute(sa.select(tlog_leaves).where(tlog_leaves.c.kind == "event")
                              .order_by(tlog_leaves.c.idx).offset(3).limit(1)).mappings().one()
    with pytest.raises(sa.exc.IntegrityError, match="append-only"), engine.begin() as conn:
        conn.execute(tlog_leaves.update().where(tlog_leaves.c.idx == victim["idx"]).values(leaf_hash="00" * 32))
    with engine.begin() as conn:  # an owner of the database can drop the trigger: the signatures still catch it
        conn.execute(sa.text("DROP TRIGGER tlog_leaves_no_update"))
        conn.execute(tlog_leaves.update().where(tlog_leaves.c.idx == victim["idx"]).values(leaf_hash="00" * 32))
    first = verify(engine, [logged.vkey]).problems[0]
    assert (first.kind, first.log_index, first.ref_id) == ("rewritten", victim["idx"], victim["ref_id"])
    done = logged.cli("audit", "verify", store=path, check=False)
    assert done.returncode == 1 and f"log entry {victim['idx']}" in done.stdout, done.stdout


def test_a_forged_checkpoint_is_refused(logged: Logged, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from transparency.stage import Signer

    path, engine = logged.copy(tmp_path)
    size = _leaf_count(engine)
    impostor = Signer(bootstrap.log_signer(logged.p.settings).origin, Ed25519PrivateKey.generate())
    with engine.connect() as conn:
        root = conn.execute(sa.select(tlog_checkpoints.c.root_hash).where(tlog_checkpoints.c.size == size)).scalar_one()
    forged = impostor.checkpoint(size + 1, bytes.fromhex(root), __import__("datetime").datetime.now().astimezone())
    with engine.begin() as conn:
        conn.execute(tlog_checkpoints.insert().values(**forged.model_dump()))
    problems = verify(engine, [logged.vkey]).problems
    assert problems[0].kind == "signature" and f"size {size + 1}" in problems[0].detail


def test_a_proof_verifies_with_the_public_key_alone(logged: Logged, tmp_path: Path) -> None:
    engine = connect(f"sqlite:///{logged.store}")
    _, row = _one_event(engine)
    proof = logged.cli("audit", "prove", row["event_id"]).stdout
    assert json.loads(proof)["ref_id"] == row["event_id"]
    key = logged.cli("audit", "key").stdout.strip()
    assert key == logged.vkey

    ok = _standalone(proof, key, tmp_path)
    assert ok.returncode == 0 and ok.stdout.startswith(f"OK: entry {row['event_id']}"), ok.stdout + ok.stderr
    # the event as stored hashes to the proven leaf (what a regency checks with the event it sent)
    payload = row["payload"] if isinstance(row["payload"], str) else json.dumps(row["payload"])
    (tmp_path / "event.json").write_text(payload, encoding="utf-8")
    with_event = _standalone(proof, key, tmp_path, "--event", str(tmp_path / "event.json"))
    assert with_event.returncode == 0, with_event.stdout + with_event.stderr

    doc = json.loads(proof)
    other = {**doc, "leaf_hash": "11" * 32}  # a proof for a leaf that is not in the log
    bad = _standalone(json.dumps(other), key, tmp_path)
    assert bad.returncode == 1 and bad.stdout.startswith("FAILED: the leaf is not at index"), bad.stdout
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from transparency.stage import Signer
    stranger = Signer(doc["verifier_key"].split("+")[0], Ed25519PrivateKey.generate()).verifier_key
    refused = _standalone(proof, stranger, tmp_path)
    assert refused.returncode == 1 and "no signature by this key" in refused.stdout, refused.stdout

    missing = logged.cli("audit", "prove", str(uuid.uuid4()), check=False)
    assert missing.returncode == 1 and "is not in the log" in missing.stderr, missing.stderr


def test_an_early_and_the_last_checkpoint_are_consistent(logged: Logged, tmp_path: Path) -> None:
    engine = connect(f"sqlite:///{logged.store}")
    latest = _latest_size(engine)
    assert 0 < logged.first_checkpoint < latest, (logged.first_checkpoint, latest)
    _, row = _one_event(engine)
    proof = logged.cli("audit", "prove", row["event_id"], "--from", str(logged.first_checkpoint)).stdout
    ok = _standalone(proof, logged.vkey, tmp_path)
    assert ok.returncode == 0 and f"extends the checkpoint of size {logged.first_checkpoint}" in ok.stdout, ok.stdout
    doc = json.loads(proof)
    doc["consistency"]["proof"][0] = "22" * 32  # a rewritten history: the old tree is no longer a prefix
    bad = _standalone(json.dumps(doc), logged.vkey, tmp_path)
    assert bad.returncode == 1 and "was rewritten" in bad.stdout, bad.stdout


def test_a_dlq_replay_and_a_key_revocation_are_in_the_log_with_who_and_when(logged: Logged) -> None:
    p = logged.p
    records = json.loads(logged.cli("dlq", "list", "--limit", "50", "--json").stdout)
    assert records, "the seeded run sent faults: the DLQ holds records"
    before = time.time()
    logged.cli("dlq", "replay", records[0]["id"], "--json")
    key = json.loads(logged.cli("keys", "create", "--regency", "3374", "--label", "tlog test", "--json").stdout)
    logged.cli("keys", "revoke", key["key_id"])
    engine = connect(f"sqlite:///{logged.store}")

    def logged_ops() -> dict[str, AuditEntry]:
        entries = _ops_entries(p)
        with engine.connect() as conn:
            ids = set(conn.execute(sa.select(tlog_leaves.c.ref_id).where(tlog_leaves.c.kind == "ops")).scalars())
        return {i: e for i, e in entries.items() if i in ids}

    def both() -> dict[str, AuditEntry] | None:
        found = logged_ops()
        actions = {str(e.action) for e in found.values()}
        return found if {"dlq.replay", "api_key.revoke"} <= actions else None

    seen: list[dict[str, AuditEntry]] = []
    h.wait_for("the replay and the revocation in the log", lambda: bool(seen.append(both() or {}) or seen[-1]),
               timeout=120, alive=p.alive)
    found = seen[-1]
    for action in ("dlq.replay", "api_key.revoke"):
        entry = next(e for e in found.values() if str(e.action) == action)
        assert entry.actor.startswith("cli:") and entry.at.timestamp() >= before - 1, entry
    revoke = next(e for e in found.values() if str(e.action) == "api_key.revoke")
    assert key["key_id"] in revoke.target and key["api_key"] not in revoke.model_dump_json()
    h.wait_for("a checkpoint covering them", lambda: _latest_size(engine) == _leaf_count(engine), timeout=60)
    report = verify(engine, [logged.vkey], ops_engine=connect(logged.p.settings.dashboard_db))
    assert report.ok and report.ops_checked >= 2, report.problems[:3]



def test_a_receipt_over_http_verifies_for_its_regency_only(logged: Logged, tmp_path: Path) -> None:
    engine = connect(f"sqlite:///{logged.store}")
    with engine.connect() as conn:
        event_id = conn.execute(sa.select(tlog_leaves.c.ref_id).where(tlog_leaves.c.regency_code == "3374")
                                .order_by(tlog_leaves.c.idx).limit(1)).scalar_one()
    k3374 = json.loads(logged.cli("keys", "create", "--regency", "3374", "--json").stdout)["api_key"]
    k3301 = json.loads(logged.cli("keys", "create", "--regency", "3301", "--json").stdout)["api_key"]
    port = free_port_block(1)[0]
    env = {**logged.p.env(), "SIMPUL_STORE_URL": f"sqlite:///{logged.store}"}
    log = tmp_path / "gateway.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "simpul", "gateway", "--port", str(port)], env=env, cwd=ROOT,
                                stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        def up() -> bool:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        h.wait_for("the gateway", up, timeout=90, every=0.3)
        got = httpx.get(f"{base}/v1/receipts/{event_id}", headers={"X-API-Key": k3374}, timeout=10)
        assert got.status_code == 200, got.text
        receipt = got.json()
        assert receipt["event_id"] == event_id and receipt["regency_code"] == "3374"
        ok = _standalone(got.text, logged.vkey, tmp_path)
        assert ok.returncode == 0, ok.stdout
        refused = httpx.get(f"{base}/v1/receipts/{event_id}", headers={"X-API-Key": k3301}, timeout=10)
        assert refused.status_code == 403 and receipt["leaf_hash"] not in refused.text, refused.text
        assert httpx.get(f"{base}/v1/receipts/{event_id}", timeout=10).status_code == 401
    finally:
        h.terminate(proc)


def test_each_regency_gets_its_receipts_on_its_own_topic(logged: Logged, tmp_path: Path) -> None:
    p = logged.p
    engine = connect(f"sqlite:///{logged.store}")
    with engine.connect() as conn:
        logged_3374 = set(conn.execute(sa.select(tlog_leaves.c.ref_id).where(tlog_leaves.c.regency_code == "3374",
                                                                             tlog_leaves.c.kind == "event")).scalars())
    topic = p.topics.find("receipts", regency="3374").name
    receipts = {m.key().decode(): m.value() for m in h.read_all(p.settings, [topic])}
    assert logged_3374 and set(receipts) == logged_3374  # one receipt per logged event of 3374, no other's
    event_id, value = sorted(receipts.items())[0]
    assert json.loads(value)["regency_code"] == "3374"
    ok = _standalone(value.decode(), logged.vkey, tmp_path)
    assert ok.returncode == 0 and event_id in ok.stdout, ok.stdout
