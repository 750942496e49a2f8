"""The provincial store's tables (SQLAlchemy Core), the same on SQLite and PostgreSQL.

Canonical events land in one table per family (`events_<family>`, primary key `event_id`, so a replay inserts
nothing). Governance events are also folded into typed case tables for the transparency read model
(`service_requests`, `complaints`); aggregates are kept per window key (newest `updated_at` wins), alerts per
alert id, webhook deliveries per alert id x webhook. Every timestamp is timezone-aware and stored as UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from schemas.catalog import FAMILIES


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """An aware datetime stored as UTC: `timestamptz` on PostgreSQL, naive UTC text on SQLite; read back aware UTC."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store only takes timezone-aware datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = sa.MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
})


def _event_table(family: str) -> sa.Table:
    name = f"events_{family}"
    return sa.Table(
        name, metadata,
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("regency_code", sa.String(4), nullable=False),
        sa.Column("source_system", sa.String(200), nullable=False),
        sa.Column("occurred_at", UTCDateTime, nullable=False),
        sa.Column("case_id", sa.String(200), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("source_topic", sa.String(249), nullable=False),
        sa.Column("source_partition", sa.Integer, nullable=False),
        sa.Column("source_offset", sa.BigInteger, nullable=False),
        sa.Column("stored_at", UTCDateTime, nullable=False),
        sa.Index(f"ix_{name}_regency_occurred", "regency_code", "occurred_at"),
        sa.Index(f"ix_{name}_type", "event_type"),
    )


EVENT_TABLES: dict[str, sa.Table] = {family: _event_table(family) for family in FAMILIES}

service_requests = sa.Table(
    "service_requests", metadata,
    sa.Column("regency_code", sa.String(4), primary_key=True),
    sa.Column("case_id", sa.String(200), primary_key=True),
    sa.Column("service_code", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(32), nullable=True),
    sa.Column("submitted_at", UTCDateTime, nullable=True),
    sa.Column("completed_at", UTCDateTime, nullable=True),
    sa.Column("outcome", sa.String(16), nullable=True),
    sa.Column("fee_charged_idr", sa.BigInteger, nullable=True),
    sa.Column("official_fee_idr", sa.BigInteger, nullable=True),
    sa.Column("standard_hours", sa.Float, nullable=True),
    sa.Column("completion_hours", sa.Float, nullable=True),
    sa.Column("sla_met", sa.Boolean, nullable=True),
    sa.Column("fee_anomaly", sa.Boolean, nullable=False, default=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Index("ix_service_requests_service_submitted", "regency_code", "service_code", "submitted_at"),
)

complaints = sa.Table(
    "complaints", metadata,
    sa.Column("regency_code", sa.String(4), primary_key=True),
    sa.Column("case_id", sa.String(200), primary_key=True),
    sa.Column("category", sa.String(32), nullable=False),
    sa.Column("service_code", sa.String(64), nullable=True),
    sa.Column("filed_at", UTCDateTime, nullable=True),
    sa.Column("status", sa.String(32), nullable=True),
    sa.Column("updated_at", UTCDateTime, nullable=True),
    sa.Index("ix_complaints_filed", "regency_code", "filed_at"),
)

aggregates = sa.Table(
    "aggregates", metadata,
    sa.Column("window_key", sa.String(400), primary_key=True),
    sa.Column("metric", sa.String(64), nullable=False),
    sa.Column("regency_code", sa.String(4), nullable=False),
    sa.Column("dimension", sa.String(64), nullable=False),
    sa.Column("dimension_value", sa.String(200), nullable=False),
    sa.Column("window", sa.String(32), nullable=False),
    sa.Column("window_start", UTCDateTime, nullable=False),
    sa.Column("window_end", UTCDateTime, nullable=False),
    sa.Column("values", sa.JSON, nullable=False),
    sa.Column("events", sa.BigInteger, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Index("ix_aggregates_metric_regency_start", "metric", "regency_code", "window_start"),
)

alerts = sa.Table(
    "alerts", metadata,
    sa.Column("alert_id", sa.String(36), primary_key=True),
    sa.Column("rule", sa.String(64), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("regency_code", sa.String(4), nullable=False),
    sa.Column("window_start", UTCDateTime, nullable=False),
    sa.Column("window_end", UTCDateTime, nullable=False),
    sa.Column("subject", sa.JSON, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("evidence", sa.JSON, nullable=False),
    sa.Column("raised_at", UTCDateTime, nullable=False),
    sa.Column("details", sa.JSON, nullable=False),
    sa.Index("ix_alerts_rule_regency", "rule", "regency_code"),
)

DELIVERY_STATUSES = ("pending", "delivered", "dead")

alert_deliveries = sa.Table(
    "alert_deliveries", metadata,
    sa.Column("alert_id", sa.String(36), primary_key=True),
    sa.Column("webhook", sa.String(2000), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("last_attempt_at", UTCDateTime, nullable=True),
    sa.Column("delivered_at", UTCDateTime, nullable=True),
    sa.CheckConstraint("status in ('pending', 'delivered', 'dead')", name="ck_alert_deliveries_status"),
    sa.Index("ix_alert_deliveries_status", "status"),
)

# The transparency log's record (written by the transparency stage, read by `simpul audit` and the gateway's
# receipts). Append-only: migration 0002 adds triggers refusing UPDATE and DELETE on both dialects, so an
# application role cannot quietly rewrite it; the signed checkpoints catch an owner who drops the triggers.
tlog_leaves = sa.Table(
    "tlog_leaves", metadata,
    sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("ref_id", sa.String(64), nullable=False, unique=True),
    sa.Column("regency_code", sa.String(4), nullable=True),
    sa.Column("leaf_hash", sa.String(64), nullable=False),
    sa.Column("source", sa.String(300), nullable=False),
    sa.Column("appended_at", UTCDateTime, nullable=False),
    sa.CheckConstraint("kind in ('event', 'ops')", name="ck_tlog_leaves_kind"),
)

tlog_checkpoints = sa.Table(
    "tlog_checkpoints", metadata,
    sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("root_hash", sa.String(64), nullable=False),
    sa.Column("signed_at", UTCDateTime, nullable=False),
    sa.Column("origin", sa.String(200), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("verifier_key", sa.String(300), nullable=False),
)

tlog_receipts = sa.Table(
    "tlog_receipts", metadata,
    sa.Column("event_id", sa.String(64), primary_key=True),
    sa.Column("regency_code", sa.String(4), nullable=False),
    sa.Column("idx", sa.BigInteger, nullable=False),
    sa.Column("checkpoint_size", sa.BigInteger, nullable=False),
    sa.Column("proof", sa.JSON, nullable=False),
)

# The tree's frontier at each checkpoint (its complete subtrees, one per binary digit of the size, lowest first, as
# hex): a restarted transparency stage resumes from the latest instead of re-reading every leaf (migration 0003;
# append-only too). Checked against the checkpoint's signed root before use.
tlog_frontiers = sa.Table(
    "tlog_frontiers", metadata,
    sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("hashes", sa.Text, nullable=False),
)

TLOG_TABLES: dict[str, sa.Table] = {t.name: t for t in (tlog_leaves, tlog_checkpoints, tlog_receipts, tlog_frontiers)}

TABLES: dict[str, sa.Table] = {
    **{t.name: t for t in EVENT_TABLES.values()},
    "service_requests": service_requests, "complaints": complaints, "aggregates": aggregates,
    "alerts": alerts, "alert_deliveries": alert_deliveries,
}


def counts(conn: sa.Connection) -> dict[str, int]:
    """Rows per table (what tests and `simpul sink store --status` compare with a manifest)."""
    return {name: int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()) for name, t in TABLES.items()}


Row = dict[str, Any]
