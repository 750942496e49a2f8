"""The audit trail of ops actions: every DLQ replay and edit, every account created or disabled.

An entry is first written to the dashboard database (so nothing done goes unrecorded while the broker is away),
then sent to the audit topic with acks=all and marked as sent. Entries not yet sent go with the next publish, from
whichever process makes it (the dashboard retries every collection round), so the topic gets every entry at least
once; a reader that meets an `entry_id` twice keeps one.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from confluent_kafka import Producer

from monitor.dlq import DlqBrowser, ReplayError
from monitor.exceptions import MonitorError
from monitor.opsdb import as_utc, audit
from schemas.audit import AuditAction, AuditEntry, AuditResult
from schemas.nik import redact_niks
from topics.connection import KafkaConnection

MAX_DETAIL = 500


class AuditPublishError(MonitorError):
    """The audit topic did not acknowledge an entry; it stays in the database and goes with the next publish."""


def clean_detail(text: str) -> str:
    """One line, bounded, NIK-shaped digit runs masked: an error text quoting an event keeps no NIK in the trail."""
    return redact_niks(" ".join(text.split()))[:MAX_DETAIL]


def entry_of(row: sa.RowMapping) -> AuditEntry:
    """The entry of one row of the ops database (the transparency log checks its ops leaves against these)."""
    return AuditEntry(entry_id=row["entry_id"], at=as_utc(row["at"]), actor=row["actor"], role=row["role"],
                      action=row["action"], target=row["target"], before_digest=row["before_digest"],
                      after_digest=row["after_digest"], result=row["result"], detail=row["detail"])


class AuditLog:
    """Writes entries to the dashboard database and publishes them to the audit topic."""

    def __init__(self, engine: sa.Engine, kafka: KafkaConnection, topic: str) -> None:
        self.engine, self.kafka, self.topic = engine, kafka, topic
        self._producer: Producer | None = None
        self._lock = threading.Lock()

    def record(self, *, actor: str, role: str, action: AuditAction, target: str, result: AuditResult,
               before_digest: str | None = None, after_digest: str | None = None, detail: str = "") -> AuditEntry:
        """Write one entry to the database (not yet to the topic: `publish_pending` does that)."""
        entry = AuditEntry(entry_id=str(uuid.uuid4()), at=datetime.now(UTC), actor=actor, role=role, action=action,
                           target=target, before_digest=before_digest, after_digest=after_digest, result=result,
                           detail=clean_detail(detail))
        with self.engine.begin() as conn:
            conn.execute(audit.insert().values(**entry.model_dump(mode="python")))
        return entry

    def publish_pending(self, timeout_s: float = 30.0) -> int:
        """Send every entry not yet on the audit topic, oldest first; the number sent.

        Raises AuditPublishError when the broker does not acknowledge them; they are tried again next time.
        """
        with self._lock:
            with self.engine.connect() as conn:
                rows = conn.execute(sa.select(audit).where(audit.c.published_at.is_(None))
                                    .order_by(audit.c.seq).limit(1000)).mappings().all()
            if not rows:
                return 0
            producer = self._producer_for_publish()
            acked: list[str] = []
            failures: list[str] = []

            def done(err: Any, msg: Any) -> None:  # noqa: ANN401 - confluent_kafka callback types
                if err is None:
                    acked.append(msg.key().decode())
                else:
                    failures.append(str(err))

            for row in rows:
                entry = entry_of(row)
                producer.produce(self.topic, key=entry.key(), value=entry.to_bytes(), on_delivery=done)
            producer.flush(timeout_s)
            if acked:
                with self.engine.begin() as conn:
                    conn.execute(audit.update().where(audit.c.entry_id.in_(acked))
                                 .values(published_at=datetime.now(UTC)))
            if len(acked) < len(rows):
                why = failures[0] if failures else f"no acknowledgement within {timeout_s:.0f} s"
                missing = len(rows) - len(acked)
                raise AuditPublishError(f"{missing} audit {'entry' if missing == 1 else 'entries'} not acknowledged "
                                        f"by {self.topic} ({why}); kept in the dashboard database and sent with the "
                                        "next publish")
            return len(acked)

    def recent(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest entries, newest first, each with whether it is on the audit topic yet."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(audit).order_by(audit.c.seq.desc()).limit(limit)).mappings().all()
        return [{**entry_of(r).model_dump(mode="json"), "published": r["published_at"] is not None} for r in rows]

    def close(self) -> None:
        """Drop what the broker has not acknowledged: it is still unsent in the database, and goes next time."""
        with self._lock:
            if self._producer is not None:
                self._producer.purge()
                self._producer.flush(0)
                self._producer = None

    def _producer_for_publish(self) -> Producer:
        if self._producer is None:
            self._producer = Producer(self.kafka.librdkafka(**{
                "acks": "all", "enable.idempotence": True, "client.id": "simpul-monitor-audit",
                "message.timeout.ms": 30000, "log_level": 0}))
        return self._producer


def audited_replay(dlq: DlqBrowser, log: AuditLog, *, actor: str, role: str, partition: int, offset: int,
                   fixed: dict[str, Any] | None) -> dict[str, Any]:
    """Replay one DLQ record (as it was, or `fixed`: an edit) and record it, whatever the result, in `log`.

    The entry names the record and carries the keyed digests of its bytes and of the bytes written; a refused or
    failed replay is recorded as such and its error raised again. Sending the entry to the topic is the caller's
    `publish_pending`.
    """
    action = AuditAction.DLQ_EDIT if fixed is not None else AuditAction.DLQ_REPLAY
    target = f"{dlq.topic}:{partition}:{offset}"
    try:
        done = dlq.replay(partition, offset, fixed)
    except ReplayError as exc:
        log.record(actor=actor, role=role, action=action, target=target, result="refused", detail=str(exc))
        raise
    except Exception as exc:
        log.record(actor=actor, role=role, action=action, target=target, result="failed", detail=type(exc).__name__)
        raise
    log.record(actor=actor, role=role, action=action, target=target, result="ok",
               before_digest=done.get("before_digest"), after_digest=done.get("after_digest"),
               detail=f"to {done.get('to')}:{done.get('partition')}:{done.get('offset')}")
    return done
