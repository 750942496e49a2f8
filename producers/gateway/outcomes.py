"""What the gateway answers `GET /v1/events/{event_id}` and `GET /v1/rejections` from: an index of the regencies'
outcome topics (`<prefix>.outcomes.<code>`, written by the gatekeeper) in the gateway's own database.

Why an index filled by a follower, not a read of the topic per request: an event a regency sends with plain Kafka
never passes the gateway, so only the outcome topics know it; reading a topic for one event id means scanning a
partition, and `since` queries would scan all three. The follower (`OutcomeFollower`, a thread of the gateway
process) reads every outcome topic and writes each record, with the next offset of its partition, in one
transaction: the index and its position never disagree, a restart resumes where the database stands, and a new
database starts from the topics' beginning (their retention, 30 days). It uses no consumer group offsets, so
several gateways on one database (PostgreSQL) each read everything and the inserts of the same record collide
harmlessly (the record's source is the key).

Each answer is filtered by the regency of the API key in the query itself: another regency's records are never
read out of the database for a request.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, TopicPartition
from pydantic import ValidationError
from sqlalchemy.dialects import postgresql, sqlite

from schemas.feedback import OutcomeProblem, RegencyOutcome, parse_outcome
from topics.acls import gateway_outcomes_group
from topics.catalog import TopicSet
from topics.connection import KafkaConnection

log = logging.getLogger(__name__)
metadata = sa.MetaData()

regency_outcomes = sa.Table(
    "gateway_regency_outcomes", metadata,
    sa.Column("source", sa.String(300), primary_key=True),  # <ingress topic>:<partition>:<offset>, one per record
    sa.Column("regency_code", sa.String(4), nullable=False),
    sa.Column("event_id", sa.String(36), nullable=True),
    sa.Column("event_type", sa.String(100), nullable=True),
    sa.Column("case_id", sa.String(200), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(32), nullable=True),
    sa.Column("field", sa.String(200), nullable=True),
    sa.Column("problems", sa.Text, nullable=False, default="[]"),
    sa.Column("message", sa.Text, nullable=False, default=""),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_gateway_regency_outcomes_event", "regency_code", "event_id"),
    sa.Index("ix_gateway_regency_outcomes_at", "regency_code", "status", "at"),
)

positions = sa.Table(
    "gateway_outcome_positions", metadata,
    sa.Column("topic", sa.String(249), primary_key=True),
    sa.Column("partition", sa.Integer, primary_key=True),
    sa.Column("next_offset", sa.BigInteger, nullable=False),
)

KEEP = timedelta(days=30)
"""How long the index keeps a record: the outcome topics' retention."""


class OutcomeReader(Protocol):
    """The outcomes of the records one regency sent (never another's), newest last."""

    def event(self, regency_code: str, event_id: str) -> list[RegencyOutcome]: ...

    def rejections(self, regency_code: str, since: datetime, after: str | None, limit: int) -> list[RegencyOutcome]: ...


class OutcomeIndex:
    """The index over SQLAlchemy Core (the gateway's database: SQLite or PostgreSQL)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._created = False

    def create(self) -> None:
        if not self._created:
            metadata.create_all(self.engine)
            self._created = True

    # -- reading (per request) ---------------------------------------------------------------------------------
    def event(self, regency_code: str, event_id: str) -> list[RegencyOutcome]:
        self.create()
        query = (sa.select(regency_outcomes)
                 .where(regency_outcomes.c.regency_code == regency_code, regency_outcomes.c.event_id == event_id)
                 .order_by(regency_outcomes.c.at, regency_outcomes.c.source))
        with self.engine.connect() as conn:
            return [_outcome(r) for r in conn.execute(query).mappings()]

    def rejections(self, regency_code: str, since: datetime, after: str | None, limit: int) -> list[RegencyOutcome]:
        """Rejections of `regency_code` at or after `since`, oldest first; with `after` (a source), those at
        `since` only if their source sorts after it: the cursor of the previous page."""
        self.create()
        since = _utc(since)
        c = regency_outcomes.c
        later = c.at >= since if after is None else sa.or_(c.at > since, sa.and_(c.at == since, c.source > after))
        query = (sa.select(regency_outcomes)
                 .where(c.regency_code == regency_code, c.status == "rejected", later)
                 .order_by(c.at, c.source).limit(limit))
        with self.engine.connect() as conn:
            return [_outcome(r) for r in conn.execute(query).mappings()]

    # -- writing (the follower) --------------------------------------------------------------------------------
    def positions(self) -> dict[tuple[str, int], int]:
        self.create()
        with self.engine.connect() as conn:
            return {(r.topic, r.partition): r.next_offset for r in conn.execute(sa.select(positions))}

    def write(self, outcomes: Sequence[RegencyOutcome], next_offsets: dict[tuple[str, int], int]) -> None:
        """Add `outcomes` (a record already there is kept) and move the positions, in one transaction."""
        self.create()
        rows = [_row(o) for o in outcomes]
        moved = [{"topic": t, "partition": p, "next_offset": o} for (t, p), o in next_offsets.items()]
        insert = sqlite.insert if self.engine.dialect.name == "sqlite" else postgresql.insert
        with self.engine.begin() as conn:
            if rows:
                conn.execute(insert(regency_outcomes).on_conflict_do_nothing(index_elements=["source"]), rows)
            if moved:
                stmt = insert(positions)
                conn.execute(stmt.on_conflict_do_update(
                    index_elements=["topic", "partition"],
                    set_={"next_offset": sa.func.max(positions.c.next_offset, stmt.excluded.next_offset)
                          if self.engine.dialect.name == "sqlite"
                          else sa.func.greatest(positions.c.next_offset, stmt.excluded.next_offset)}), moved)

    def prune(self, now: datetime | None = None) -> int:
        """Forget records older than the topics keep them."""
        self.create()
        with self.engine.begin() as conn:
            return conn.execute(regency_outcomes.delete().where(
                regency_outcomes.c.at < _utc(now or datetime.now(UTC)) - KEEP)).rowcount


def _row(o: RegencyOutcome) -> dict[str, Any]:
    return {"source": o.source, "regency_code": o.regency_code, "event_id": o.event_id, "event_type": o.event_type,
            "case_id": o.case_id, "status": o.status.value, "reason": o.reason.value if o.reason else None,
            "field": o.field, "problems": json.dumps([p.model_dump() for p in o.problems]), "message": o.message,
            "at": _utc(o.at)}


def _outcome(r: Any) -> RegencyOutcome:
    return RegencyOutcome(regency_code=r["regency_code"], event_id=r["event_id"], event_type=r["event_type"],
                          case_id=r["case_id"], status=r["status"], reason=r["reason"], field=r["field"],
                          problems=[OutcomeProblem(**p) for p in json.loads(r["problems"])], message=r["message"],
                          source=r["source"], at=_utc(r["at"]))


def _utc(at: datetime) -> datetime:
    """Aware UTC (SQLite hands back naive datetimes; they were written in UTC)."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


