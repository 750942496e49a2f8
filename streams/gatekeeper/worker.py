"""The gatekeeper worker: reads every ingress topic in batches, feeds `screen`, writes the outcomes.

It runs on librdkafka (confluent-kafka) rather than a Faust agent because the gatekeeper is the one stage that
must keep up with a replay of a year: Faust's per-message delivery alone costs ~250 µs a record on our hardware
(3,700 records/s with an agent that does nothing), while a librdkafka batch loop leaves the time to the work.
The guarantees are the same as the other processors': at least once plus idempotence.

One batch: consume up to `gatekeeper_batch` records, screen each, produce outcomes, the regency's outcome record
(`<prefix>.outcomes.<regency>`, key event_id: what became of the record, for the regency that sent it) and dedup
changelog entries,
`flush` (every record acknowledged by the broker, acks=all, idempotent producer), then store the input offsets for
the next commit and write the dedup entries to the local cache. A crash anywhere before the offsets are committed
replays the batch; the output tail read at start-up (`recovery.read_tail`) finds the records already written.
Several workers with the same prefix form one consumer group (`<prefix>-gatekeeper`); the range assignor gives
partition p of every ingress topic to the same worker, which then holds changelog partition p.
"""

from __future__ import annotations

import logging
import signal
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from schemas.codec import AvroCodec
from schemas.dlq_seal import DlqSeal
from schemas.nik import redact_niks
from streams.config import StreamsConfig, StreamsSettings
from streams.exceptions import StateWriteError, TransientFailure
from streams.gatekeeper.dedup import DedupTable, entry_key, entry_value
from streams.gatekeeper.fast_check import ingress_check
from streams.gatekeeper.logic import (AlreadyDone, Counters, DedupMemory, RecentSources, Rejected, Routed, Routing,
                                      decoder_of, feedback, screen)
from streams.gatekeeper.recovery import Recovered, release_freed_memory
from streams.runtime import InternalTopics, app_id
from topics.catalog import TopicSet
from topics.connection import KafkaConnection

log = logging.getLogger("simpul.streams.gatekeeper")
T = TypeVar("T")

MAX_IN_FLIGHT = 4  # full batches written but not yet acknowledged: the broker's round trip overlaps the next batch
MAX_IN_FLIGHT_BATCHES = 64  # live batches are small (a few records each) and count as their share of a full one
SEND_NOW_S = 0.001
"""A batch smaller than a full one means the worker has caught up: its writes are sent at once instead of after
the linger (librdkafka treats linger as over while flush() runs; this long is enough for its threads to wake
and send). A catch-up, in full batches, keeps the linger and its fuller requests."""
# linger 20 ms: live records spread over ~46 output partitions, a record or two per partition per request; at a
# fixed 3,000 records/s it gave the lowest p99 of 5, 20, 50 and 100 ms on the 2-core bench host
# (docs/performance.md); a catch-up fills batches long before the linger ends
PRODUCER_SETTINGS = {
    "enable.idempotence": True, "acks": "all", "linger.ms": 20, "compression.type": "lz4",
    "batch.size": 1_000_000, "queue.buffering.max.messages": 1_000_000, "queue.buffering.max.kbytes": 1_048_576,
}


def producer_settings(group: str) -> dict[str, Any]:
    """The librdkafka settings of the gatekeeper's producer."""
    return {**PRODUCER_SETTINGS, "client.id": f"{group}-producer"}


IDLE_WAIT_S = 0.05  # how long the loop blocks for the first record when nothing is fetched (then serves acks)


def consumer_settings(group: str, instance: str) -> dict[str, Any]:
    """The librdkafka settings of the gatekeeper's ingress consumer (one group member per instance)."""
    return {
        "group.id": group, "client.id": f"{group}-{instance}",
        "enable.auto.commit": True, "enable.auto.offset.store": False, "auto.commit.interval.ms": 1000,
        "auto.offset.reset": "earliest", "partition.assignment.strategy": "range",
        # a killed gatekeeper's partitions wait out the session timeout before another member (or its restart)
        # gets them: at 30 s, the soak's windows with a gatekeeper kill had a p99 of 27-33 s to the stored row;
        # heartbeats come from librdkafka's own thread, so a long batch does not miss them (the sinks use 10 s too)
        "max.poll.interval.ms": 600_000, "session.timeout.ms": 10_000,
        # a fetch waits for 64 KiB or 10 ms: live traffic trickles into 105 partitions, and answering every
        # fetch at the first byte kept the broker busy with near-empty fetches; at live rates the wait is what a
        # record waits for, so it is short (50 ms was a third of the p99 budget at 200 events/s, docs/performance.md)
        "fetch.wait.max.ms": 10, "fetch.min.bytes": 65_536, "queued.max.messages.kbytes": 262_144,
    }


