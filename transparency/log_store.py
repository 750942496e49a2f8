"""The log's record in the provincial store: leaves, signed checkpoints and receipts (consumers.store.tables).

The stage appends here in one transaction per batch, then commits its Kafka offsets, so a crash between the two
re-reads records whose leaves are already stored; `LogState.load` hands back the ids it must skip.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from pydantic import BaseModel

from consumers.store.tables import tlog_checkpoints, tlog_leaves, tlog_receipts
from transparency.tree import MerkleTree

LOAD_CHUNK = 50_000


class CheckpointRecord(BaseModel):
    """One signed checkpoint as the store and the checkpoints topic keep it."""

    size: int
    root_hash: str
    signed_at: datetime
    origin: str
    note: str
    verifier_key: str


@dataclass(frozen=True)
class Leaf:
    """One appended entry of the log."""

    idx: int
    kind: str
    ref_id: str
    regency_code: str | None
    leaf_hash: str
    source: str
    appended_at: datetime


def leaves(engine: sa.Engine, start: int = 0) -> Iterator[Leaf]:
    """Every leaf from index `start`, in log order (streamed in chunks: the log may hold millions)."""
    at = start
    while True:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(tlog_leaves).where(tlog_leaves.c.idx >= at)
                                .order_by(tlog_leaves.c.idx).limit(LOAD_CHUNK)).mappings().all()
        for r in rows:
            yield Leaf(**r)
        if len(rows) < LOAD_CHUNK:
            return
        at = rows[-1]["idx"] + 1


def checkpoints(engine: sa.Engine) -> list[CheckpointRecord]:
    """Every stored checkpoint, smallest tree first."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(tlog_checkpoints).order_by(tlog_checkpoints.c.size)).mappings().all()
    return [CheckpointRecord(**r) for r in rows]


def latest_checkpoint(engine: sa.Engine) -> CheckpointRecord | None:
    """The newest signed checkpoint, or None before the first."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(tlog_checkpoints).order_by(tlog_checkpoints.c.size.desc())
                           .limit(1)).mappings().first()
    return None if row is None else CheckpointRecord(**row)


@dataclass
class LogState:
    """What the stage holds in memory: the tree, the ids already in it, the last checkpoint's size."""

    tree: MerkleTree
    ref_ids: set[str]
    checkpointed: int
    receipted_from: int

    @classmethod
    def load(cls, engine: sa.Engine) -> LogState:
        tree, ids = MerkleTree(), set()
        for leaf in leaves(engine):
            tree.append(bytes.fromhex(leaf.leaf_hash))
            ids.add(leaf.ref_id)
        last = latest_checkpoint(engine)
        size = 0 if last is None else last.size
        return cls(tree=tree, ref_ids=ids, checkpointed=size, receipted_from=size)


def append(conn: sa.Connection, rows: Sequence[dict[str, object]]) -> None:
    if rows:
        conn.execute(tlog_leaves.insert(), list(rows))


def add_checkpoint(conn: sa.Connection, record: CheckpointRecord, receipts: Sequence[dict[str, object]]) -> None:
    conn.execute(tlog_checkpoints.insert().values(**record.model_dump()))
    if receipts:
        conn.execute(tlog_receipts.insert(), list(receipts))


def proof_json(proof: Sequence[bytes]) -> list[str]:
    return [h.hex() for h in proof]


def proof_of(value: object) -> list[str]:
    """A stored proof (JSON list; some drivers hand back its text)."""
    data = json.loads(value) if isinstance(value, str) else value
    return [str(h) for h in data]  # type: ignore[union-attr]
