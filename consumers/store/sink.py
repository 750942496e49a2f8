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
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from confluent_kafka import Consumer, Message
from pydantic import ValidationError

from consumers.exceptions import NoAssignment, StoreError
from consumers.kafka import EndOffsets, Stopper, drained, is_fatal, make_consumer, next_offsets
from consumers.store.rows import BatchRows, Coordinates, Datum, datum_of
from consumers.store.writer import write_batch
from schemas.catalog import FAMILIES
from schemas.codec import AvroCodec
from schemas.exceptions import EventValidationError, UnknownEventType, UnknownServiceCode, WireFormatError
from schemas.models import Event
from schemas.records import Aggregate, Alert
from topics.catalog import TopicSet
from topics.connection import KafkaConnection

log = logging.getLogger("simpul.consumers.store")

POISON = (WireFormatError, UnknownEventType, UnknownServiceCode, EventValidationError, ValidationError,
          UnicodeDecodeError, ValueError)

Decode = Callable[[bytes], Datum]  # Confluent-framed Avro -> (model class, valid datum); raises a POISON error


def group_id(prefix: str) -> str:
    """The store sink's consumer group of a prefix."""
    return f"{prefix}-sink-store"


def source_topics(topics: TopicSet) -> dict[str, str]:
    """topic name -> kind (`events`, `agg`, `alerts`) of every topic the store sink reads."""
    kinds = {topics.events(f).name: "events" for f in FAMILIES}
    kinds.update({t.name: "agg" for t in topics.role("agg")})
    kinds[topics.alerts.name] = "alerts"
    return kinds


def codec_decoder(codec: AvroCodec) -> Decode:
    """Decode with the codec to the Avro datum and check it against the event's model, keeping the datum.

    The same acceptance as `codec.decode` (an invalid datum raises `EventValidationError`), but the rows are built
    from the datum: the model is only the validator, never dumped back to JSON.
    """
    def decode(data: bytes) -> Datum:
        event_type, record = codec.decode_record(data)
        model = codec.models[event_type]
        model.from_avro(record)
        return model, record

    return decode


def model_decoder(decode_event: Callable[[bytes], Event]) -> Decode:
    """Any bytes -> event model function as a `Decode` (tests, other codecs)."""
    return lambda data: datum_of(decode_event(data))


def decoder(decode_event: Callable[[bytes], Event] | AvroCodec) -> Decode:
    """The fastest `Decode` equivalent to `decode_event`: an `AvroCodec`, or its bound `decode` (what the composition
    root passes), is used through `codec_decoder`; any other function through `model_decoder`."""
    if isinstance(decode_event, AvroCodec):
        return codec_decoder(decode_event)
    codec = getattr(decode_event, "__self__", None)
    if isinstance(codec, AvroCodec) and getattr(decode_event, "__func__", None) is AvroCodec.decode:
        return codec_decoder(codec)
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
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"batches": self.batches, "records": self.records, "rows": self.rows, "poison": self.poison,
                "poison_at": self.poison_at[-20:], "retries": self.retries, "seconds": round(self.seconds, 3)}


@dataclass
class _InFlight:
    """A batch whose transaction is running in the writer thread, and the records whose offsets it will commit."""

    future: Future[None]
    messages: Sequence[Message]
    batch: BatchRows