@dataclass(frozen=True)
class GatekeeperTopics:
    """The topics one gatekeeper reads and writes, and its consumer group: names only, no cluster needed."""

    routing: Routing
    ingress: list[str]
    group: str
    changelog: str
    changelog_partitions: int

    @classmethod
    def of(cls, topics: TopicSet, settings: StreamsSettings) -> GatekeeperTopics:
        group = app_id("gatekeeper", settings)
        ingress = topics.role("ingress")
        return cls(routing=Routing.from_topic_set(topics), ingress=[t.name for t in ingress], group=group,
                   changelog=f"{group}-dedup-changelog", changelog_partitions=ingress[0].partitions)

    @property
    def outputs(self) -> list[str]:
        """The canonical topics and the DLQ: the tail read at start-up (`recovery.read_tail`)."""
        return [*self.routing.canonical.values(), self.routing.dlq]

    def internal(self) -> InternalTopics:
        """The dedup changelog (compacted, one partition per ingress partition number)."""
        return {self.changelog: (self.changelog_partitions, True)}


@dataclass
class _Batch:
    """One batch in flight: its writes not yet acknowledged, the input offsets and dedup entries it commits."""

    offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    entries: dict[bytes, bytes] = field(default_factory=dict)
    changelog_next: dict[int, int] = field(default_factory=dict)
    pending: int = 0
    records: int = 0
    error: str | None = None

    def output(self, err: KafkaError | None, msg: Message) -> None:
        self.pending -= 1
        if err is not None and self.error is None:
            self.error = f"{msg.topic()}: {err.str()}"

    def changelog(self, err: KafkaError | None, msg: Message) -> None:
        self.output(err, msg)
        if err is None:
            p, nxt = msg.partition(), msg.offset() + 1
            if nxt > self.changelog_next.get(p, 0):
                self.changelog_next[p] = nxt


