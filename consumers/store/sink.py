"""The store sink: canonical events, aggregates and alerts -> the provincial store, at least once, idempotently.

One loop: consume up to `batch_size` records -> decode (Avro for events; JSON Aggregate/Alert) -> fold into rows ->
one database transaction of upserts -> commit it -> only then commit the Kafka offsets. A crash replays at most
the batches whose offsets were not committed, and replaying changes nothing (primary keys + merge rules). A record
that does not decode is a poison message: logged with its coordinates, counted, skipped (the gatekeeper already
sent the original to the DLQ); it never stops the sink.

`run` overlaps the two halves: while one batch's transaction runs (in a writer thread, mostly waiting on the
database), the next batch is consumed and decoded. Each batch's offsets are still committed only after its own
transaction has committed, so the crash semantics are those of the sequential loop (`process`).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
import sqlalchemy as sa
from confluent_kafka import Consumer, Message
from pydantic import ValidationError

from consumers.exceptions import NoAssignment, StoreError
from consumers.kafka import EndOffsets, Stopper, commit_offsets, drained, make_consumer, next_offsets, raise_on_fatal
from consumers.store.rows import BatchRows, Coordinates, Datum, datum_of
from consumers.store.writer import write_batch
from schemas.catalog import FAMILIES
from schemas.codec import AvroCodec
from schemas.datum import CodecDecoder  # read by the store as by the other stages behind the gatekeeper
from schemas.exceptions import EventValidationError, UnknownEventType, UnknownServiceCode, WireFormatError
from schemas.models import Event
from schemas.records import Aggregate, Alert
from topics.catalog import TopicSet
from topics.connection import KafkaConnection

log = logging.getLogger("simpul.consumers.store")

POISON = (WireFormatError, UnknownEventType, UnknownServiceCode, EventValidationError, ValidationError,
          UnicodeDecodeError, ValueError)

WRITER_SWITCH_INTERVAL_S = 0.0005  # sys.setswitchinterval while `run` overlaps decoding and writing
Decode = Callable[[bytes], Datum]  # Confluent-framed Avro -> (model class, datum); raises a POISON error


def transient(exc: BaseException) -> bool:
    """A write failure that retrying the batch may cure: the store unreachable or restarting, a lost connection,
    a deadlock or serialization failure (psycopg's OperationalError covers them, raw or wrapped by SQLAlchemy).
    Anything else is a statement the store refuses."""
    if isinstance(exc, sa.exc.DBAPIError):
        return isinstance(exc, sa.exc.OperationalError) or exc.connection_invalidated \
            or isinstance(exc.orig, psycopg.OperationalError)
    return isinstance(exc, psycopg.OperationalError)


def group_id(prefix: str) -> str:
    """The store sink's consumer group of a prefix."""
    return f"{prefix}-sink-store"


def source_topics(topics: TopicSet) -> dict[str, str]:
    """topic name -> kind (`events`, `agg`, `alerts`) of every topic the store sink reads."""
    kinds = {topics.events(f).name: "events" for f in FAMILIES}
    kinds.update({t.name: "agg" for t in topics.role("agg")})
    kinds[topics.alerts.name] = "alerts"
    return kinds


def model_decoder(decode_event: Callable[[bytes], Event]) -> Decode:
    """Any bytes -> event model function as a `Decode` (tests, other codecs)."""
    return lambda data: datum_of(decode_event(data))


def decoder(decode_event: Callable[[bytes], Event] | AvroCodec, *, validate: bool = False) -> Decode:
    """The `Decode` for what the composition root passes: an `AvroCodec` or its bound `decode` goes through
    `CodecDecoder` (`validate`: also run the model); any other function through `model_decoder`."""
    if isinstance(decode_event, AvroCodec):
        return CodecDecoder(decode_event, validate=validate)
    codec = getattr(decode_event, "__self__", None)
    if isinstance(codec, AvroCodec) and getattr(decode_event, "__func__", None) is AvroCodec.decode:
        return CodecDecoder(codec, validate=validate)
    return model_decoder(decode_event)


def fold(messages: Sequence[Message], kinds: dict[str, str], decode: Decode, now: datetime | None = None) -> BatchRows:
    """Decode a batch of records into rows (pure apart from `decode`); poison records are noted, not raised."""
    batch = BatchRows()
    stored_at = now or datetime.now(UTC)
    for m in messages:
        if m.error() is not None:
            continue
        at = Coordinates(m.topic(), m.partition(), m.offset())
        value = m.value()
        kind = kinds.get(at.topic)
        try:
            if value is None:
                raise ValueError("empty value (tombstone)")
            if kind == "events":
                model, record = decode(value)
                batch.add_datum(model, record, at, stored_at)
            elif kind == "agg":
                batch.add_aggregate(Aggregate.model_validate_json(value))
            elif kind == "alerts":
                batch.add_alert(Alert.model_validate_json(value))
            else:
                raise ValueError(f"topic {at.topic} is not one the store sink reads")
        except POISON as exc:
            reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            log.warning("poison record at %s skipped: %s", at, reason)
            batch.add_poison(at, reason)
    return batch


@dataclass
class SinkStats:
    """What one run did (the CLI prints it with --json)."""

    batches: int = 0
    records: int = 0
    rows: int = 0
    poison: int = 0
    poison_at: list[str] = field(default_factory=list)
    retries: int = 0
    recovered: int = 0  # batches written after at least one failed attempt (the store was unreachable)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"batches": self.batches, "records": self.records, "rows": self.rows, "poison": self.poison,
                "poison_at": self.poison_at[-20:], "retries": self.retries, "recovered": self.recovered,
                "seconds": round(self.seconds, 3)}


