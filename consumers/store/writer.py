"""One batch -> one transaction of idempotent upserts (dialect-specific INSERT .. ON CONFLICT for SQLite/PostgreSQL).

`write_batch` is the sink's hot path and bypasses SQLAlchemy's per-row parameter handling:

* PostgreSQL: the rows go by binary COPY into session-local staging tables (one per column layout, so the six
  event tables share one; emptied at commit), then one `INSERT .. SELECT .. ON CONFLICT` per table, all sent in
  one round trip, applies the same merge rules as the statements below. About ten round trips a batch instead
  of an executemany of 500-row chunks, and no per-row statement on either side.
* SQLite: one driver-level `executemany` per table with the values already converted by the columns' own bind
  processors (so the stored text is byte-for-byte what SQLAlchemy would store).

`insert_new` and the `upsert_*` functions stay the general SQLAlchemy path for small writers (alert dispatch).
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from consumers.exceptions import StoreError
from consumers.store.rows import BatchRows, Row
from consumers.store.tables import (EVENT_TABLES, TABLES, UTCDateTime, aggregates, alerts, complaints,
                                    service_requests)

CHUNK = 500  # rows per executemany call of the general path (`insert_new`)
PRESERIALISED_JSON = frozenset({"payload"})  # event payloads arrive as JSON text (`rows.event_row`)
STAGE_PREFIX = "simpul_stage_"

Conflict = Callable[[Any, sa.Table], Any]  # (INSERT statement, table) -> statement with its ON CONFLICT clause


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


# ---- the ON CONFLICT clauses: the SQL side of the merge rules in consumers.store.rows ---------------------------

def _do_nothing(stmt: Any, table: sa.Table) -> Any:
    """Events and alerts: first write wins."""
    return stmt.on_conflict_do_nothing(index_elements=list(table.primary_key.columns))


def _merge_service_requests(stmt: Any, t: sa.Table) -> Any:
    x = stmt.excluded
    coalesce = sa.func.coalesce
    return stmt.on_conflict_do_update(index_elements=[t.c.regency_code, t.c.case_id], set_={
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


def _merge_complaints(stmt: Any, t: sa.Table) -> Any:
    x = stmt.excluded
    newer = sa.or_(t.c.updated_at.is_(None), sa.and_(x.updated_at.is_not(None), x.updated_at > t.c.updated_at))
    return stmt.on_conflict_do_update(index_elements=[t.c.regency_code, t.c.case_id], set_={
        "category": sa.func.coalesce(x.category, t.c.category),
        "service_code": sa.func.coalesce(x.service_code, t.c.service_code),
        "filed_at": sa.func.coalesce(x.filed_at, t.c.filed_at),
        "status": sa.case((newer, x.status), else_=t.c.status),
        "updated_at": sa.case((newer, x.updated_at), else_=t.c.updated_at),
    })


def _merge_aggregates(stmt: Any, t: sa.Table) -> Any:
    x = stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=[t.c.window_key],
        set_={c.name: x[c.name] for c in t.columns if c.name != "window_key"},
        where=x.updated_at > t.c.updated_at,
    )


# ---- the general path (SQLAlchemy executemany; alert dispatch, and anything small) ------------------------------

def _chunks(rows: list[Row]) -> Iterable[list[Row]]:
    for i in range(0, len(rows), CHUNK):
        yield rows[i:i + CHUNK]


def _execute(conn: sa.Connection, stmt: Any, rows: list[Row]) -> None:
    for chunk in _chunks(rows):
        conn.execute(stmt, chunk)


def insert_new(conn: sa.Connection, table: sa.Table, rows: list[Row]) -> None:
    """INSERT .. ON CONFLICT (primary key) DO NOTHING, with rows as SQLAlchemy takes them (JSON as objects)."""
    if rows:
        _execute(conn, _insert(conn, table).on_conflict_do_nothing(), rows)


def upsert_service_requests(conn: sa.Connection, rows: list[Row]) -> None:
    if rows:
        _execute(conn, _merge_service_requests(_insert(conn, service_requests), service_requests), rows)


def upsert_complaints(conn: sa.Connection, rows: list[Row]) -> None:
    if rows:
        _execute(conn, _merge_complaints(_insert(conn, complaints), complaints), rows)


def upsert_aggregates(conn: sa.Connection, rows: list[Row]) -> None:
    if rows:
        _execute(conn, _merge_aggregates(_insert(conn, aggregates), aggregates), rows)


# ---- the bulk path ----------------------------------------------------------------------------------------------

def _json_text(value: Any) -> str:
    return json.dumps(value)


def _copy_type(column: sa.Column[Any]) -> str:
    """The PostgreSQL type whose binary COPY format a column's values are sent in.

    JSON goes as text: the binary input of `json` is its text, and the values are JSON text by then.
    """
    t = column.type
    if isinstance(t, sa.JSON):
        return "text"
    if isinstance(t, UTCDateTime):
        return "timestamptz"
    if isinstance(t, sa.Boolean):
        return "bool"
    if isinstance(t, sa.BigInteger):
        return "int8"
    if isinstance(t, sa.Integer):
        return "int4"
    if isinstance(t, sa.Float):
        return "float8"
    if isinstance(t, sa.String):
        return "text"
    raise StoreError(f"column {column.table.name}.{column.name} has a type ({t}) the bulk writer cannot COPY")


def _converters(table: sa.Table, dialect: sa.Dialect | None) -> list[Callable[[Any], Any] | None]:
    """Per column: what turns a row value into what the driver gets (None: the value as it is).

    With a dialect: the column type's own bind processor (SQLite: UTC text in SQLAlchemy's format, JSON text);
    without (binary COPY on PostgreSQL): JSON objects become text, psycopg dumps the rest.
    """
    out: list[Callable[[Any], Any] | None] = []
    for c in table.columns:
        if c.name in PRESERIALISED_JSON:
            out.append(None)
        elif dialect is not None:
            out.append(c.type.bind_processor(dialect))
        elif isinstance(c.type, sa.JSON):
            out.append(_json_text)
        else:
            out.append(None)
    return out


def _tuples(table: sa.Table, rows: Iterable[Row], convert: Sequence[Callable[[Any], Any] | None],
            tail: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The rows as tuples in column order (plus `tail`), converted; the per-row loop stays in C where it can."""
    pick = operator.itemgetter(*[c.name for c in table.columns])
    work = [(i, f) for i, f in enumerate(convert) if f is not None]
    if not work:
        return [pick(row) + tail for row in rows]
    out: list[tuple[Any, ...]] = []
    for row in rows:
        values = list(pick(row))
        for i, f in work:
            values[i] = f(values[i])
        out.append((*values, *tail))
    return out


