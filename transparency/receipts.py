"""Receipts: what a regency keeps to prove, to anyone and for good, that the province accepted one of its events.

A receipt is the event's leaf hash, its index in the log, the signed checkpoint that first covered it and the
audit path from the leaf to that checkpoint's root. It verifies with the province's public key alone
(docs/audit.md); a later checkpoint extends it by a consistency proof (`simpul audit prove --from`).
"""

from __future__ import annotations

import sqlalchemy as sa
from pydantic import BaseModel, Field

from consumers.store.tables import tlog_checkpoints, tlog_leaves, tlog_receipts
from transparency.exceptions import TransparencyError
from transparency.log_store import proof_of


class ReceiptNotYet(TransparencyError):
    """The event is in the log but no signed checkpoint covers it yet; one is signed every few seconds."""


class Receipt(BaseModel):
    """The proof that one event is in the province's log."""

    event_id: str
    regency_code: str
    leaf_hash: str = Field(description="hex SHA-256(0x00 || leaf data), see docs/audit.md")
    log_index: int
    tree_size: int
    inclusion_proof: list[str] = Field(description="hex hashes, the RFC 9162 audit path from the leaf up")
    checkpoint: str = Field(description="the signed note (C2SP tlog-checkpoint) of the tree of `tree_size`")
    verifier_key: str
    origin: str


def find_receipt(engine: sa.Engine, event_id: str) -> Receipt | None:
    """The receipt of `event_id`; None when the log has no such event; `ReceiptNotYet` before its checkpoint."""
    r, c = tlog_receipts, tlog_checkpoints
    with engine.connect() as conn:
        row = conn.execute(sa.select(r, c.c.note, c.c.verifier_key, c.c.origin)
                           .join(c, c.c.size == r.c.checkpoint_size)
                           .where(r.c.event_id == event_id)).mappings().first()
        if row is None:
            logged = conn.execute(sa.select(tlog_leaves.c.idx).where(tlog_leaves.c.ref_id == event_id,
                                                                     tlog_leaves.c.kind == "event")).first()
            if logged is not None:
                raise ReceiptNotYet(f"event {event_id} is at index {logged[0]} of the log; its checkpoint is "
                                    "signed within seconds: ask again shortly")
            return None
        leaf = conn.execute(sa.select(tlog_leaves.c.leaf_hash).where(tlog_leaves.c.idx == row["idx"])).scalar_one()
    return Receipt(event_id=event_id, regency_code=row["regency_code"], leaf_hash=leaf, log_index=row["idx"],
                   tree_size=row["checkpoint_size"], inclusion_proof=proof_of(row["proof"]),
                   checkpoint=row["note"], verifier_key=row["verifier_key"], origin=row["origin"])
