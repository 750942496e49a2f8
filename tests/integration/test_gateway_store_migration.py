"""The gateway's database moves from the unkeyed retry digests to keyed ones on both databases it runs on
(SQLite, PostgreSQL): the unkeyed column is gone and the table rewritten, the accepted event_ids are still known
(a retry of one stays a duplicate), and new outcomes carry the keyed digest and its key id."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa

from producers.gateway.store import GatewayStore, Outcome

ACCEPTED_AT_TYPE = {  # as the earlier layout declared accepted_at on each database
    "sqlite": "DATETIME",
    "postgresql": "TIMESTAMP WITH TIME ZONE",
}


def test_unkeyed_digests_are_dropped(store_url: str) -> None:
    engine = sa.create_engine(store_url)
    digests = [hashlib.sha256(f'{{"applicant_nik": "33740155029{i:05d}"}}'.encode()).hexdigest() for i in range(50)]
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE gateway_outcomes (event_id VARCHAR(36) NOT NULL PRIMARY KEY, regency_code VARCHAR(4) NOT "
            "NULL, payload_sha256 VARCHAR(64) NOT NULL, topic VARCHAR(249) NOT NULL, partition INTEGER NOT NULL, "
            f'"offset" BIGINT NOT NULL, accepted_at {ACCEPTED_AT_TYPE[engine.dialect.name]} NOT NULL)')
        conn.exec_driver_sql("INSERT INTO gateway_outcomes VALUES " + ", ".join(
            f"('e{i}', '3374', '{d}', 'jateng.ingress.3374', 0, {i}, '2026-12-01 00:00:00')"
            for i, d in enumerate(digests)))
    postgres = engine.dialect.name == "postgresql"
    before = _filenode(engine) if postgres else None
    engine.dispose()

    store = GatewayStore(store_url)
    assert len(store.migrate()) == 1
    columns = {c["name"] for c in sa.inspect(store.engine).get_columns("gateway_outcomes")}
    assert "payload_sha256" not in columns and {"payload_hmac", "digest_key_id"} <= columns
    assert store.outcomes_for(["e3"]) == {"e3": Outcome("e3", "3374", None, None, "jateng.ingress.3374", 0, 3)}
    fresh = Outcome("e-new", "3374", "b" * 64, "0123456789abcdef", "jateng.ingress.3374", 2, 9)
    store.record([fresh])
    assert store.outcomes_for(["e-new"]) == {"e-new": fresh}
    if postgres:  # VACUUM FULL wrote the table to a new file: the pages that held the digests are gone
        assert _filenode(store.engine) != before
    store.engine.dispose()
    assert GatewayStore(store_url).migrate() == []


def _filenode(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT pg_relation_filenode('gateway_outcomes')").scalar_one())
