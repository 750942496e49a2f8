"""Fresh stores for a run: a PostgreSQL database of its own, and the row counts of a store."""

from __future__ import annotations

import time

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from consumers.store.db import connect
from consumers.store.tables import counts
from simpul.settings import Settings


def create_pg_database(settings: Settings, name: str) -> str:
    _as_owner(settings, f'CREATE DATABASE "{name}"')
    return make_url(settings.postgres_owner).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(settings: Settings, name: str, *, patience_s: float = 30.0) -> None:
    """Drop a run's database, ending the sessions still on it.

    WITH (FORCE) ends the sessions of roles the owner may signal, but an autovacuum worker busy on the fresh rows
    (right after PostgreSQL restarts, say) counts as another role's and makes the drop fail with
    InsufficientPrivilege; the worker finishes within seconds, so the drop is tried again until `patience_s`."""
    deadline = time.monotonic() + patience_s
    while True:
        try:
            _as_owner(settings, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except sa.exc.ProgrammingError as e:
            if not isinstance(e.orig, psycopg.errors.InsufficientPrivilege):
                raise
            if time.monotonic() > deadline:
                e.add_note(f"sessions still on {name}: {_sessions_on(settings, name)}")
                raise
            time.sleep(0.5)


def _sessions_on(settings: Settings, name: str) -> list[tuple[str, str | None, str | None]]:
    """(backend type, role, state) of every other session on database `name`: what a failed drop could not end."""
    admin = sa.create_engine(make_url(settings.postgres_owner).set(database="postgres"))
    try:
        with admin.connect() as conn:
            rows = conn.execute(sa.text("SELECT backend_type, usename, state FROM pg_stat_activity "
                                        "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})
            return [(t, u, s) for t, u, s in rows]
    finally:
        admin.dispose()


def _as_owner(settings: Settings, statement: str) -> None:
    """Run one statement on the server's `postgres` database as the owner role (outside a transaction)."""
    admin = sa.create_engine(make_url(settings.postgres_owner).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(statement))
    finally:
        admin.dispose()


def store_counts(url: str) -> dict[str, int]:
    engine = connect(url)
    try:
        with engine.connect() as conn:
            return counts(conn)
    except sa.exc.DBAPIError:  # tables not created yet
        return {}
    finally:
        engine.dispose()