@dataclass
class _InFlight:
    """A batch whose transaction is running in the writer thread, and the records whose offsets it will commit."""

    future: Future[None]
    messages: Sequence[Message]
    batch: BatchRows


class StoreSink:
    """The loop around `fold` and `write_batch`; build it with `consumers.store.sink.build` or bootstrap."""

    def __init__(self, engine: sa.Engine, consumer: Consumer, kinds: dict[str, str], decode: Decode, *,
                 batch_size: int = 2000, poll_timeout: float = 1.0, write_retries: int | None = None,
                 retry_base_s: float = 0.5, retry_max_s: float = 10.0, retry_for_s: float = 300.0,
                 ends: EndOffsets | None = None) -> None:
        """`retry_for_s`: how long a batch's write is retried while the store is unreachable (a database restart,
        a failover) before the sink stops; `write_retries`, when given, caps the attempts as well."""
        self.engine = engine
        self.consumer = consumer
        self.kinds = kinds
        self.decode = decode
        self.batch_size = batch_size
        self.poll_timeout = poll_timeout
        self.write_retries = write_retries
        self.retry_base_s = retry_base_s
        self.retry_max_s = retry_max_s
        self.retry_for_s = retry_for_s
        self.stats = SinkStats()
        self.ends = ends

    def _write(self, batch: BatchRows) -> None:
        """One transaction of the batch's upserts; while the store is unreachable, or the transaction lost a
        deadlock, the whole batch is retried (the upserts are idempotent, so a commit whose answer was lost is
        harmless to repeat). A deadlock comes from a sink killed mid-transaction: its server process keeps its row
        locks until it notices the client is gone, while the restarted sink writes the same rows."""
        started, attempt = time.monotonic(), 0
        while True:
            attempt += 1
            try:
                with self.engine.begin() as conn:
                    write_batch(conn, batch)
            except (sa.exc.DBAPIError, psycopg.Error) as exc:  # psycopg's own: the PostgreSQL path's COPY and merge
                if not transient(exc):
                    raise  # a statement the store refuses is not an outage: retrying would not help
                waited = time.monotonic() - started
                if (self.write_retries is not None and attempt >= self.write_retries) or waited > self.retry_for_s:
                    raise StoreError(f"writing a batch of {batch.records} records failed {attempt} times over "
                                     f"{waited:.0f}s: {exc}; the offsets were not committed, so a restart replays "
                                     "it") from exc
                self.stats.retries += 1
                delay = min(self.retry_base_s * 2 ** (attempt - 1), self.retry_max_s)
                log.warning("store write failed (%s); retrying in %.1fs",
                            str(getattr(exc, "orig", exc)).strip().splitlines()[0], delay)
                time.sleep(delay)
                continue
            if attempt > 1:
                self.stats.recovered += 1
                log.warning("store reachable again: a batch of %d records written after %d attempts over %.1fs",
                            batch.records, attempt, time.monotonic() - started)
            return

    def _committed(self, messages: Sequence[Message], batch: BatchRows, *, asynchronous: bool = False) -> None:
        """The batch's transaction has committed: commit its offsets, then count it.

        `asynchronous` (the overlapped loop, between batches): the commit request is sent and not waited for; a
        lost one is superseded by the next batch's, and the loop's last commit is synchronous.
        """
        offsets = next_offsets(messages)
        if offsets:
            commit_offsets(self.consumer, offsets, asynchronous=asynchronous)
        self.stats.batches += 1
        self.stats.records += batch.records
        self.stats.rows += batch.row_count
        self.stats.poison += len(batch.poison)
        self.stats.poison_at.extend(str(at) for at, _ in batch.poison)
        log.info("batch %d: %d records, %d rows", self.stats.batches, len(messages), self.stats.rows)

    def process(self, messages: Sequence[Message]) -> BatchRows:
        """Fold, write in one transaction, then commit the offsets synchronously (the loop without overlap)."""
        batch = fold(messages, self.kinds, self.decode)
        self._write(batch)
        self._committed(messages, batch)
        return batch

    def _land(self, flight: _InFlight | None, writer: ThreadPoolExecutor, then: BatchRows | None = None,
              messages: Sequence[Message] = (), *, last: bool = False) -> _InFlight | None:
        """Wait for the batch in flight (its error is raised, its offsets stay uncommitted), hand `then` to the
        writer, and only then commit the landed batch's offsets, so the writer never idles during the commit."""
        if flight is not None:
            flight.future.result()
        following = _InFlight(writer.submit(self._write, then), messages, then) if then is not None else None
        if flight is not None:
            self._committed(flight.messages, flight.batch, asynchronous=not last)
        return following

    def run(self, *, once: bool = False, stop: Stopper | None = None, assignment_timeout: float = 60.0,
            max_seconds: float | None = None) -> SinkStats:
        """Consume until stopped (or, with `once`, until every assigned partition is drained)."""
        stop = stop if stop is not None else Stopper()  # not `stop or ..`: an unset Stopper is falsy
        if once and self.ends is None:
            raise ValueError("run(once=True) needs `ends` (an EndOffsets) to know when the topics are drained")
        started = time.monotonic()
        self.consumer.subscribe(sorted(self.kinds))
        writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="simpul-store-writer")
        flight: _InFlight | None = None
        switch = sys.getswitchinterval()
        # the writer thread mostly waits for the database; each time an answer arrives it needs the GIL from the
        # decoding main thread, which by default lets go only every 5 ms (a third of the throughput, measured)
        sys.setswitchinterval(min(switch, WRITER_SWITCH_INTERVAL_S))
        try:
            while not stop:
                # with a batch in flight take only what is already fetched: if that is nothing, land the batch now
                # (commit, offsets) rather than after a poll timeout
                wait = self.poll_timeout if flight is None else 0.0
                messages = self.consumer.consume(num_messages=self.batch_size, timeout=wait)
                for m in messages:
                    err = m.error()
                    if err is not None:
                        raise_on_fatal(m)
                        log.warning("Kafka: %s", err.str())
                good = [m for m in messages if m.error() is None]
                if good:
                    batch = fold(good, self.kinds, self.decode)  # while the previous batch is being written
                    previous, flight = flight, None
                    flight = self._land(previous, writer, batch, good)
                else:
                    previous, flight = flight, None
                    self._land(previous, writer, last=True)
                    if once:
                        if drained(self.consumer, self.ends):
                            break
                        if not self.consumer.assignment() and time.monotonic() - started > assignment_timeout:
                            raise NoAssignment(f"no partition assigned to group within {assignment_timeout:.0f}s; "
                                               "is another sink of the same group running?")
                if max_seconds is not None and time.monotonic() - started > max_seconds:
                    break
            previous, flight = flight, None
            self._land(previous, writer, last=True)
        finally:
            if flight is not None:  # leaving on an error: let the transaction finish, keep its offsets uncommitted
                flight.future.exception()
            writer.shutdown(wait=True)
            sys.setswitchinterval(switch)
            self.stats.seconds = time.monotonic() - started
            self.consumer.close()
        return self.stats


def build(engine: sa.Engine, kafka: KafkaConnection, topics: TopicSet,
          decode_event: Callable[[bytes], Event] | AvroCodec, *, batch_size: int = 2000, poll_timeout: float = 1.0,
          group: str | None = None, conf: dict[str, Any] | None = None, validate: bool = False) -> StoreSink:
    """A store sink for one prefix's topics (`conf`: extra librdkafka keys, e.g. from `config.consumer_conf`;
    `validate`: re-run each event's model, see `CodecDecoder`)."""
    consumer = make_consumer(kafka, group or group_id(topics.prefix), client_id="simpul-sink-store",
                             **{"max.poll.interval.ms": 600_000, **(conf or {})})
    return StoreSink(engine, consumer, source_topics(topics), decoder(decode_event, validate=validate),
                     batch_size=batch_size, poll_timeout=poll_timeout, ends=EndOffsets(kafka))
