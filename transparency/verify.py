"""`simpul audit verify`: recompute the log from the store and check it against every signed checkpoint.

What it proves, in this order, naming the first thing that is wrong:
1. every checkpoint is signed by the province's key, and says what its row says;
2. the leaves are numbered 0..n-1 without a gap, and the tree they make has each checkpoint's root (and so each
   checkpoint extends the one before: the consistency proof between them verifies); where a root differs, the
   receipts name the first leaf that no longer proves into its checkpoint;
3. every logged event is in the store, and its stored payload still hashes to its leaf (altered, removed);
4. every stored event is in the log exactly once (inserted: a stored event the log never appended, although the
   log has read past its offset; events beyond what the log has read are "not yet logged");
5. with the dashboard database, every logged ops action is there and unchanged.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Literal

import sqlalchemy as sa
from pydantic import BaseModel

from consumers.store.tables import EVENT_TABLES, tlog_receipts
from transparency import log_store, merkle
from transparency.checkpoint import open_note
from transparency.exceptions import NoteError, ProofError
from transparency.leaves import event_leaf, ops_leaf
from transparency.tree import MerkleTree

ProblemKind = Literal["signature", "checkpoint", "gap", "rewritten", "altered", "removed", "inserted", "ops"]


class Problem(BaseModel):
    kind: ProblemKind
    ref_id: str | None = None
    log_index: int | None = None
    detail: str


class VerifyReport(BaseModel):
    ok: bool
    size: int
    checkpoints: int
    latest_checkpoint: int | None
    events_checked: int
    ops_checked: int
    not_yet_logged: int
    problems: list[Problem]

    @property
    def first(self) -> Problem | None:
        return self.problems[0] if self.problems else None


def _stored_events(engine: sa.Engine) -> dict[str, tuple[str, str, int, int]]:
    """event id -> (payload text, topic, partition, offset) of every event in the store."""
    out: dict[str, tuple[str, str, int, int]] = {}
    with engine.connect() as conn:
        for table in EVENT_TABLES.values():
            rows = conn.execute(sa.select(table.c.event_id, sa.cast(table.c.payload, sa.Text), table.c.source_topic,
                                          table.c.source_partition, table.c.source_offset))
            for event_id, payload, topic, partition, offset in rows:
                out[event_id] = (payload, topic, partition, offset)
    return out


def _stored_ops(ops_engine: sa.Engine) -> dict[str, dict[str, object]]:
    from monitor.audit import entry_of
    from monitor.opsdb import audit

    with ops_engine.connect() as conn:
        rows = conn.execute(sa.select(audit)).mappings().all()
    return {r["entry_id"]: entry_of(r).model_dump(mode="json") for r in rows}


def verify(engine: sa.Engine, trusted_keys: Iterable[str], *, ops_engine: sa.Engine | None = None,
           complete: bool = False) -> VerifyReport:
    """Check the log in the store (see the module docstring); `complete`: a stored event not yet logged is a
    problem too (after a drained run)."""
    keys = list(trusted_keys)
    problems: list[Problem] = []
    cps = log_store.checkpoints(engine)
    # 1. signatures
    for cp in cps:
        opened = None
        for key in keys:
            try:
                opened = open_note(cp.note, key)
                break
            except NoteError:
                continue
        if opened is None:
            problems.append(Problem(kind="signature", detail=f"checkpoint of size {cp.size} is not signed by the "
                                    "province's key: it was forged or altered"))
        elif opened.size != cp.size or opened.root_hash.hex() != cp.root_hash:
            problems.append(Problem(kind="checkpoint", detail=f"checkpoint row of size {cp.size} says root "
                                    f"{cp.root_hash}, its signed note says size {opened.size} root "
                                    f"{opened.root_hash.hex()}"))
    # 2. the tree against every checkpoint
    tree = MerkleTree()
    leaves: list[log_store.Leaf] = []
    for leaf in log_store.leaves(engine):
        if leaf.idx != len(leaves):
            problems.append(Problem(kind="gap", ref_id=leaf.ref_id, log_index=len(leaves),
                                    detail=f"leaf {len(leaves)} is missing from the log (the next stored leaf is "
                                    f"{leaf.idx}): a log entry was deleted"))
            break
        leaves.append(leaf)
        tree.append(bytes.fromhex(leaf.leaf_hash))
    previous: log_store.CheckpointRecord | None = None
    for cp in cps:
        if cp.size > len(tree):
            problems.append(Problem(kind="rewritten", detail=f"checkpoint of size {cp.size} covers more leaves than "
                                    f"the log holds ({len(tree)}): leaves were removed"))
            break
        if tree.root(cp.size).hex() != cp.root_hash:
            problems.append(_first_rewritten(engine, tree, leaves, previous, cp))
            break
        if previous is not None:
            merkle.verify_consistency(previous.size, cp.size, bytes.fromhex(previous.root_hash),
                                      bytes.fromhex(cp.root_hash), tree.consistency_proof(previous.size, cp.size))
        previous = cp
    # 3. and 4. events: log <-> store
    stored = _stored_events(engine)
    read_up_to: dict[tuple[str, int], int] = defaultdict(lambda: -1)
    logged: set[str] = set()
    events_checked = ops_checked = 0
    ops = _stored_ops(ops_engine) if ops_engine is not None else None
    for leaf in leaves:
        if leaf.kind == "ops":
            ops_checked += 1
            if ops is not None:
                entry = ops.get(leaf.ref_id)
                if entry is None:
                    problems.append(Problem(kind="ops", ref_id=leaf.ref_id, log_index=leaf.idx,
                                            detail=f"ops action {leaf.ref_id} (log index {leaf.idx}) is no longer in "
                                            "the dashboard database: it was removed"))
                elif ops_leaf(entry).hex() != leaf.leaf_hash:
                    problems.append(Problem(kind="ops", ref_id=leaf.ref_id, log_index=leaf.idx,
                                            detail=f"ops action {leaf.ref_id} (log index {leaf.idx}) was altered in "
                                            "the dashboard database"))
            continue
        events_checked += 1
        logged.add(leaf.ref_id)
        topic, partition, offset = leaf.source.rsplit(":", 2)
        key = (topic, int(partition))
        read_up_to[key] = max(read_up_to[key], int(offset))
        row = stored.get(leaf.ref_id)
        if row is None:
            problems.append(Problem(kind="removed", ref_id=leaf.ref_id, log_index=leaf.idx,
                                    detail=f"event {leaf.ref_id} (log index {leaf.idx}) is in the log but not in the "
                                    "store: it was removed"))
        elif event_leaf(row[0]).hex() != leaf.leaf_hash:
            problems.append(Problem(kind="altered", ref_id=leaf.ref_id, log_index=leaf.idx,
                                    detail=f"event {leaf.ref_id} (log index {leaf.idx}) was altered in the store: "
                                    "its payload no longer hashes to its leaf"))
    pending = 0
    for event_id, (_payload, topic, partition, offset) in sorted(stored.items(), key=lambda kv: kv[1][1:]):
        if event_id in logged:
            continue
        if offset <= read_up_to[(topic, partition)]:
            problems.append(Problem(kind="inserted", ref_id=event_id,
                                    detail=f"event {event_id} is in the store but not in the log, which has read "
                                    f"{topic}:{partition} past offset {offset}: it was inserted"))
        elif complete:
            problems.append(Problem(kind="inserted", ref_id=event_id,
                                    detail=f"event {event_id} is in the store but not in the log (at "
                                    f"{topic}:{partition}:{offset}, beyond what the log has read)"))
        else:
            pending += 1
    order = {"signature": 0, "checkpoint": 0, "gap": 1, "rewritten": 1}
    problems.sort(key=lambda p: (order.get(p.kind, 2), p.log_index if p.log_index is not None else 1 << 62))
    return VerifyReport(ok=not problems, size=len(tree), checkpoints=len(cps),
                        latest_checkpoint=cps[-1].size if cps else None, events_checked=events_checked,
                        ops_checked=ops_checked, not_yet_logged=pending, problems=problems)


def _first_rewritten(engine: sa.Engine, tree: MerkleTree, leaves: list[log_store.Leaf],
                     previous: log_store.CheckpointRecord | None, cp: log_store.CheckpointRecord) -> Problem:
    """The first leaf whose receipt no longer proves it into its checkpoint, when a root differs."""
    start = 0 if previous is None else previous.size
    with engine.connect() as conn:
        rows = conn.execute(sa.select(tlog_receipts).where(tlog_receipts.c.idx < cp.size)
                            .order_by(tlog_receipts.c.idx)).mappings().all()
    roots = {c.size: bytes.fromhex(c.root_hash) for c in log_store.checkpoints(engine)}
    for r in rows:
        leaf = leaves[r["idx"]]
        try:
            merkle.verify_inclusion(bytes.fromhex(leaf.leaf_hash), r["idx"], r["checkpoint_size"],
                                    [bytes.fromhex(h) for h in log_store.proof_of(r["proof"])],
                                    roots[r["checkpoint_size"]])
        except (ProofError, KeyError):
            return Problem(kind="rewritten", ref_id=leaf.ref_id, log_index=leaf.idx,
                           detail=f"log entry {leaf.idx} ({leaf.kind} {leaf.ref_id}) was rewritten: it no longer "
                           f"proves into the signed checkpoint of size {r['checkpoint_size']}")
    return Problem(kind="rewritten", log_index=start,
                   detail=f"the log's leaves {start}..{cp.size - 1} no longer have the signed root of checkpoint "
                   f"{cp.size}: history was rewritten")
