"""The gatekeeper's dedup table: event id -> [first seen ms, source], local in RocksDB, durable in a changelog.

The changelog topic `<app id>-dedup-changelog` (compacted, one partition per ingress partition number) is the
truth; the local RocksDB file is a cache of it that survives restarts. Each ingress record's entry goes to the
changelog partition of the record's own partition number, so the partitions a worker is assigned name the
changelog partitions it must hold. The local file remembers how far it has read each changelog partition, so a
restart only reads what other workers (or this one, before a crash) wrote since.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from pathlib import Path

from confluent_kafka import Consumer, KafkaException, TopicPartition
from rocksdict import Options, WriteBatch

from streams.exceptions import RecoveryError, StateWriteError
from streams.gatekeeper.recovery import START_UP_READER, throwaway_group
from streams.runtime import WRITE_BUFFER_BYTES, StateBudget, open_state_db
from topics.connection import KafkaConnection

log = logging.getLogger(__name__)

_OFFSET_KEY = b"\x00changelog-offset:"  # + partition number: next changelog offset to read (never an event id)


def entry_key(event_id: str) -> bytes:
    """The changelog key of an event id: the JSON string (readable with any console consumer). Event ids are
    validated UUIDs, so no character needs escaping."""
    return b'"' + event_id.encode() + b'"'


def entry_value(first_seen_ms: int, source: str) -> bytes:
    """The changelog value: JSON `[first seen ms, source]` (a source is `topic:partition:offset`, never escaped)."""
    return b"[" + str(first_seen_ms).encode() + b',"' + source.encode() + b'"]'


class DedupTable:
    """A `Mapping`-like view of the local cache (`get` with `[ms, source]` values) for `DedupMemory`.

    Entries of batches still in flight are `stage`d (visible to `get` at once); `commit` writes one batch's
    entries to RocksDB after the changelog acknowledged them, so the cache never holds an entry the changelog
    may lack."""

    def __init__(self, path: Path, *, budget: StateBudget | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        options = Options(raw_mode=True)
        # nearly every lookup is a miss (a new event id): the point-lookup profile's filters answer a miss in
        # ~0.5 µs instead of ~3.4 µs on a table of 600,000 ids, 7% of the gatekeeper's time (docs/performance.md)
        options.optimize_for_point_lookup(16)
        # bounded write buffers: RocksDB's default (64 MiB, two) grew the gatekeeper's RSS with every id written
        options.set_write_buffer_size(WRITE_BUFFER_BYTES)
        options.set_max_write_buffer_number(2)
        if budget is not None:
            options.set_write_buffer_manager(budget.write_buffers)
        self.path = path
        try:
            self._db = open_state_db(path, options)
        except Exception as exc:  # rocksdict raises plain Exceptions ("IO error: No space left on device")
            raise self._unwritable("opened", exc) from None
        self._staged: dict[bytes, bytes] = {}

    def _unwritable(self, action: str, exc: Exception) -> StateWriteError:
        return StateWriteError(
            f"the gatekeeper's dedup cache at {self.path} cannot be {action} ({exc}); free space on that disk or "
            "fix its permissions, then restart the gatekeeper: the batch in hand was not committed, so its records "
            "are read again and found already written (nothing is lost or written twice)")

    def _write(self, batch: WriteBatch) -> None:
        """One atomic RocksDB write: all of the batch or, on an error, none of it."""
        try:
            self._db.write(batch)
        except Exception as exc:  # disk full, read-only file system: RocksDB keeps the error for later writes
            raise self._unwritable("written", exc) from None

    def get(self, event_id: str, default: object = None) -> list | None:  # type: ignore[type-arg]
        key = entry_key(event_id)
        raw = self._staged.get(key)
        if raw is None:
            raw = self._db.get(key)
        return json.loads(raw) if raw is not None else default  # type: ignore[return-value]

    def stage(self, key: bytes, value: bytes) -> None:
        self._staged[key] = value

    def commit(self, entries: dict[bytes, bytes], changelog_next: dict[int, int]) -> None:
        """Write one batch's entries and the changelog positions they reach, in one RocksDB write."""
        batch = WriteBatch(raw_mode=True)
        for key, value in entries.items():
            batch.put(key, value)
            if self._staged.get(key) == value:
                del self._staged[key]
        for partition, offset in changelog_next.items():
            batch.put(_OFFSET_KEY + str(partition).encode(), str(offset).encode())
        self._write(batch)

    def next_offset(self, partition: int) -> int:
        raw = self._db.get(_OFFSET_KEY + str(partition).encode())
        return int(raw) if raw is not None else 0

    def restore(self, connection: KafkaConnection, changelog: str, partitions: Iterable[int],
                timeout: float = 600.0) -> int:
        """Read the changelog partitions from where this cache stopped to their end; returns records read."""
        wanted = sorted(set(partitions))
        if not wanted:
            return 0
        consumer = Consumer(connection.librdkafka(**{
            "group.id": throwaway_group(), "enable.auto.commit": False,
            "auto.offset.reset": "earliest", "enable.partition.eof": False, **START_UP_READER}))
        read = 0
        started = time.monotonic()
        try:
            ends: dict[int, int] = {}
            assignment = []
            for p in wanted:
                low, high = consumer.get_watermark_offsets(TopicPartition(changelog, p), timeout=30)
                start = max(low, self.next_offset(p))
                if high > start:
                    ends[p] = high
                    assignment.append(TopicPartition(changelog, p, start))
            if not assignment:
                return 0
            consumer.assign(assignment)
            deadline = started + timeout
            while ends:
                if time.monotonic() > deadline:
                    raise RecoveryError(f"restoring {changelog} took over {timeout:.0f}s; {len(ends)} partition(s) "
                                        "unfinished; is the broker overloaded?")
                msgs = consumer.consume(5000, timeout=0.5)
                batch = WriteBatch(raw_mode=True)
                for m in msgs:
                    if m.error() is not None:
                        raise RecoveryError(f"restoring {changelog}: {m.error().str()}")
                    p = m.partition()
                    if p not in ends:
                        continue
                    if m.key() is not None and m.value() is not None:
                        batch.put(m.key(), m.value())
                    read += 1
                    if m.offset() >= ends[p] - 1:
                        batch.put(_OFFSET_KEY + str(p).encode(), str(ends[p]).encode())
                        del ends[p]
                self._write(batch)
                if not msgs and ends:  # compaction gaps or control records: ask where the reader stands
                    for tp in consumer.position([TopicPartition(changelog, p) for p in ends]):
                        if tp.offset >= ends[tp.partition]:
                            done = WriteBatch(raw_mode=True)
                            done.put(_OFFSET_KEY + str(tp.partition).encode(), str(ends[tp.partition]).encode())
                            self._write(done)
                            del ends[tp.partition]
        except KafkaException as exc:
            raise RecoveryError(f"cannot read {changelog}: {exc}; is Kafka reachable?") from exc
        finally:
            consumer.close()
        log.info("dedup: restored %d changelog records of partitions %s in %.1fs", read, wanted,
                 time.monotonic() - started)
        return read

    def close(self) -> None:
        try:
            self._db.close()
        except Exception as exc:  # a write error RocksDB kept (disk full): what was written is already durable
            log.warning("dedup cache at %s closed with an error: %s", self.path, exc)
