"""The transparency tree's frontier at each checkpoint, so a restarted stage resumes without re-reading every leaf;
append-only by trigger, as the log's other tables.

Revision ID: 0003
Revises: 0002

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TABLE = "tlog_frontiers"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column('size', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('hashes', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('size', name=op.f('pk_tlog_frontiers')),
    )
    if op.get_bind().dialect.name == "postgresql":  # tlog_append_only() comes with revision 0002
        op.execute(f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
                   "FOR EACH ROW EXECUTE FUNCTION tlog_append_only()")
    else:
        for what in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {TABLE}_no_{what.lower()} BEFORE {what} ON {TABLE} BEGIN "
                       f"SELECT RAISE(ABORT, 'the transparency log is append-only: {what} on {TABLE} refused'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE}")
    else:
        for what in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_{what}")
    op.drop_table(TABLE)