@cache
def _sqlite_statement(table: sa.Table, conflict: Conflict) -> str:
    """`INSERT .. VALUES (?, ..) ON CONFLICT ..` for positional tuples in column order."""
    stmt = conflict(sqlite.insert(table).values({c.name: sa.bindparam(c.name) for c in table.columns}), table)
    compiled = stmt.compile(dialect=sqlite.dialect())
    if compiled.positiontup != [c.name for c in table.columns]:  # pragma: no cover - SQLAlchemy changed its mind
        raise StoreError(f"unexpected parameter order compiling the upsert of {table.name}")
    return str(compiled)


def _write_sqlite(conn: sa.Connection, work: Sequence[tuple[sa.Table, Iterable[Row], Conflict]]) -> None:
    for table, rows, conflict in work:
        values = _tuples(table, rows, _converters(table, conn.dialect))
        if values:
            conn.exec_driver_sql(_sqlite_statement(table, conflict), values)


ROUTE = "simpul_target"  # the staging tables' extra column: which table a staged row goes to


@dataclass(frozen=True)
class _Stage:
    """A session-local staging table, shared by every store table of the same columns (the six event tables)."""

    table: sa.Table  # the staging table: the store table's columns + ROUTE
    create: str  # CREATE .. IF NOT EXISTS (a no-op after the session's first batch)
    copy: str  # COPY .. FROM STDIN (FORMAT BINARY)
    oids: tuple[int, ...]  # the binary COPY types, column by column