@dataclass
class OutcomeFollower:
    """The thread that keeps the index current with every outcome topic of the prefix (see the module)."""

    index: OutcomeIndex
    connection: KafkaConnection
    topics: TopicSet
    batch: int = 500

    def __post_init__(self) -> None:
        self._regency_of = {t.name: t.labels["regency"] for t in self.topics.role("outcomes")}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.caught_up = threading.Event()
        """Set once every partition was read to the end it had when the follower started (for tests and health)."""

    def start(self) -> None:
        self.index.create()
        self._thread = threading.Thread(target=self._run, name="gateway-outcomes", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        delay = 1.0
        while not self._stop.is_set():
            try:
                self._follow()
                return
            except Exception as exc:  # noqa: BLE001 - the broker or the database away: retry, never end the gateway
                log.warning("following the outcome topics failed (%s: %s); retrying in %.0f s",
                            type(exc).__name__, exc, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, 30.0)

    def _follow(self) -> None:
        names = [t.name for t in self.topics.role("outcomes")]
        consumer = Consumer(self.connection.librdkafka(**{
            "group.id": gateway_outcomes_group(self.topics.prefix), "client.id": "simpul-gateway-outcomes",
            "enable.auto.commit": False, "auto.offset.reset": "earliest", "enable.partition.eof": False,
            # small buffers: the follower shares the gateway's process, whose memory per request is bounded
            "fetch.wait.max.ms": 100, "queued.max.messages.kbytes": 1024, "fetch.max.bytes": 1_048_576,
            "max.partition.fetch.bytes": 262_144}))
        try:
            assignment, ends = self._assignment(consumer, names)
            consumer.assign(assignment)
            pruned = 0.0
            while not self._stop.is_set():
                msgs = consumer.consume(self.batch, timeout=0.2)
                self._absorb(msgs)
                for m in msgs:
                    if m.error() is None and (m.topic(), m.partition()) in ends \
                            and m.offset() >= ends[(m.topic(), m.partition())] - 1:
                        del ends[(m.topic(), m.partition())]
                if not msgs and ends:
                    for tp in consumer.position([TopicPartition(t, p) for t, p in ends]):
                        if tp.offset >= ends[(tp.topic, tp.partition)]:
                            del ends[(tp.topic, tp.partition)]
                if not ends:
                    self.caught_up.set()
                if time.monotonic() - pruned > 3600:
                    self.index.prune()
                    pruned = time.monotonic()
        finally:
            consumer.close()

    def _assignment(self, consumer: Consumer, names: list[str]) -> tuple[list[TopicPartition], dict[tuple[str, int], int]]:
        """Every partition of the outcome topics, from the index's position (or the beginning), and where each
        ended at start."""
        known = self.index.positions()
        metadata = consumer.list_topics(timeout=10)
        assignment: list[TopicPartition] = []
        ends: dict[tuple[str, int], int] = {}
        for name in names:
            topic = metadata.topics.get(name)
            if topic is None or topic.error is not None:
                raise KafkaException(KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART,
                                                f"{name}: {topic.error if topic else 'no such topic'} "
                                                "(run `simpul topics apply`)"))
            for p in topic.partitions:
                start = known.get((name, p), OFFSET_BEGINNING)
                assignment.append(TopicPartition(name, p, start))
                _low, high = consumer.get_watermark_offsets(TopicPartition(name, p), timeout=10)
                if high > max(start, 0):
                    ends[(name, p)] = high
        return assignment, ends

    def _absorb(self, msgs: list[Message]) -> None:
        outcomes: list[RegencyOutcome] = []
        nxt: dict[tuple[str, int], int] = {}
        for m in msgs:
            err = m.error()
            if err is not None:
                if err.fatal() or not err.retriable():
                    raise KafkaException(err)
                log.warning("outcome topics: %s", err.str())
                continue
            nxt[(m.topic(), m.partition())] = m.offset() + 1
            try:
                outcome = parse_outcome(m.value() or b"")
            except ValidationError:
                log.warning("skipped a record of %s:%d:%d that is not a RegencyOutcome", m.topic(), m.partition(),
                            m.offset())
                continue
            if outcome.regency_code != self._regency_of.get(m.topic()):  # a topic tells of its own regency only
                log.warning("skipped a record of %s:%d:%d about another regency", m.topic(), m.partition(),
                            m.offset())
                continue
            outcomes.append(outcome)
        if nxt:
            self.index.write(outcomes, nxt)
