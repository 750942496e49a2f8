"""The gateway's own database: API keys (hashed, one regency each) and the outcome of every accepted event_id.

The outcomes make a client's retry of the same event_id return the first answer instead of a second copy.
SQLite under the state folder by default; PostgreSQL by URL when several gateway instances share it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from producers.exceptions import ProducerError
from schemas.reference import regency_codes

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
    sa.Column("payload_sha256", sa.String(64), nullable=False),
    sa.Column("topic", sa.String(249), nullable=False),
    sa.Column("partition", sa.Integer, nullable=False),
    sa.Column("offset", sa.BigInteger, nullable=False),
    sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
)

KEY_PREFIX = "smp"


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
    """Where an accepted event landed, and a digest of what was accepted."""

    event_id: str
    regency_code: str
    payload_sha256: str
    topic: str
    partition: int
    offset: int


class GatewayStore:
    """Keys and outcomes over SQLAlchemy Core; tables are created on first use."""

    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(url, future=True)
        if url.startswith("sqlite"):
            with self.engine.begin() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        metadata.create_all(self.engine)

    # -- keys --------------------------------------------------------------------------------------------------
    def create_key(self, regency_code: str, label: str = "") -> IssuedKey:
        """Issue a key bound to one regency; only its SHA-256 is stored."""
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
        with self.engine.begin() as conn:
            done = conn.execute(api_keys.update().where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
                                .values(revoked_at=datetime.now(UTC))).rowcount
        if not done:
            raise ApiKeyError(f"no active key with id {key_id!r}; `simpul keys list` shows the keys")

    def list_keys(self) -> list[dict[str, object]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(api_keys.c.key_id, api_keys.c.regency_code, api_keys.c.label,
                                          api_keys.c.created_at, api_keys.c.revoked_at)
                                .order_by(api_keys.c.regency_code, api_keys.c.created_at)).mappings().all()
        return [dict(r) for r in rows]

    def regency_of(self, presented: str) -> str | None:
        """The regency a presented key is bound to, or None if it is unknown, malformed or revoked."""
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
        if not event_ids:
            return {}
        found: dict[str, Outcome] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(event_ids), 500):
                chunk = event_ids[start:start + 500]
                for r in conn.execute(sa.select(outcomes).where(outcomes.c.event_id.in_(chunk))).mappings():
                    found[r["event_id"]] = Outcome(r["event_id"], r["regency_code"], r["payload_sha256"], r["topic"],
                                                   r["partition"], r["offset"])
        return found

    def record(self, accepted: list[Outcome]) -> None:
        """Remember accepted events; an event_id already recorded (a concurrent retry) keeps its first outcome."""
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
    return hashlib.sha256(text.encode()).hexdigest()


def payload_digest(canonical_json: str) -> str:
    """Digest of an event's canonical JSON: a retry must carry the same event to get the same outcome."""
    return _sha256(canonical_json)
