"""The transparency stage: every canonical event and every ops action, appended once to a signed Merkle log.

It reads the canonical topics and the ops audit topic as a consumer of its own, so the gatekeeper's path does not
wait for it. One loop: consume a batch -> a leaf per record not yet in the log (event id / audit entry id: a
record replayed after a crash, or sent twice at least once, is appended once) -> one store transaction -> only
then the Kafka offsets. Every few seconds, or after N new leaves, it signs a checkpoint, stores it with a receipt
per new event (the audit path to that checkpoint), then publishes both: the checkpoint to the checkpoints topic,
each receipt to its regency's receipts topic.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from json.encoder import encode_basestring  # type: ignore[attr-defined]  # the C encoder of a JSON string
from typing import Any

import sqlalchemy as sa
from confluent_kafka import Consumer, Message, Producer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from consumers.kafka import EndOffsets, Stopper, commit_offsets, drained, next_offsets, raise_on_fatal
from consumers.store.sink import POISON, Decode
from schemas.audit import AuditEntry
from topics.catalog import TopicSet
from transparency import log_store
from transparency.checkpoint import Checkpoint, sign, verifier_key
from transparency.exceptions import TransparencyError
from transparency.leaves import datum_leaf, ops_leaf
from transparency.log_store import CheckpointRecord, LeafRow, LogState, ReceiptRow, proof_text

log = logging.getLogger("simpul.transparency")

TIME_EXTENSION = "time "


class PublishError(TransparencyError):
    """The broker did not acknowledge a checkpoint or receipts; they are in the store and go again next time."""


def group_id(prefix: str) -> str:
    return f"{prefix}-transparency"


def default_origin(prefix: str) -> str:
    return f"jatengprov.go.id/simpul/{prefix}"


@dataclass(frozen=True)
class Signer:
    """The province's checkpoint key: Ed25519, derived from the installation secret `tlog_signing_key`."""

    origin: str
    private: Ed25519PrivateKey

    @classmethod
    def from_secret(cls, origin: str, secret: str) -> Signer:
        seed = hashlib.sha256(b"simpul tlog signing key v1\n" + secret.encode()).digest()
        return cls(origin, Ed25519PrivateKey.from_private_bytes(seed))

    @property
    def verifier_key(self) -> str:
        return verifier_key(self.origin, self.private.public_key())

    def checkpoint(self, size: int, root: bytes, at: datetime) -> CheckpointRecord:
        stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        note = sign(Checkpoint(self.origin, size, root, (TIME_EXTENSION + stamp,)), self.origin, self.private)
        return CheckpointRecord(size=size, root_hash=root.hex(), signed_at=at, origin=self.origin, note=note,
                                verifier_key=self.verifier_key)


@dataclass(frozen=True)
class LogTopics:
    """Where the stage reads and writes, by topic name."""

    kinds: dict[str, str]  # source topic -> "event" | "ops"
    checkpoints: str
    receipts: Callable[[str], str]  # regency code -> its receipts topic

    @classmethod
    def of(cls, topics: TopicSet) -> LogTopics:
        kinds = {t.name: "event" for t in topics.role("events")}
        kinds[topics.find("audit").name] = "ops"
        names = {t.labels.get("regency"): t.name for t in topics.role("receipts")}  # find() per receipt was 30 µs

        def receipts(code: str) -> str:
            return names[code] if code in names else topics.find("receipts", regency=code).name  # unknown: its error

        return cls(kinds, topics.find("checkpoints").name, receipts)




def receipt_json(record: CheckpointRecord, receipt: ReceiptRow, leaf: bytes) -> bytes:
    """A receipt as published on its regency's topic: the bytes of `Receipt(...).model_dump_json()`
    (tests/unit/test_transparency_receipts.py), written directly: a model per receipt was a sixth of the stage's
    CPU. The checkpoint's part is encoded once per checkpoint."""
    event_id, regency, idx, size, proof = receipt
    tail = _receipt_tail(record.note, record.verifier_key, record.origin)
    return (f'{{"event_id":{encode_basestring(event_id)},"regency_code":{encode_basestring(regency)},'
            f'"leaf_hash":"{leaf.hex()}","log_index":{idx},"tree_size":{size},"inclusion_proof":{proof},'
            f'{tail}').encode()


@functools.lru_cache(maxsize=4)
def _receipt_tail(note: str, verifier_key: str, origin: str) -> str:
    """What every receipt of one checkpoint shares: '"checkpoint":...,"origin":...}'."""
    return json.dumps({"checkpoint": note, "verifier_key": verifier_key, "origin": origin}, ensure_ascii=False,
                      separators=(",", ":"))[1:]


