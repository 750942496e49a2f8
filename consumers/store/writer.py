"""One batch -> one transaction of idempotent upserts (dialect-specific INSERT .. ON CONFLICT for SQLite/PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from consumers.exceptions import StoreError
from consumers.store.rows import BatchRows, Row
from consumers.store.tables import EVENT_TABLES, aggregates, alerts, complaints, service_requests

CHUNK = 500  # rows per executemany call


def _insert(conn: sa.Connection, table: sa.Table) -> Any:
    name = conn.dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise StoreError(f"the store supports SQLite and PostgreSQL, not {name!r}; point SIMPUL_STORE_URL at one of them")


def _least(new: Any, old: Any) -> Any:
    return sa.case((new.is_(None), old), (old.is_(None), new), (new < old, new), else_=old)


def _greatest(new: Any, old: Any) -> Any:
    return sa.case((new.is_(None), old), (old.is_(None), new), (new > old, new), else_=old)


def _chunks(rows: list[Row]) -> Iterable[list[Row]]:
    for i in range(0, len(rows), CHUNK):
        yield rows[i:i + CHUNK]


def _execute(conn: sa.Connection, stmt: Any, rows: list[Row]) -> None:
    for chunk in _chunks(rows):
        conn.execute(stmt, chunk)


def insert_new(conn: sa.Connection, table: sa.Table, rows: list[Row]) -> None:
    """INSERT .. ON CONFLICT (primary key) DO NOTHING."""
    if rows:
        _execute(conn, _insert(conn, table).on_conflict_do_nothing(), rows)


def upsert_service_requests(conn: sa.Connection, rows: list[Row]) -> None:
    if not rows:
        return
    t = service_requests
    stmt = _insert(conn, t)
    x = stmt.excluded
    coalesce = sa.func.coalesce
    stmt = stmt.on_conflict_do_update(index_elements=[t.c.regency_code, t.c.case_id], set_={
        "service_code": coalesce(x.service_code, t.c.service_code),
        "channel": coalesce(x.channel, t.c.channel),
        "submitted_at": _least(x.submitted_at, t.c.submitted_at),
        "completed_at": _greatest(x.completed_at, t.c.completed_at),
        "outcome": coalesce(x.outcome, t.c.outcome),
        "fee_charged_idr": _greatest(x.fee_charged_idr, t.c.fee_charged_idr),
        "official_fee_idr": coalesce(x.official_fee_idr, t.c.official_fee_idr),
        "standard_hours": coalesce(x.standard_hours, t.c.standard_hours),
        "completion_hours": coalesce(x.completion_hours, t.c.completion_hours),
        "sla_met": coalesce(x.sla_met, t.c.sla_met),
        "fee_anomaly": sa.or_(x.fee_anomaly, t.c.fee_anomaly),
        "updated_at": _greatest(x.updated_at, t.c.updated_at),
    })
    _execute(conn, stmt, rows)


def upsert_complaints(conn: sa.Connection, rows: list[Row]) -> None:
    if not rows:
        return
    t = complaints
    stmt = _insert(conn, t)
    x = stmt.excluded
    newer = sa.or_(t.c.updated_at.is_(None), sa.and_(x.updated_at.is_not(None), x.updated_at > t.c.updated_at))
    stmt = stmt.on_conflict_do_update(index_elements=[t.c.regency_code, t.c.case_id], set_={
        "category": sa.func.coalesce(x.category, t.c.category),
        "service_code": sa.func.coalesce(x.service_code, t.c.service_code),
        "filed_at": sa.func.coalesce(x.filed_at, t.c.filed_at),
        "status": sa.case((newer, x.status), else_=t.c.status),
        "updated_at": sa.case((newer, x.updated_at), else_=t.c.updated_at),
    })
    _execute(conn, stmt, rows)


def upsert_aggregates(conn: sa.Connection, rows: list[Row]) -> None:
    if not rows:
        return
    t = aggregates
    stmt = _insert(conn, t)
    x = stmt.excluded
    stmt = stmt.on_conflict_do_update(
        index_elements=[t.c.window_key],
        set_={c.name: x[c.name] for c in t.columns if c.name != "window_key"},
        where=x.updated_at > t.c.updated_at,
    )
    _execute(conn, stmt, rows)


def write_batch(conn: sa.Connection, batch: BatchRows) -> None:
    """Every row of the batch, in the caller's transaction (the caller commits, then commits the Kafka offsets)."""
    for family, rows in batch.events.items():
        insert_new(conn, EVENT_TABLES[family], list(rows.values()))
    upsert_service_requests(conn, list(batch.service_requests.values()))
    upsert_complaints(conn, list(batch.complaints.values()))
    upsert_aggregates(conn, list(batch.aggregates.values()))
    insert_new(conn, alerts, list(batch.alerts.values()))
