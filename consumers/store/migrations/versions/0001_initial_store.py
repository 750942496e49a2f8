"""Initial store: event tables per family, case tables, aggregates, alerts, deliveries, transparency views.

Revision ID: 0001
Revises: 

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

from consumers.store.tables import UTCDateTime


# revision identifiers, used by Alembic.
revision: str = '0001'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


VIEWS = {"transparency": "month", "transparency_daily": "day"}


def _period(dialect: str, column: str, period: str) -> str:
    """`YYYY-MM` / `YYYY-MM-DD` of a UTC timestamp column (SQLite keeps it as UTC text, PostgreSQL as timestamptz)."""
    if dialect == "postgresql":
        return f"to_char({column} AT TIME ZONE 'UTC', '{'YYYY-MM' if period == 'month' else 'YYYY-MM-DD'}')"
    return f"substr({column}, 1, {7 if period == 'month' else 10})"


def transparency_view_sql(dialect: str, name: str, period: str) -> str:
    """The read model per regency x service x period (median completion hours is computed by `simpul report`)."""
    sr, cp = _period(dialect, "submitted_at", period), _period(dialect, "filed_at", period)
    return f"""
CREATE VIEW {name} AS
SELECT regency_code, service_code, period,
       SUM(req) AS requests,
       SUM(done) AS completed,
       SUM(issued) AS issued,
       SUM(met) AS sla_met,
       SUM(known) AS sla_known,
       CASE WHEN SUM(known) > 0 THEN 100.0 * SUM(met) / SUM(known) END AS sla_met_pct,
       AVG(hours) AS avg_completion_hours,
       SUM(fee) AS fee_anomalies,
       SUM(compl) AS complaints