@dataclass
class LogStats:
    records: int = 0
    appended: int = 0
    repeated: int = 0
    poison: int = 0
    checkpoints: int = 0
    size: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class _Pending:
    """Event leaves appended since the last checkpoint: they get their receipts with the next one."""

    events: list[tuple[int, str, str]] = field(default_factory=list)  # (index, event id, regency code)


class TransparencyLog:
    """The stage: see the module docstring."""

    def __init__(self, engine: sa.Engine, consumer: Consumer | None, producer: Producer | None, topics: LogTopics,
                 decode: Decode, signer: Signer, *, checkpoint_seconds: float = 5.0, checkpoint_events: int = 10_000,
                 batch_size: int = 2000, poll_timeout: float = 0.5, ends: EndOffsets | None = None) -> None:
        self.engine, self.consumer, self.producer, self.topics = engine, consumer, producer, topics
        self.decode, self.signer = decode, signer
        self.checkpoint_seconds, self.checkpoint_events = checkpoint_seconds, checkpoint_events
        self.batch_size, self.poll_timeout, self.ends = batch_size, poll_timeout, ends
        self.state = LogState.load(engine)
        # the events still owed receipts were read with the tree, not a second time; the stage holds them from here
        self.pending, self.state.pending = _Pending(self.state.pending), []
        self.stats = LogStats(size=len(self.state.tree))
        self._last_checkpoint = time.monotonic()
        self._failures: list[str] = []  # delivery errors of published checkpoints and receipts not yet reported

    # -- appending -------------------------------------------------------------------------------------------

    def _leaf(self, m: Message, kind: str) -> tuple[str, str | None, bytes]:
        """(ref id, regency code, leaf hash) of one record; raises a POISON error for one that does not read."""
        value = m.value()
        if value is None:
            raise ValueError("empty value (tombstone)")
        if kind == "event":
            _model, record = self.decode(value)
            return str(record["event_id"]), str(record["regency_code"]), datum_leaf(record)
        entry = AuditEntry.model_validate_json(value)
        return entry.entry_id, None, ops_leaf(entry.model_dump(mode="json"))

    def append(self, messages: Sequence[Message], now: datetime | None = None) -> int:
        """Append the batch's new leaves in one transaction (offsets are the caller's); the number appended."""
        at = now or datetime.now(UTC)
        fresh: list[tuple[str, str, str | None, bytes, str]] = []  # (kind, ref id, regency, leaf, source)
        seen: set[str] = set()
        for m in messages:
            kind = self.topics.kinds.get(m.topic())
            self.stats.records += 1
            try:
                if kind is None:
                    raise ValueError(f"topic {m.topic()} is not one the transparency log reads")
                ref_id, regency, leaf = self._leaf(m, kind)
            except (*POISON, ValidationError) as exc:
                log.warning("record at %s:%s:%s not logged (not a canonical record): %s", m.topic(), m.partition(),
                            m.offset(), type(exc).__name__)
                self.stats.poison += 1
                continue
            if ref_id in seen:
                self.stats.repeated += 1
                continue
            seen.add(ref_id)
            fresh.append((kind, ref_id, regency, leaf, f"{m.topic()}:{m.partition()}:{m.offset()}"))
        if not fresh:
            return 0
        size = len(self.state.tree)
        rows: list[LeafRow] = []
        hashes: list[bytes] = []
        with self.engine.begin() as conn:
            known = log_store.logged(conn, [f[1] for f in fresh])
            for kind, ref_id, regency, leaf, source in fresh:
                if ref_id in known:
                    continue
                rows.append((size + len(rows), kind, ref_id, regency, leaf.hex(), source))
                hashes.append(leaf)
            log_store.append(conn, rows, at)
        self.stats.repeated += len(fresh) - len(rows)
        tree, events = self.state.tree, self.pending.events
        for (idx, kind, ref_id, regency, _hex, _source), leaf in zip(rows, hashes, strict=True):
            tree.append(leaf)
            if kind == "event":
                events.append((idx, ref_id, regency or ""))
        self.stats.appended += len(rows)
        self.stats.size = len(self.state.tree)
        return len(rows)

    # -- checkpoints and receipts ----------------------------------------------------------------------------

    def due(self) -> bool:
        grown = len(self.state.tree) - self.state.checkpointed
        return grown > 0 and (grown >= self.checkpoint_events
                              or time.monotonic() - self._last_checkpoint >= self.checkpoint_seconds)

    def checkpoint(self, now: datetime | None = None) -> CheckpointRecord | None:
        """Sign the tree as it stands (if it grew), store it with the new events' receipts, then publish them."""
        size = len(self.state.tree)
        self._last_checkpoint = time.monotonic()
        if size == self.state.checkpointed:
            return None
        tree = self.state.tree
        record = self.signer.checkpoint(size, tree.root(), now or datetime.now(UTC))
        first = self.pending.events[0][0] if self.pending.events else size
        proofs = tree.inclusion_proofs_hex(first, size)
        receipts: list[ReceiptRow] = [(ref, regency, idx, size, proof_text(proofs[idx - first]))
                                      for idx, ref, regency in self.pending.events]
        with self.engine.begin() as conn:
            log_store.add_checkpoint(conn, record, receipts, tree.frontier())
        self.state.checkpointed = size
        self.pending = _Pending()
        self.stats.checkpoints += 1
        log.info("checkpoint signed: size %d, root %s, %d receipts", size, record.root_hash, len(receipts))
        self._publish(record, receipts)
        tree.forget(size)  # the next checkpoint's proofs need only this one's frontier and the leaves after it
        return record

    def _publish(self, record: CheckpointRecord, receipts: Sequence[ReceiptRow]) -> None:
        """Hand the checkpoint and its receipts to the producer without waiting for the broker (the loop goes on
        appending while they are delivered; `_delivered` reports failures, and the end of `run` waits for all)."""
        if self.producer is None:
            return
        failures = self._failures

        def done(err: Any, _msg: Any) -> None:  # noqa: ANN401 - confluent_kafka callback types
            if err is not None:
                failures.append(str(err))

        self._produce(self.topics.checkpoints, str(record.size).encode(), record.model_dump_json().encode(), done)
        for r in receipts:
            self._produce(self.topics.receipts(r[1]), r[0].encode(), receipt_json(record, r, self.state.tree.leaf(r[2])),
                          done)
        self._delivered(record.size)

    def _produce(self, topic: str, key: bytes, value: bytes, done: Callable[[Any, Any], None]) -> None:
        while True:
            try:
                self.producer.produce(topic, key=key, value=value, on_delivery=done)  # type: ignore[union-attr]
                break
            except BufferError:  # the producer's queue is full: let it deliver some
                self.producer.poll(0.05)  # type: ignore[union-attr]
        self.producer.poll(0)  # type: ignore[union-attr]

    def _delivered(self, size: int, *, wait: float = 0.0) -> None:
        """Serve delivery reports (waiting up to `wait` s for all); log what the broker refused since the last call."""
        if self.producer is None:
            return
        remaining = self.producer.flush(wait) if wait else 0
        if not wait:
            self.producer.poll(0)
        if self._failures or remaining:
            why = self._failures[0] if self._failures else f"{remaining} not acknowledged within {wait:.0f} s"
            log.error("checkpoints up to %d and their receipts are stored but not all published: %s", size, why)
            self._failures.clear()

    # -- the loop --------------------------------------------------------------------------------------------

    def run(self, *, once: bool = False, stop: Stopper | None = None, max_seconds: float | None = None) -> LogStats:
        """Consume until stopped (or, with `once`, until the topics are drained), then sign a last checkpoint."""
        if self.consumer is None:
            raise TransparencyError("the transparency stage runs with a consumer")
        if once and self.ends is None:
            raise ValueError("run(once=True) needs `ends` to know when the topics are drained")
        stop = stop if stop is not None else Stopper()
        started = time.monotonic()
        self.consumer.subscribe(sorted(self.topics.kinds))
        try:
            while not stop:
                messages = self.consumer.consume(num_messages=self.batch_size, timeout=self.poll_timeout)
                for m in messages:
                    if m.error() is not None:
                        raise_on_fatal(m)
                        log.warning("Kafka: %s", m.error().str())
                good = [m for m in messages if m.error() is None]
                if good:
                    self.append(good)
                    commit_offsets(self.consumer, next_offsets(good))
                if self.due():
                    self.checkpoint()
                elif not good:
                    self._delivered(self.state.checkpointed)
                if once and not good and drained(self.consumer, self.ends):  # type: ignore[arg-type]
                    break
                if max_seconds is not None and time.monotonic() - started > max_seconds:
                    break
            self.checkpoint()
            self._delivered(self.state.checkpointed, wait=30)
        finally:
            self.stats.seconds = time.monotonic() - started
            self.consumer.close()
        return self.stats

