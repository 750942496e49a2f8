"""Engines for the provincial store, and its migrations run programmatically (`migrate(url)` = `upgrade head`)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from consumers.exceptions import MigrationError, StoreError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
log = logging.getLogger("simpul.consumers.store")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # the store sink and the alert dispatch write the same file
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def connect(url: str, **kwargs: Any) -> sa.Engine:
    """An engine on the store at `url` (SQLite: the folder is created, WAL on; PostgreSQL via psycopg 3)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    if parsed.get_backend_name() == "sqlite":
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
    try:
        engine = sa.create_engine(url, **kwargs)
    except Exception as exc:  # bad URL, missing driver
        raise StoreError(f"cannot open the store at {parsed.render_as_string(hide_password=True)}: {exc}") from exc
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def alembic_config(connection: sa.Connection | None = None, url: str | None = None):  # noqa: ANN201
    """An Alembic Config pointing into this package (no alembic.ini needed)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


MIGRATION_LOCK = 0x53494D50554C  # "SIMPUL": the advisory lock that serialises migrations of one database


def migrate(url_or_engine: str | sa.Engine, revision: str = "head") -> str | None:
    """Bring the store's schema to `revision` (default: the newest); idempotent. Returns the current revision."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    engine = connect(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # several sinks starting at once on a fresh database: one migrates, the others wait for it
                conn.execute(sa.text("select pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            command.upgrade(alembic_config(conn), revision)
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    except Exception as exc:
        raise MigrationError(
            f"migrating the store at {engine.url.render_as_string(hide_password=True)} failed: {exc}; "
            "check the URL and that the database exists and is writable") from exc
    finally:
        if isinstance(url_or_engine, str):
            engine.dispose()
    log.info("store at revision %s", current)
    return current
