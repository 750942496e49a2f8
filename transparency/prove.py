"""`simpul audit prove`: an inclusion proof of one event (or ops action) in the latest signed checkpoint, and a
consistency proof from an earlier checkpoint, in the JSON that docs/audit_verify.py checks with the public key."""

from __future__ import annotations

import sqlalchemy as sa
from pydantic import BaseModel

from consumers.store.tables import tlog_checkpoints, tlog_leaves
from transparency import log_store
from transparency.exceptions import ProofError


class Consistency(BaseModel):
    old_size: int
    old_checkpoint: str
    proof: list[str]


class Proof(BaseModel):
    """What a third party needs, besides the province's verifier key, to check that an entry is in the log."""

    ref_id: str
    kind: str
    leaf_hash: str
    log_index: int
    tree_size: int
    inclusion_proof: list[str]
    checkpoint: str
    verifier_key: str
    consistency: Consistency | None = None


def prove(engine: sa.Engine, ref_id: str, *, from_size: int | None = None) -> Proof:
    """The proof of `ref_id` (an event id or an audit entry id) against the latest checkpoint."""
    latest = log_store.latest_checkpoint(engine)
    if latest is None:
        raise ProofError("the log has no signed checkpoint yet: is `simpul transparency run` running?")
    with engine.connect() as conn:
        leaf = conn.execute(sa.select(tlog_leaves).where(tlog_leaves.c.ref_id == ref_id)).mappings().first()
        old = None
        if from_size is not None:
            old = conn.execute(sa.select(tlog_checkpoints).where(tlog_checkpoints.c.size == from_size)
                               ).mappings().first()
    if leaf is None:
        raise ProofError(f"{ref_id} is not in the log (of {latest.size} entries): the province never logged it, "
                         "or the transparency stage has not reached it yet")
    if leaf["idx"] >= latest.size:
        raise ProofError(f"{ref_id} is at index {leaf['idx']}, after the latest checkpoint (size {latest.size}); "
                         "the next one, within seconds, covers it")
    if from_size is not None and old is None:
        raise ProofError(f"there is no checkpoint of size {from_size}; `simpul audit checkpoints` lists them")
    tree = log_store.whole_tree(engine)
    consistency = None
    if old is not None:
        consistency = Consistency(old_size=old["size"], old_checkpoint=old["note"],
                                  proof=log_store.proof_json(tree.consistency_proof(old["size"], latest.size)))
    return Proof(ref_id=ref_id, kind=leaf["kind"], leaf_hash=leaf["leaf_hash"], log_index=leaf["idx"],
                 tree_size=latest.size, inclusion_proof=log_store.proof_json(tree.inclusion_proof(leaf["idx"],
                                                                                                 latest.size)),
                 checkpoint=latest.note, verifier_key=latest.verifier_key, consistency=consistency)
