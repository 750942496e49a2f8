"""The transparency stage holds one checkpoint's leaves, not the log: over real SQLite, without Kafka.

Batches with repeats (within a batch, and of records logged before a restart) are appended once each; every
checkpoint's receipts verify against the reference tree of all leaves; a restarted stage goes on from the store;
and what the stage holds in memory stays bounded by a checkpoint's worth of leaves however long the log grows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from consumers.store.db import connect, migrate
from consumers.store.tables import tlog_leaves, tlog_receipts
from transparency import log_store, merkle
from transparency.exceptions import TransparencyError
from transparency.log_store import proof_of
from transparency.stage import LogTopics, Signer, TransparencyLog

TOPIC = "t.events"


class Msg:
    """What the stage reads of a confluent-kafka Message."""

    def __init__(self, offset: int, event_id: str) -> None:
        self._offset, self._value = offset, json.dumps({"event_id": event_id, "regency_code": "3301"}).encode()

    def topic(self) -> str:
        return TOPIC

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset

    def value(self) -> bytes:
        return self._value

    def error(self) -> None:
        return None


def decode(value: bytes) -> tuple[None, dict[str, Any]]:
    return None, json.loads(value)


def stage(engine: sa.Engine) -> TransparencyLog:
    topics = LogTopics({TOPIC: "event"}, "t.checkpoints", lambda code: f"t.receipts.{code}")
    return TransparencyLog(engine, None, None, topics, decode, Signer.from_secret("test/origin", "k" * 32),
                           checkpoint_events=100)


def held_bytes(log: TransparencyLog) -> int:
    return sum(len(level) for level in log.state.tree.levels)


def test_repeats_are_logged_once_and_memory_stays_one_checkpoint(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'store.sqlite'}")
    migrate(engine)
    log = stage(engine)
    ids = [f"ev-{i}" for i in range(1000)]
    offset, peak = 0, 0
    for start in range(0, 600, 60):
        batch = ids[start:start + 60] + ids[start:start + 5]  # five repeated within the batch
        if start >= 120:
            batch += ids[start - 120:start - 110]  # ten logged two batches ago (a replay after a crash)
        log.append([Msg(offset + i, e) for i, e in enumerate(batch)])
        offset += len(batch)
        if log.due():
            log.checkpoint()
        peak = max(peak, held_bytes(log))
    log.checkpoint()
    assert log.stats.appended == 600
    assert log.stats.repeated == 10 * 5 + 8 * 10
    # a new stage over the same store (a restart) takes up where the first stopped, from the last checkpoint's
    # frontier (it reads no leaf before it); its replays are skipped
    read_from: list[int] = []
    all_leaves = log_store.leaves
    monkeypatch.setattr(log_store, "leaves", lambda e, start=0: read_from.append(start) or all_leaves(e, start))
    again = stage(engine)
    monkeypatch.setattr(log_store, "leaves", all_leaves)
    assert min(read_from) == 600, read_from
    assert len(again.state.tree) == 600 and again.state.checkpointed == 600
    for start in range(540, 1000, 60):
        again.append([Msg(offset + i, e) for i, e in enumerate(ids[start:start + 60])])
        offset += 60
        if again.due():
            again.checkpoint()
        peak = max(peak, held_bytes(again))
    again.checkpoint()
    assert again.stats.appended == 400 and again.stats.repeated == 60
    # one checkpoint's leaves (<= 100 + a batch) and their subtrees, plus a frontier node per level: never the log
    assert peak <= (100 + 60) * 2 * 32 + 11 * 32, peak

    with engine.connect() as conn:
        leaves = conn.execute(sa.select(tlog_leaves.c.ref_id, tlog_leaves.c.leaf_hash)
                              .order_by(tlog_leaves.c.idx)).all()
        receipts = conn.execute(sa.select(tlog_receipts)).mappings().all()
    assert [r.ref_id for r in leaves] == ids
    hashes = [bytes.fromhex(r.leaf_hash) for r in leaves]
    assert len(receipts) == 1000
    roots = {size: merkle.root(hashes[:size]) for size in {r["checkpoint_size"] for r in receipts}}
    for r in receipts:  # each verifies against the reference root of all leaves up to its checkpoint
        proof = [bytes.fromhex(h) for h in proof_of(r["proof"])]
        merkle.verify_inclusion(hashes[r["idx"]], r["idx"], r["checkpoint_size"], proof, roots[r["checkpoint_size"]])


def test_a_changed_frontier_is_refused_against_the_signed_root(tmp_path: Path) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'store.sqlite'}")
    migrate(engine)
    log = stage(engine)
    log.append([Msg(i, f"ev-{i}") for i in range(37)])
    log.checkpoint()
    with engine.begin() as conn:  # what only the store's owner can do: drop the append-only trigger, then rewrite
        conn.exec_driver_sql("DROP TRIGGER tlog_frontiers_no_update")
        conn.exec_driver_sql(f"UPDATE tlog_frontiers SET hashes = '{'ab' * 32 * 3}'")  # 37 = 100101b: 3 hashes
    with pytest.raises(TransparencyError, match="stored frontier of checkpoint 37 gives root"):
        stage(engine)