class StoreSink:
    """The loop around `fold` and `write_batch`; build it with `consumers.store.sink.build` or bootstrap."""

    def __init__(self, engine: sa.Engine, consumer: Consumer, kinds: dict[str, str], decode: Decode, *,
                 batch_size: int = 2000, poll_timeout: float = 1.0, write_retries: int = 5, retry_base_s: float = 0.5,
                 ends: EndOffsets | None = None) -> None:
        self.engine = engine
        self.consumer = consumer
        self.kinds = kinds
        self.decode = decode
        self.batch_size = batch_size
        self.poll_timeout = poll_timeout
        self.write_retries = write_retries
        self.retry_base_s = retry_base_s
        self.stats = SinkStats()
        self.ends = ends

    def _write(self, batch: BatchRows) -> None:
        for attempt in range(1, self.write_retries + 1):
            try:
                with self.engine.begin() as conn:
                    write_batch(conn, batch)
                return
            except sa.exc.OperationalError as exc:  # connection lost, database locked: retry the whole batch
                if attempt == self.write_retries:
                    raise StoreError(f"writing a batch of {batch.records} records failed {attempt} times: {exc}; "
                                     "the offsets were not committed, so a restart replays it") from exc
                self.stats.retries += 1
                delay = self.retry_base_s * 2 ** (attempt - 1)
                log.warning("store write failed (%s); retrying in %.1fs", exc.orig if hasattr(exc, "orig") else exc, delay)
                time.sleep(delay)

    def _committed(self, messages: Sequence[Message], batch: BatchRows) -> None:
        """The batch's transaction has committed: commit its offsets (synchronously), then count it."""
        offsets = next_offsets(messages)
        if offsets:
            self.consumer.commit(offsets=offsets, asynchronous=False)
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

    def _land(self, flight: _InFlight | None) -> None:
        """Wait for a batch's transaction; raises its error (offsets uncommitted), else commits its offsets."""
        if flight is not None:
            flight.future.result()
            self._committed(flight.messages, flight.batch)

    def run(self, *, once: bool = False, stop: Stopper | None = None, assignment_timeout: float = 60.0,
            max_seconds: float | None = None) -> SinkStats:
        """Consume until stopped (or, with `once`, until every assigned partition is drained)."""
        stop = stop or Stopper()
        if once and self.ends is None:
            raise ValueError("run(once=True) needs `ends` (an EndOffsets) to know when the topics are drained")
        started = time.monotonic()
        self.consumer.subscribe(sorted(self.kinds))
        writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="simpul-store-writer")
        flight: _InFlight | None = None
        try:
            while not stop:
                messages = self.consumer.consume(num_messages=self.batch_size, timeout=self.poll_timeout)
                for m in messages:
                    err = m.error()
                    if err is not None:
                        if is_fatal(err):
                            raise StoreError(f"Kafka error on {m.topic()}: {err.str()}")
                        log.warning("Kafka: %s", err.str())
                good = [m for m in messages if m.error() is None]
                if good:
                    batch = fold(good, self.kinds, self.decode)  # while the previous batch is being written
                    previous, flight = flight, None
                    self._land(previous)
                    flight = _InFlight(writer.submit(self._write, batch), good, batch)
                else:
                    previous, flight = flight, None
                    self._land(previous)
                    if once:
                        if drained(self.consumer, self.ends):
                            break
                        if not self.consumer.assignment() and time.monotonic() - started > assignment_timeout:
                            raise NoAssignment(f"no partition assigned to group within {assignment_timeout:.0f}s; "
                                               "is another sink of the same group running?")
                if max_seconds is not None and time.monotonic() - started > max_seconds:
                    break
            previous, flight = flight, None
            self._land(previous)
        finally:
            if flight is not None:  # leaving on an error: let the transaction finish, keep its offsets uncommitted
                flight.future.exception()
            writer.shutdown(wait=True)
            self.stats.seconds = time.monotonic() - started
            self.consumer.close()
        return self.stats


def build(engine: sa.Engine, kafka: KafkaConnection, topics: TopicSet,
          decode_event: Callable[[bytes], Event] | AvroCodec, *, batch_size: int = 2000, poll_timeout: float = 1.0,
          group: str | None = None, conf: dict[str, Any] | None = None) -> StoreSink:
    """A store sink for one prefix's topics (`conf`: extra librdkafka keys, e.g. from `config.consumer_conf`)."""
    consumer = make_consumer(kafka, group or group_id(topics.prefix), client_id="simpul-sink-store",
                             **{"max.poll.interval.ms": 600_000, **(conf or {})})
    return StoreSink(engine, consumer, source_topics(topics), decoder(decode_event), batch_size=batch_size,
                     poll_timeout=poll_timeout, ends=EndOffsets(kafka))