def _columns_of(table: sa.Table) -> tuple[tuple[str, str], ...]:
    return tuple((c.name, repr(c.type)) for c in table.columns)


@cache
def _stage(table: sa.Table) -> _Stage:
    """The staging table of `table`: named after the first store table with the same columns."""
    from psycopg import postgres

    first = next(t for t in TABLES.values() if _columns_of(t) == _columns_of(table))
    quote = postgresql.dialect().identifier_preparer.quote
    stage = sa.Table(STAGE_PREFIX + first.name, sa.MetaData(), *[sa.Column(c.name, c.type) for c in table.columns],
                     sa.Column(ROUTE, sa.Text))
    names = ", ".join(quote(c.name) for c in stage.columns)
    return _Stage(
        table=stage,
        create=(f"CREATE TEMPORARY TABLE IF NOT EXISTS {quote(stage.name)} (LIKE {quote(first.name)} "
                f"INCLUDING DEFAULTS, {quote(ROUTE)} text NOT NULL) ON COMMIT DELETE ROWS"),
        copy=f"COPY {quote(stage.name)} ({names}) FROM STDIN (FORMAT BINARY)",
        oids=tuple(postgres.types[_copy_type(c) if c.name != ROUTE else "text"].oid for c in stage.columns),
    )


@cache
def _merge(table: sa.Table, conflict: Conflict) -> str:
    """INSERT INTO table SELECT its rows FROM the staging table ON CONFLICT (the merge rule)."""
    stage = _stage(table).table
    names = [c.name for c in table.columns]
    rows = sa.select(*[stage.c[n] for n in names]).where(stage.c[ROUTE] == sa.literal(table.name))
    stmt = conflict(postgresql.insert(table).from_select(names, rows), table)
    return str(stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))


def _write_postgres(conn: sa.Connection, work: Sequence[tuple[sa.Table, Iterable[Row], Conflict]]) -> None:
    """Stage with one binary COPY per staging table, then every merge in one round trip.

    Few round trips matter twice: each costs latency, and in the sink's writer thread each return from the
    server waits for the GIL while the main thread decodes the next batch.
    """
    staged: dict[_Stage, list[tuple[Any, ...]]] = {}
    merges: list[str] = []
    for table, rows, conflict in work:
        values = _tuples(table, rows, _converters(table, None), (table.name,))
        if values:
            staged.setdefault(_stage(table), []).extend(values)
            merges.append(_merge(table, conflict))
    if not staged:
        return
    raw = conn.connection.driver_connection  # psycopg 3, inside the transaction SQLAlchemy began
    with raw.cursor() as cur:
        cur.execute("; ".join(stage.create for stage in staged))
        for stage, values in staged.items():
            with cur.copy(stage.copy) as copy:
                copy.set_types(list(stage.oids))  # binary: ~10x cheaper to format than text (timestamps above all)
                for row in values:
                    copy.write_row(row)
        cur.execute("; ".join(merges))


def write_batch(conn: sa.Connection, batch: BatchRows) -> None:
    """Every row of the batch, in the caller's transaction (the caller commits, then commits the Kafka offsets)."""
    work: list[tuple[sa.Table, Iterable[Row], Conflict]] = [
        *[(EVENT_TABLES[family], rows.values(), _do_nothing) for family, rows in batch.events.items()],
        (service_requests, batch.service_requests.values(), _merge_service_requests),
        (complaints, batch.complaints.values(), _merge_complaints),
        (aggregates, batch.aggregates.values(), _merge_aggregates),
        (alerts, batch.alerts.values(), _do_nothing),
    ]
    name = conn.dialect.name
    if name == "postgresql":
        _write_postgres(conn, work)
    elif name == "sqlite":
        _write_sqlite(conn, work)
    else:
        raise StoreError(f"the store supports SQLite and PostgreSQL, not {name!r}; "
                         "point SIMPUL_STORE_URL at one of them")
