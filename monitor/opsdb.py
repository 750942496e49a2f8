"""The dashboard's own database: ops accounts, their sessions and the audit trail of what they did.

SQLite under the state folder by default (`Settings.dashboard_db`); a PostgreSQL URL when several dashboard
instances share one. Tables are named `dashboard_*` so the database may be shared with other stores.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

metadata = sa.MetaData()

users = sa.Table(
    "dashboard_users", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
)

sessions = sa.Table(
    "dashboard_sessions", metadata,
    # SHA-256 of the session id: a copy of the database does not hand out working cookies.
    sa.Column("id_sha256", sa.String(64), primary_key=True),
    sa.Column("user_name", sa.String(64), sa.ForeignKey("dashboard_users.name"), nullable=False, index=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
)

audit = sa.Table(
    "dashboard_audit", metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("entry_id", sa.String(36), nullable=False, unique=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("actor", sa.String(80), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("target", sa.String(300), nullable=False),
    sa.Column("before_digest", sa.String(64), nullable=True),
    sa.Column("after_digest", sa.String(64), nullable=True),
    sa.Column("result", sa.String(16), nullable=False),
    sa.Column("detail", sa.Text, nullable=False, default=""),
    # Set once the entry is on the audit topic (acks=all); entries still NULL are sent by the next publish.
    sa.Column("published_at", sa.DateTime(timezone=True), nullable=True, index=True),
)


def connect(url: str) -> sa.Engine:
    """An engine on the dashboard database, its tables created if missing; a SQLite file is its owner's alone."""
    private_sqlite_file(url)
    engine = sa.create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        with engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA journal_mode=WAL")
    metadata.create_all(engine)
    return engine


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands timestamps back without a zone; every one was written in UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def private_sqlite_file(url: str) -> None:
    """Create the SQLite file of `url` as 0600 (SQLite gives its -wal and -shm files the same mode), and take group
    and other permissions from one that exists: it holds password hashes and the audit trail."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return
    path = Path(parsed.database)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for part in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if part.exists():
            os.chmod(part, 0o600)
