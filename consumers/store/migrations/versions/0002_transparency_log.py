"""The transparency log's tables (leaves, signed checkpoints, receipts), append-only by trigger.

Revision ID: 0002
Revises: 0001

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

from consumers.store.tables import UTCDateTime


revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

APPEND_ONLY = ("tlog_leaves", "tlog_checkpoints", "tlog_receipts")


def upgrade() -> None:
    op.create_table(
        'tlog_leaves',
        sa.Column('idx', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('ref_id', sa.String(length=64), nullable=False),
        sa.Column('regency_code', sa.String(length=4), nullable=True),
        sa.Column('leaf_hash', sa.String(length=64), nullable=False),
        sa.Column('source', sa.String(length=300), nullable=False),
        sa.Column('appended_at', UTCDateTime(), nullable=False),
        sa.CheckConstraint("kind in ('event', 'ops')", name='ck_tlog_leaves_kind'),
        sa.PrimaryKeyConstraint('idx', name=op.f('pk_tlog_leaves')),
        sa.UniqueConstraint('ref_id'),
    )
    op.create_table(
        'tlog_checkpoints',
        sa.Column('size', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('root_hash', sa.String(length=64), nullable=False),
        sa.Column('signed_at', UTCDateTime(), nullable=False),
        sa.Column('origin', sa.String(length=200), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('verifier_key', sa.String(length=300), nullable=False),
        sa.PrimaryKeyConstraint('size', name=op.f('pk_tlog_checkpoints')),
    )
    op.create_table(
        'tlog_receipts',
        sa.Column('event_id', sa.String(length=64), nullable=False),
        sa.Column('regency_code', sa.String(length=4), nullable=False),
        sa.Column('idx', sa.BigInteger(), nullable=False),
        sa.Column('checkpoint_size', sa.BigInteger(), nullable=False),
        sa.Column('proof', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('event_id', name=op.f('pk_tlog_receipts')),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("""
CREATE FUNCTION tlog_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the transparency log is append-only: % on % refused', TG_OP, TG_TABLE_NAME;
END $$""")
        for table in APPEND_ONLY:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION tlog_append_only()")
    else:
        for table in APPEND_ONLY:
            for what in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_no_{what.lower()} BEFORE {what} ON {table} BEGIN "
                           f"SELECT RAISE(ABORT, 'the transparency log is append-only: {what} on {table} refused'); "
                           "END")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        else:
            for what in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{what}")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS tlog_append_only()")
    op.drop_table('tlog_receipts')
    op.drop_table('tlog_checkpoints')
    op.drop_table('tlog_leaves')
