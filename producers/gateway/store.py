"""The gateway's own database: API keys (hashed, one regency each) and the outcome of every accepted event_id.

The outcomes make a client's retry of the same event_id return the first answer instead of a second copy.
SQLite under the state folder by default; PostgreSQL by URL when several gateway instances share it.

Nothing here holds a NIK or lets one be confirmed: keys are stored as SHA-256 of 32 random bytes, outcomes keep
the event's keyed retry digest (producers.gateway.digest), never its content nor an unkeyed hash of it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from producers.exceptions import ProducerError
from schemas.reference import regency_codes

log = logging.getLogger(__name__)
metadata = sa.MetaData()

api_keys = sa.Table(
    "gateway_api_keys", metadata,
    sa.Column("key_id", sa.String(16), primary_key=True),
    sa.Column("regency_code", sa.String(4), nullable=False, index=True),
    sa.Column("secret_sha256", sa.String(64), nullable=False),
    sa.Column("label", sa.String(200), nullable=False, default=""),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
)

outcomes = sa.Table(
    "gateway_outcomes", metadata,
    sa.Column("event_id", sa.String(36), primary_key=True),
    sa.Column("regency_code", sa.String(4), nullable=False),
    # HMAC-SHA256 (hex) of the accepted event under the digest key named by digest_key_id; both NULL for an event
    # accepted before digests were keyed (its unkeyed hash was dropped by `migrate`)
    sa.Column("payload_hmac", sa.String(64), nullable=True),
    sa.Column("digest_key_id", sa.String(16), nullable=True),
    sa.Column("topic", sa.String(249), nullable=False),
    sa.Column("partition", sa.Integer, nullable=False),
    sa.Column("offset", sa.BigInteger, nullable=False),
    sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
)

KEY_PREFIX = "smp"
UNKEYED_DIGEST_COLUMN = "payload_sha256"
"""The unkeyed SHA-256 of each event's JSON that earlier versions kept: it confirms a guessed NIK, so `migrate`
drops it (and rewrites the file, so that no old page keeps it)."""


class ApiKeyError(ProducerError):
    """An API key operation that cannot be done (unknown regency, unknown key id)."""


@dataclass(frozen=True)
class IssuedKey:
    """A new key: `secret` is shown once and never stored."""

    key_id: str
    regency_code: str
    secret: str


@dataclass(frozen=True)
class Outcome:
    """Where an accepted event landed, and the keyed digest of what was accepted (None: accepted before digests
    were keyed)."""

    event_id: str
    regency_code: str
    payload_hmac: str | None
    digest_key_id: str | None
    topic: str
    partition: int
    offset: int


class GatewayStore:
    """Keys and outcomes over SQLAlchemy Core; `migrate` creates or upgrades the tables, on first use at the
    latest (the composition root calls it at start, so that a wrong URL fails before serving)."""

    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(url, future=True)  # connects on first use, not here
        self._migrated = False
        self._migrating = threading.Lock()

    def migrate(self) -> list[str]:
        """Create the tables, or bring an older database to this layout; the steps taken (empty when current)."""
        with self._migrating:
            if self._migrated:
                return []
            steps: list[str] = []
            with self.engine.begin() as conn:
                if self.engine.dialect.name == "sqlite":
                    conn.exec_driver_sql("PRAGMA journal_mode=WAL")
                inspector = sa.inspect(conn)
                legacy = (inspector.has_table(outcomes.name)
                          and UNKEYED_DIGEST_COLUMN in {c["name"] for c in inspector.get_columns(outcomes.name)})
                metadata.create_all(conn)
                if legacy:
                    for column in ("payload_hmac VARCHAR(64)", "digest_key_id VARCHAR(16)"):
                        conn.exec_driver_sql(f"ALTER TABLE {outcomes.name} ADD COLUMN {column}")
                    conn.exec_driver_sql(f"ALTER TABLE {outcomes.name} DROP COLUMN {UNKEYED_DIGEST_COLUMN}")
                    steps.append(f"dropped the unkeyed digests ({outcomes.name}.{UNKEYED_DIGEST_COLUMN}); events "
                                 "accepted before are still answered as duplicates on retry")
            if steps:
                self._rewrite()
                for step in steps:
                    log.warning("gateway database migrated: %s", step)
            self._migrated = True
            return steps

    def _rewrite(self) -> None:
        """Rewrite the table's pages so that dropped values are gone from the file, not only unreachable."""
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            if self.engine.dialect.name == "sqlite":
                conn.exec_driver_sql("VACUUM")
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            elif self.engine.dialect.name == "postgresql":
                conn.exec_driver_sql(f"VACUUM FULL {outcomes.name}")

    # -- keys --------------------------------------------------------------------------------------------------
    def create_key(self, regency_code: str, label: str = "") -> IssuedKey:
        """Issue a key bound to one regency; only its SHA-256 is stored."""
        self.migrate()
        if regency_code not in regency_codes():
            raise ApiKeyError(f"{regency_code!r} is not one of the 35 Central Java regency codes; see "
                            "schemas/reference/regencies.csv")
        key_id = secrets.token_hex(4)
        secret = secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(api_keys.insert().values(
                key_id=key_id, regency_code=regency_code, secret_sha256=_sha256(secret), label=label,
                created_at=datetime.now(UTC)))
        return IssuedKey(key_id, regency_code, f"{KEY_PREFIX}_{regency_code}_{key_id}_{secret}")

    def revoke_key(self, key_id: str) -> None:
        self.migrate()
        with self.engine.begin() as conn:
            done = conn.execute(api_keys.update().where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
                                .values(revoked_at=datetime.now(UTC))).rowcount
        if not done:
            raise ApiKeyError(f"no active key with id {key_id!r}; `simpul keys list` shows the keys")

    def list_keys(self) -> list[dict[str, object]]:
        self.migrate()
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(api_keys.c.key_id, api_keys.c.regency_code, api_keys.c.label,
                                          api_keys.c.created_at, api_keys.c.revoked_at)
                                .order_by(api_keys.c.regency_code, api_keys.c.created_at)).mappings().all()
        return [dict(r) for r in rows]

    def regency_of(self, presented: str) -> str | None:
        """The regency a presented key is bound to, or None if it is unknown, malformed or revoked."""
        self.migrate()
        parts = presented.split("_", 3)
        if len(parts) != 4 or parts[0] != KEY_PREFIX:
            return None
        _, regency_code, key_id, secret = parts
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(api_keys.c.regency_code, api_keys.c.secret_sha256)
                               .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))).first()
        if row is None or row.regency_code != regency_code:
            return None
        return row.regency_code if hmac.compare_digest(row.secret_sha256, _sha256(secret)) else None

    # -- outcomes ----------------------------------------------------------------------------------------------
    def outcomes_for(self, event_ids: list[str]) -> dict[str, Outcome]:
        self.migrate()
        if not event_ids:
            return {}
        found: dict[str, Outcome] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(event_ids), 500):
                chunk = event_ids[start:start + 500]
                for r in conn.execute(sa.select(outcomes).where(outcomes.c.event_id.in_(chunk))).mappings():
                    found[r["event_id"]] = Outcome(r["event_id"], r["regency_code"], r["payload_hmac"],
                                                   r["digest_key_id"], r["topic"], r["partition"], r["offset"])
        return found

    def record(self, accepted: list[Outcome]) -> None:
        """Remember accepted events; an event_id already recorded (a concurrent retry) keeps its first outcome."""
        self.migrate()
        if not accepted:
            return
        now = datetime.now(UTC)
        rows = [{**o.__dict__, "accepted_at": now} for o in accepted]
        with self.engine.begin() as conn:
            if self.engine.dialect.name in ("sqlite", "postgresql"):
                dialect_insert = sqlite.insert if self.engine.dialect.name == "sqlite" else postgresql.insert
                conn.execute(dialect_insert(outcomes).on_conflict_do_nothing(index_elements=["event_id"]), rows)
            else:
                known = set(self.outcomes_for([r["event_id"] for r in rows]))
                conn.execute(outcomes.insert(), [r for r in rows if r["event_id"] not in known])


def _sha256(text: str) -> str:
    """Hash of an API key's secret part: 32 random bytes, so a fast hash suffices (there is nothing to guess from
    it, unlike a password, which would need a slow KDF)."""
    return hashlib.sha256(text.encode()).hexdigest()

