"""API keys are bound to one regency and stored hashed; outcomes keep the first answer for an event_id."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from producers.gateway.store import ApiKeyError, GatewayStore, Outcome


@pytest.fixture
def store(tmp_path: Path) -> GatewayStore:
    return GatewayStore(f"sqlite:///{tmp_path / 'gw.sqlite'}")


def test_key_is_bound_to_its_regency_and_stored_hashed(store: GatewayStore, tmp_path: Path) -> None:
    issued = store.create_key("3374", label="siak")
    assert issued.secret.startswith("smp_3374_")
    assert store.regency_of(issued.secret) == "3374"
    assert issued.secret.split("_", 3)[3].encode() not in (tmp_path / "gw.sqlite").read_bytes()
    forged = issued.secret.replace("smp_3374_", "smp_3301_")
    assert store.regency_of(forged) is None
    assert store.regency_of(issued.secret[:-1] + ("A" if issued.secret[-1] != "A" else "B")) is None
    assert store.regency_of("garbage") is None


def test_revoked_key_stops_working(store: GatewayStore) -> None:
    issued = store.create_key("3301")
    store.revoke_key(issued.key_id)
    assert store.regency_of(issued.secret) is None
    with pytest.raises(ApiKeyError, match="no active key"):
        store.revoke_key(issued.key_id)


def test_unknown_regency_is_refused(store: GatewayStore) -> None:
    with pytest.raises(ApiKeyError, match="not one of the 35"):
        store.create_key("3171")


def test_first_outcome_wins(store: GatewayStore) -> None:
    first = Outcome("e1", "3374", "d1", "k1", "jateng.ingress.3374", 0, 10)
    store.record([first])
    store.record([Outcome("e1", "3374", "d1", "k1", "jateng.ingress.3374", 2, 99)])
    assert store.outcomes_for(["e1", "e2"]) == {"e1": first}


def test_constructor_does_no_io(tmp_path: Path) -> None:
    db = tmp_path / "later" / "gw.sqlite"
    store = GatewayStore(f"sqlite:///{db}")
    assert not db.parent.exists()
    db.parent.mkdir()
    assert store.list_keys() == [] and db.exists()  # the first use creates the tables


LEGACY_OUTCOMES = """CREATE TABLE gateway_outcomes (
    event_id VARCHAR(36) NOT NULL, regency_code VARCHAR(4) NOT NULL, payload_sha256 VARCHAR(64) NOT NULL,
    topic VARCHAR(249) NOT NULL, partition INTEGER NOT NULL, "offset" BIGINT NOT NULL,
    accepted_at DATETIME NOT NULL, PRIMARY KEY (event_id))"""


def test_migration_drops_the_unkeyed_digests_from_the_file(tmp_path: Path) -> None:
    """A database of the earlier layout kept SHA-256(event JSON) per event: with a guessed NIK it confirms the NIK.
    After migrating, none of those digests is left in any byte of the database files, and the event_ids are still
    known (a retry stays a duplicate)."""
    db = tmp_path / "gw.sqlite"
    url = f"sqlite:///{db}"
    engine = sa.create_engine(url)
    digests = [hashlib.sha256(json.dumps({"event_id": f"e{i}", "applicant_nik": f"33740155029{i:05d}"}).encode())
               .hexdigest() for i in range(200)]
    with engine.begin() as conn:
        conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        conn.exec_driver_sql(LEGACY_OUTCOMES)
        conn.exec_driver_sql("INSERT INTO gateway_outcomes VALUES " + ", ".join(
            f"('e{i}', '3374', '{d}', 'jateng.ingress.3374', 0, {i}, '2026-12-01 00:00:00')"
            for i, d in enumerate(digests)))
    engine.dispose()
    assert digests[7].encode() in b"".join(p.read_bytes() for p in tmp_path.glob("gw.sqlite*"))

    store = GatewayStore(url)
    steps = store.migrate()
    assert len(steps) == 1 and "payload_sha256" in steps[0]
    assert store.migrate() == []
    columns = {c["name"] for c in sa.inspect(store.engine).get_columns("gateway_outcomes")}
    assert "payload_sha256" not in columns and {"payload_hmac", "digest_key_id"} <= columns
    assert store.outcomes_for(["e7"]) == {"e7": Outcome("e7", "3374", None, None, "jateng.ingress.3374", 0, 7)}
    store.record([Outcome("e-new", "3374", "a" * 64, "k1", "jateng.ingress.3374", 1, 1)])
    store.engine.dispose()
    files = b"".join(p.read_bytes() for p in tmp_path.glob("gw.sqlite*"))
    leftover = [d for d in digests if d.encode() in files or d[:32].encode() in files]
    assert leftover == []
    assert GatewayStore(url).migrate() == []  # a migrated database is current