class GatekeeperWorker:
    """One gatekeeper instance; `run()` blocks until `stop()` (SIGINT/SIGTERM) or a fatal error."""

    def __init__(self, config: StreamsConfig, topics: GatekeeperTopics, *, connection: KafkaConnection,
                 codec: AvroCodec, hmac_key: bytes, seal: DlqSeal, table: DedupTable, recovered: Recovered,
                 producer: Producer, consumer: Consumer) -> None:
        """Parts only, no I/O: the composition root (`simpul.bootstrap.gatekeeper`) creates the changelog, reads
        the output tail and opens the table and the clients."""
        self.config = config
        self.connection = connection
        self.routing = topics.routing
        self.ingress = topics.ingress
        self.group = topics.group
        self.changelog = topics.changelog
        self.recovered = recovered
        self.codec = codec
        self.check = ingress_check(codec.catalog)  # the compiled validation path, generated once
        self.decode = decoder_of(codec)
        self.hmac_key = hmac_key
        self.seal = seal
        self.table = table
        self.memory = DedupMemory(table, config.dedup_horizon_ms, recovered.event_sources)  # type: ignore[arg-type]
        self.counters = Counters()
        self.written = RecentSources()
        self._stopping = False
        self._restored: set[int] = set()
        self._in_flight: deque[_Batch] = deque()
        self._broken = False  # the dedup cache refused a write: settle nothing more
        self.producer = producer
        self.consumer = consumer

    # ---- the loop -------------------------------------------------------------------------------------------
    def run(self) -> None:
        self.consumer.subscribe(self.ingress, on_assign=self._on_assign, on_revoke=self._on_revoke,
                                on_lost=self._on_revoke)
        last_report = time.monotonic()
        try:
            while not self._stopping:
                msgs = self._next_batch()
                if msgs:
                    self._process(msgs)
                elif self._in_flight:
                    self._settle()
                if time.monotonic() - last_report >= 10.0:
                    self.report()
                    last_report = time.monotonic()
        finally:
            self.close()

    def _next_batch(self) -> list[Message]:
        """Up to a batch of what is fetched already; when nothing is, the first record as soon as it comes, with
        whatever came with it. librdkafka's consume(n, timeout) returns before the timeout only with n records, so
        a batch-sized consume with a timeout holds every live record for that timeout."""
        msgs = self.consumer.consume(self.config.gatekeeper_batch, timeout=0)
        if msgs:
            return msgs
        first = self.consumer.consume(1, timeout=IDLE_WAIT_S)
        if not first:
            return first
        return first + self.consumer.consume(self.config.gatekeeper_batch - 1, timeout=0)

    def _process(self, msgs: list[Message]) -> None:
        now = datetime.now(UTC)
        now_ms = int(now.timestamp() * 1000)
        batch = _Batch()
        produce, stage = self._produce, self.table.stage

        def first_seen(event_id: str) -> str | None:
            return self.memory.first_seen(event_id, now_ms)

        options = {"codec": self.codec, "routing": self.routing, "hmac_key": self.hmac_key, "seal": self.seal,
                   "first_seen": first_seen, "already_done": self._already_done, "now": now, "check": self.check,
                   "decode": self.decode}
        at = now.isoformat(timespec="milliseconds")
        routing, done_before = self.routing, self.recovered.done_sources

        for m in msgs:
            err = m.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    continue
                if err.fatal() or not err.retriable():
                    raise TransientFailure(f"consuming the ingress topics failed: {err.str()}")
                log.warning("consumer: %s", err.str())
                continue
            topic, partition, offset = m.topic(), m.partition(), m.offset()
            args = (topic, partition, offset, m.key(), m.value(), m.headers())
            try:  # the retry loop only once something failed: it costs a frame and a clock read per record
                outcome = screen(*args, **options)
            except Exception:
                outcome = self._retrying(screen, *args, **options)
            if isinstance(outcome, Routed):
                produce(outcome.topic, outcome.key, outcome.value, outcome.headers, batch, batch.output)
                key, value = entry_key(outcome.event_id), entry_value(now_ms, outcome.source)
                stage(key, value)
                batch.entries[key] = value
                produce(self.changelog, key, value, None, batch, batch.changelog, partition)
                self.written.add(outcome.source)
            elif isinstance(outcome, Rejected):
                produce(outcome.topic, outcome.key, outcome.value, outcome.headers, batch, batch.output)
                self.written.add(outcome.source)
                log.debug("rejected %s: %s %s", outcome.source, outcome.reason.value, outcome.message)
            self.counters.count(outcome)
            if isinstance(outcome, AlreadyDone) and outcome.source in done_before:
                # output written before a crash, its outcome record perhaps not: decide again, write that alone
                outcome = self._retrying(screen, *args, **{**options, "already_done": _never})
            told = feedback(outcome, topic, routing, at)
            if told is not None:
                produce(told[0], told[1], told[2], None, batch, batch.output)
            batch.offsets[(topic, partition)] = offset + 1
        batch.records = len(msgs)
        self._in_flight.append(batch)
        if len(msgs) < self.config.gatekeeper_batch:
            self.producer.flush(SEND_NOW_S)
        self._settle(limit=MAX_IN_FLIGHT * self.config.gatekeeper_batch)

    def _settle(self, limit: int | None = None, timeout: float = 120.0) -> None:
        """Serve delivery reports and commit the batches whose writes are all acknowledged, oldest first; with a
        `limit`, wait until no more than that many records (and MAX_IN_FLIGHT_BATCHES batches) remain in flight: four
        live batches of a few records each, counted as four full ones, held the next live records for an ack."""
        if self._broken:  # closing (or revoked) after a refused cache write: the rest is read again on restart
            return
        started = time.monotonic()
        block = limit is not None
        while True:
            # waits only when over the limit: a live batch must not sleep out the timeout before the next is read
            self.producer.poll(0.01 if block and self._over(limit) else 0)  # type: ignore[arg-type]
            while self._in_flight and self._in_flight[0].pending == 0:
                done = self._in_flight.popleft()
                if done.error is not None:
                    raise TransientFailure(f"writing the gatekeeper's output failed ({done.error}); the batch was "
                                           "not committed and is read again after a restart")
                try:
                    self.table.commit(done.entries, done.changelog_next)
                except StateWriteError:
                    # no later batch may store its offsets past this one's, nor its cache positions past these
                    # entries: stop here, the restart reads this batch again (its outputs are found written)
                    self._broken = True
                    raise
                if done.offsets:
                    try:
                        self.consumer.store_offsets(
                            offsets=[TopicPartition(t, p, o) for (t, p), o in done.offsets.items()])
                    except KafkaException as exc:  # partitions lost meanwhile: their new owner replays, deduped
                        log.warning("offsets of a settled batch not stored: %s", exc)
            if not block or not self._over(limit):  # type: ignore[arg-type]
                return
            if time.monotonic() - started > timeout:
                raise TransientFailure(f"the broker acknowledged no write for {timeout:.0f} s; check Kafka, then "
                                       "restart the gatekeeper")

    def _over(self, limit: int) -> bool:
        return bool(self._in_flight) and (len(self._in_flight) > MAX_IN_FLIGHT_BATCHES or limit == 0
                                          or sum(b.records for b in self._in_flight) > limit)

    def _produce(self, topic: str, key: bytes | None, value: bytes | None, headers: Any, batch: _Batch,
                 on_delivery: Callable[[KafkaError | None, Message], None], partition: int | None = None) -> None:
        batch.pending += 1
        while True:
            try:
                if partition is None:
                    self.producer.produce(topic, value, key, headers=headers, on_delivery=on_delivery)
                else:
                    self.producer.produce(topic, value, key, partition=partition, on_delivery=on_delivery)
                return
            except BufferError:  # the local queue is full: let deliveries drain it
                self.producer.poll(0.05)

    def _already_done(self, source: str) -> bool:
        return source in self.recovered.done_sources or source in self.written

    def _retrying(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`call(*args, **kwargs)` until it succeeds: anything raised here is transient (registry or broker
        unreachable), since poison records become DLQ outcomes, so the partition waits rather than skipping the
        record; after five minutes the worker stops (its restart resumes at the committed offsets)."""
        started, delay = time.monotonic(), 0.5
        while True:
            try:
                return call(*args, **kwargs)
            except Exception as exc:
                where = ":".join(str(a) for a in args[:3])
                why = redact_niks(str(exc))  # whatever failed, a NIK it may quote stays out of the log
                if time.monotonic() - started > 300.0 or self._stopping:
                    raise TransientFailure(f"screening {where} kept failing for {time.monotonic() - started:.0f}s: "
                                           f"{why}; check the registry and the broker, then restart") from None
                log.warning("screening %s failed (%s); retrying in %.1fs", where, why, delay)
                time.sleep(delay)
                delay = min(delay * 2, 10.0)

    # ---- group membership -----------------------------------------------------------------------------------
    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        numbers = {tp.partition for tp in partitions} - self._restored
        if numbers:
            self.table.restore(self.connection, self.changelog, numbers)
            self._restored |= numbers
            release_freed_memory()
        log.info("assigned %d ingress partitions", len(partitions))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # every batch read so far is settled (acknowledged, offsets stored) before the partitions go
        self._settle(limit=0)
        self._restored -= {tp.partition for tp in partitions}
        log.info("revoked %d ingress partitions", len(partitions))

    # ---- life cycle -----------------------------------------------------------------------------------------
    def report(self) -> None:
        c = self.counters
        log.info("gatekeeper: routed=%d rejected=%s duplicates=%d already_done=%d", c.routed, c.rejected,
                 c.duplicates, c.already_done)

    def stop(self, *_: object) -> None:
        self._stopping = True

    def close(self) -> None:
        try:
            self._settle(limit=0)
            self.consumer.close()  # commits the stored offsets and leaves the group
        finally:
            self.table.close()
            self.report()


def _never(_source: str) -> bool:
    return False


def run_until_signalled(worker: GatekeeperWorker) -> None:
    """Run one gatekeeper until SIGINT/SIGTERM; a fatal error raises (the process exits non-zero)."""
    signal.signal(signal.SIGINT, worker.stop)
    signal.signal(signal.SIGTERM, worker.stop)
    log.info("gatekeeper %s started on %d ingress topics", worker.group, len(worker.ingress))
    worker.run()
