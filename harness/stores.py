"""Fresh stores for a run: a PostgreSQL database of its own, and the row counts of a store."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from consumers.store.db import connect
from consumers.store.tables import counts
from simpul.settings import Settings


def create_pg_database(settings: Settings, name: str) -> str:
    _as_owner(settings, f'CREATE DATABASE "{name}"')
    return make_url(settings.postgres_owner).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(settings: Settings, name: str) -> None:
    _as_owner(settings, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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
