"""The log's record in the provincial store: leaves, signed checkpoints and receipts (consumers.store.tables).

The stage appends here in one transaction per batch, then commits its Kafka offsets, so a crash between the two
re-reads records whose leaves are already stored; `logged` names those of a batch, so they are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel

from consumers.store.tables import tlog_checkpoints, tlog_frontiers, tlog_leaves, tlog_receipts
from transparency.exceptions import TransparencyError
from transparency.tree import MerkleTree

LOAD_CHUNK = 50_000
LOOKUP_CHUNK = 500  # ids per `IN (...)` of `logged`: under every driver's limit on bound parameters


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
    """What the stage holds in memory: the tree from the last checkpoint on (with the frontier before it) and
    that checkpoint's size. Memory stays that of one checkpoint's leaves, however long the log grows; which ids
    are already logged, the store's unique index answers (`logged`)."""

    tree: MerkleTree
    checkpointed: int
    pending: list[tuple[int, str, str]]  # event leaves after the checkpoint: (index, event id, regency code)

    @classmethod
    def load(cls, engine: sa.Engine) -> LogState:
        """From the latest checkpoint's stored frontier and the leaves after it; a log whose latest checkpoint has
        none (signed before frontiers were kept) is read from its first leaf."""
        last = latest_checkpoint(engine)
        size = 0 if last is None else last.size
        frontier = None if last is None else stored_frontier(engine, size)
        if last is not None and frontier is not None:
            tree = MerkleTree.resume(size, frontier)
            root = tree.root().hex()
            if root != last.root_hash:
                raise TransparencyError(
                    f"the stored frontier of checkpoint {size} gives root {root}, not the signed "
                    f"{last.root_hash}: the store's tlog_frontiers row was changed; `simpul audit verify` checks "
                    "the whole log")
            start = size
        else:
            tree, start = MerkleTree(), 0
        pending: list[tuple[int, str, str]] = []
        for leaf in leaves(engine, start):
            tree.append(bytes.fromhex(leaf.leaf_hash))
            if leaf.idx >= size and leaf.kind == "event":
                pending.append((leaf.idx, leaf.ref_id, leaf.regency_code or ""))
            if len(tree) - tree.held_from >= LOAD_CHUNK and tree.held_from < size:
                tree.forget(min(len(tree), size))
        if tree.held_from < size:
            tree.forget(size)
        return cls(tree=tree, checkpointed=size, pending=pending)


def stored_frontier(engine: sa.Engine, size: int) -> bytes | None:
    with engine.connect() as conn:
        hashes = conn.execute(sa.select(tlog_frontiers.c.hashes).where(tlog_frontiers.c.size == size)).scalar()
    return None if hashes is None else bytes.fromhex(hashes)


def whole_tree(engine: sa.Engine) -> MerkleTree:
    """The tree of every stored leaf: proofs of any leaf to any size (`simpul audit prove`)."""
    return MerkleTree(bytes.fromhex(leaf.leaf_hash) for leaf in leaves(engine))


def logged(conn: sa.Connection, ref_ids: Sequence[str]) -> set[str]:
    """Which of `ref_ids` already have a leaf (a record replayed after a crash, or sent twice)."""
    found: set[str] = set()
    for i in range(0, len(ref_ids), LOOKUP_CHUNK):
        chunk = ref_ids[i:i + LOOKUP_CHUNK]
        found.update(conn.execute(sa.select(tlog_leaves.c.ref_id).where(tlog_leaves.c.ref_id.in_(chunk))).scalars())
    return found


LEAF_COLUMNS = ("idx", "kind", "ref_id", "regency_code", "leaf_hash", "source", "appended_at")
RECEIPT_COLUMNS = ("event_id", "regency_code", "idx", "checkpoint_size", "proof")

LeafRow = tuple[int, str, str, str | None, str, str]  # LEAF_COLUMNS but `appended_at`, which a batch shares
ReceiptRow = tuple[str, str, int, int, str]  # RECEIPT_COLUMNS, the proof as its JSON text


def _executemany(conn: sa.Connection, table: sa.Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    """INSERT the rows (tuples in `columns` order, values as the driver takes them) in one driver executemany.

    The stage inserts a leaf per event and a receipt per event; SQLAlchemy's per-row parameter processing cost
    more CPU than the database did. Values needing a type's conversion are converted by the caller, once."""
    mark = {"qmark": "?", "format": "%s", "pyformat": "%s"}.get(conn.dialect.paramstyle)
    if mark is None:  # a driver with another parameter style: the portable (slower) path
        conn.execute(table.insert(), [dict(zip(columns, r, strict=True)) for r in rows])
        return
    prep = conn.dialect.identifier_preparer
    sql = (f"INSERT INTO {prep.format_table(table)} ({', '.join(prep.quote(c) for c in columns)}) "
           f"VALUES ({', '.join([mark] * len(columns))})")
    conn.exec_driver_sql(sql, list(rows))


def append(conn: sa.Connection, rows: Sequence[LeafRow], appended_at: datetime) -> None:
    """Append a batch of leaves, all appended at `appended_at`."""
    if rows:
        process = tlog_leaves.c.appended_at.type.bind_processor(conn.dialect)
        at = process(appended_at) if process is not None else appended_at
        _executemany(conn, tlog_leaves, LEAF_COLUMNS, [(*r, at) for r in rows])


def add_checkpoint(conn: sa.Connection, record: CheckpointRecord, receipts: Sequence[ReceiptRow],
                   frontier: bytes | None = None) -> None:
    """Store a signed checkpoint with the receipts of the events it first covers (and its tree's frontier)."""
    conn.execute(tlog_checkpoints.insert().values(**record.model_dump()))
    if frontier is not None:
        conn.execute(tlog_frontiers.insert().values(size=record.size, hashes=frontier.hex()))
    if receipts:
        _executemany(conn, tlog_receipts, RECEIPT_COLUMNS, receipts)


def proof_text(proof: Sequence[str]) -> str:
    """A hex audit path as the JSON text stored and published (hex needs no escaping)."""
    return '["' + '","'.join(proof) + '"]' if proof else "[]"


def proof_json(proof: Sequence[bytes]) -> list[str]:
    return [h.hex() for h in proof]


def proof_of(value: object) -> list[str]:
    """A stored proof (JSON list; some drivers hand back its text)."""
    data = json.loads(value) if isinstance(value, str) else value
    return [str(h) for h in data]  # type: ignore[union-attr]