FROM (
    SELECT regency_code, service_code, {sr} AS period, 1 AS req,
           CASE WHEN completed_at IS NOT NULL THEN 1 ELSE 0 END AS done,
           CASE WHEN outcome = 'ISSUED' THEN 1 ELSE 0 END AS issued,
           CASE WHEN sla_met THEN 1 ELSE 0 END AS met,
           CASE WHEN sla_met IS NOT NULL THEN 1 ELSE 0 END AS known,
           CASE WHEN outcome = 'ISSUED' THEN completion_hours END AS hours,
           CASE WHEN fee_anomaly THEN 1 ELSE 0 END AS fee,
           0 AS compl
    FROM service_requests WHERE submitted_at IS NOT NULL
    UNION ALL
    SELECT regency_code, COALESCE(service_code, '-'), {cp}, 0, 0, 0, 0, 0, CAST(NULL AS DOUBLE PRECISION), 0, 1
    FROM complaints WHERE filed_at IS NOT NULL
) AS cells
GROUP BY regency_code, service_code, period
"""


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('aggregates',
    sa.Column('window_key', sa.String(length=400), nullable=False),
    sa.Column('metric', sa.String(length=64), nullable=False),
    sa.Column('regency_code', sa.String(length=4), nullable=False),
    sa.Column('dimension', sa.String(length=64), nullable=False),
    sa.Column('dimension_value', sa.String(length=200), nullable=False),
    sa.Column('window', sa.String(length=32), nullable=False),
    sa.Column('window_start', UTCDateTime(), nullable=False),
    sa.Column('window_end', UTCDateTime(), nullable=False),
    sa.Column('values', sa.JSON(), nullable=False),
    sa.Column('events', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('window_key', name=op.f('pk_aggregates'))
    )
    with op.batch_alter_table('aggregates', schema=None) as batch_op:
        batch_op.create_index('ix_aggregates_metric_regency_start', ['metric', 'regency_code', 'window_start'], unique=False)

    op.create_table('alert_deliveries',
    sa.Column('alert_id', sa.String(length=36), nullable=False),
    sa.Column('webhook', sa.String(length=2000), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('last_attempt_at', UTCDateTime(), nullable=True),
    sa.Column('delivered_at', UTCDateTime(), nullable=True),
    sa.CheckConstraint("status in ('pending', 'delivered', 'dead')", name='ck_alert_deliveries_status'),
    sa.PrimaryKeyConstraint('alert_id', 'webhook', name=op.f('pk_alert_deliveries'))
    )
    with op.batch_alter_table('alert_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_alert_deliveries_status', ['status'], unique=False)

    op.create_table('alerts',
    sa.Column('alert_id', sa.String(length=36), nullable=False),
    sa.Column('rule', sa.String(length=64), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('regency_code', sa.String(length=4), nullable=False),
    sa.Column('window_start', UTCDateTime(), nullable=False),
    sa.Column('window_end', UTCDateTime(), nullable=False),
    sa.Column('subject', sa.JSON(), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('raised_at', UTCDateTime(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('alert_id', name=op.f('pk_alerts'))
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index('ix_alerts_rule_regency', ['rule', 'regency_code'], unique=False)

    op.create_table('complaints',
    sa.Column('regency_code', sa.String(length=4), nullable=False),
    sa.Column('case_id', sa.String(length=200), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('service_code', sa.String(length=64), nullable=True),
    sa.Column('filed_at', UTCDateTime(), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=True),
    sa.Column('updated_at', UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('regency_code', 'case_id', name=op.f('pk_complaints'))
    )
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.create_index('ix_complaints_filed', ['regency_code', 'filed_at'], unique=False)

    op.create_table('events_branding',
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('regency_code', sa.String(length=4), nullable=False),
    sa.Column('source_system', sa.String(length=200), nullable=False),
    sa.Column('occurred_at', UTCDateTime(), nullable=False),
    sa.Column('case_id', sa.String(length=200), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('source_topic', sa.String(length=249), nullable=False),
    sa.Column('source_partition', sa.Integer(), nullable=False),
    sa.Column('source_offset', sa.BigInteger(), nullable=False),
    sa.Column('stored_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('event_id', name=op.f('pk_events_branding'))
    )
    with op.batch_alter_table('events_branding', schema=None) as batch_op:
        batch_op.create_index('ix_events_branding_regency_occurred', ['regency_code', 'occurred_at'], unique=False)
        batch_op.create_index('ix_events_branding_type', ['event_type'], unique=False)

    op.create_table('events_economy',
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('regency_code', sa.String(length=4), nullable=False),
    sa.Column('source_system', sa.String(length=200), nullable=False),
    sa.Column('occurred_at', UTCDateTime(), nullable=False),
    sa.Column('case_id', sa.String(length=200), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('source_topic', sa.String(length=249), nullable=False),
    sa.Column('source_partition', sa.Integer(), nullable=False),
    sa.Column('source_offset', sa.BigInteger(), nullable=False),
    sa.Column('stored_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('event_id', name=op.f('pk_events_economy'))
    )
    with op.batch_alter_table('events_economy', schema=None) as batch_op:
        batch_op.create_index('ix_events_economy_regency_occurred', ['regency_code', 'occurred_at'], unique=False)
        batch_op.create_index('ix_events_economy_type', ['event_type'], unique=False)

    op.create_table('events_environment',
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('regency_code', sa.String(length=4), nullable=False),
    sa.Column('source_system', sa.String(length=200), nullable=False),
    sa.Column('occurred_at', UTCDateTime(), nullable=False),
    sa.Column('case_id', sa.String(length=200), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('source_topic', sa.String(length=249), nullable=False),
    sa.Column('source_partition', sa.Integer(), nullable=False),
    sa.Column('source_offset', sa.BigInteger(), nullable=False),
    sa.Column('stored_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('event_id', name=op.f('pk_events_environment'))
    )
    with op.batch_alter_table('events_environment', schema=None) as batch_op:
        batch_op.create_index('ix_events_environment_regency_occurred', ['regency_code', 'occurred_at'], unique=False)
        batch_op.create_index('ix_events_environment_type', ['event_type'], unique=False)

    op.create_table('events_governance',
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('regency_code', sa.String(length=4), nullable=False),
    sa.Column('source_system', sa.String(length=200), nullable=False),
    sa.Column('occurred_at', UTCDateTime(), nullable=False),
    sa.Column('case_id', sa.String(length=200), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('source_topic', sa.String(length=249), nullable=False),
    sa.Column('source_partition', sa.Integer(), nullable=False),
    sa.Column('source_offset', sa.BigInteger(), nullable=False),
    sa.Column('stored_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('event_id', name=op.f('pk_events_governance'))
    )
    with op.batch_alter_table('events_governance', schema=None) as batch_op:
        batch_op.create_index('ix_events_governance_regency_occurred', ['regency_code', 'occurred_at'], unique=False)
        batch_op.create_index('ix_events_governance_type', ['event_type'], unique=False)

    op.create_table('events_living',
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('regency_code', sa.String(length=4), nullable=False),
    sa.Column('source_system', sa.String(length=200), nullable=False),
    sa.Column('occurred_at', UTCDateTime(), nullable=False),
    sa.Column('case_id', sa.String(length=200), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('source_topic', sa.String(length=249), nullable=False),
    sa.Column('source_partition', sa.Integer(), nullable=False),
    sa.Column('source_offset', sa.BigInteger(), nullable=False),
    sa.Column('stored_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('event_id', name=op.f('pk_events_living'))
    )
    with op.batch_alter_table('events_living', schema=None) as batch_op:
        batch_op.create_index('ix_events_living_regency_occurred', ['regency_code', 'occurred_at'], unique=False)
        batch_op.create_index('ix_events_living_type', ['event_type'], unique=False)

    op.create_table('events_society',
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('regency_code', sa.String(length=4), nullable=False),
    sa.Column('source_system', sa.String(length=200), nullable=False),
    sa.Column('occurred_at', UTCDateTime(), nullable=False),
    sa.Column('case_id', sa.String(length=200), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('source_topic', sa.String(length=249), nullable=False),
    sa.Column('source_partition', sa.Integer(), nullable=False),
    sa.Column('source_offset', sa.BigInteger(), nullable=False),
    sa.Column('stored_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('event_id', name=op.f('pk_events_society'))
    )
    with op.batch_alter_table('events_society', schema=None) as batch_op:
        batch_op.create_index('ix_events_society_regency_occurred', ['regency_code', 'occurred_at'], unique=False)
        batch_op.create_index('ix_events_society_type', ['event_type'], unique=False)

    op.create_table('service_requests',
    sa.Column('regency_code', sa.String(length=4), nullable=False),
    sa.Column('case_id', sa.String(length=200), nullable=False),
    sa.Column('service_code', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=True),
    sa.Column('submitted_at', UTCDateTime(), nullable=True),
    sa.Column('completed_at', UTCDateTime(), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('fee_charged_idr', sa.BigInteger(), nullable=True),
    sa.Column('official_fee_idr', sa.BigInteger(), nullable=True),
    sa.Column('standard_hours', sa.Float(), nullable=True),
    sa.Column('completion_hours', sa.Float(), nullable=True),
    sa.Column('sla_met', sa.Boolean(), nullable=True),
    sa.Column('fee_anomaly', sa.Boolean(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('regency_code', 'case_id', name=op.f('pk_service_requests'))
    )
    with op.batch_alter_table('service_requests', schema=None) as batch_op:
        batch_op.create_index('ix_service_requests_service_submitted', ['regency_code', 'service_code', 'submitted_at'], unique=False)


    for name, period in VIEWS.items():
        op.execute(transparency_view_sql(op.get_bind().dialect.name, name, period))

def downgrade() -> None:
    """Downgrade schema."""
    for name in VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {name}")
    with op.batch_alter_table('service_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_service_requests_service_submitted')

    op.drop_table('service_requests')
    with op.batch_alter_table('events_society', schema=None) as batch_op:
        batch_op.drop_index('ix_events_society_type')
        batch_op.drop_index('ix_events_society_regency_occurred')

    op.drop_table('events_society')
    with op.batch_alter_table('events_living', schema=None) as batch_op:
        batch_op.drop_index('ix_events_living_type')
        batch_op.drop_index('ix_events_living_regency_occurred')

    op.drop_table('events_living')
    with op.batch_alter_table('events_governance', schema=None) as batch_op:
        batch_op.drop_index('ix_events_governance_type')
        batch_op.drop_index('ix_events_governance_regency_occurred')

    op.drop_table('events_governance')
    with op.batch_alter_table('events_environment', schema=None) as batch_op:
        batch_op.drop_index('ix_events_environment_type')
        batch_op.drop_index('ix_events_environment_regency_occurred')

    op.drop_table('events_environment')
    with op.batch_alter_table('events_economy', schema=None) as batch_op:
        batch_op.drop_index('ix_events_economy_type')
        batch_op.drop_index('ix_events_economy_regency_occurred')

    op.drop_table('events_economy')
    with op.batch_alter_table('events_branding', schema=None) as batch_op:
        batch_op.drop_index('ix_events_branding_type')
        batch_op.drop_index('ix_events_branding_regency_occurred')

    op.drop_table('events_branding')
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_index('ix_complaints_filed')

    op.drop_table('complaints')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_alerts_rule_regency')

    op.drop_table('alerts')
    with op.batch_alter_table('alert_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_alert_deliveries_status')

    op.drop_table('alert_deliveries')
    with op.batch_alter_table('aggregates', schema=None) as batch_op:
        batch_op.drop_index('ix_aggregates_metric_regency_start')

    op.drop_table('aggregates')
