"""Alert dispatch: `<prefix>.alerts` -> the store's `alerts` table and every configured webhook, once per alert id.

Per batch: decode the alerts (poison records are logged and skipped), insert them into `alerts`, then for every
(alert, webhook) not yet `delivered` or `dead` in `alert_deliveries`, POST the alert JSON signed with HMAC-SHA256
(`consumers.alerts.signing`), retrying with exponential backoff; after `max_attempts` failures the delivery is
`dead` (a dead letter: `delivery_status()` / `simpul sink alerts --status` shows it, `--retry-dead` tries again).
The Kafka offsets are committed only when every delivery of the batch is delivered or dead, so a restart replays
the batch and skips what was already delivered: each alert reaches each webhook once (a crash between the
receiver's 200 and our database write is the one window for a repeat; receivers may deduplicate on
`X-Simpul-Alert-Id`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import sqlalchemy as sa
from confluent_kafka import Consumer, Message
from pydantic import ValidationError

from consumers.alerts.signing import signature_headers
from consumers.exceptions import NoAssignment, WebhookConfigError
from consumers.kafka import EndOffsets, Stopper, commit_offsets, drained, make_consumer, next_offsets, raise_on_fatal
from consumers.store.rows import alert_row
from consumers.store.tables import alert_deliveries, alerts
from consumers.store.writer import insert_new
from schemas.records import Alert
from topics.catalog import TopicSet
from topics.connection import KafkaConnection

log = logging.getLogger("simpul.consumers.alerts")


def group_id(prefix: str) -> str:
    """The alert dispatch's consumer group of a prefix."""
    return f"{prefix}-sink-alerts"


def backoff_schedule(base_s: float, max_s: float, attempts: int) -> list[float]:
    """The waits between `attempts` tries: base, 2*base, 4*base, ... each capped at `max_s` (attempts - 1 values)."""
    return [min(max_s, base_s * 2**i) for i in range(max(0, attempts - 1))]


@dataclass(frozen=True)
class DeliveryResult:
    alert_id: str
    webhook: str
    status: str  # delivered | dead | skipped
    attempts: int
    last_error: str | None = None


@dataclass
class DispatchStats:
    batches: int = 0
    alerts: int = 0
    delivered: int = 0
    dead: int = 0
    skipped: int = 0
    poison: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


class AlertDispatcher:
    """Delivers alerts to webhooks with retries and records every outcome in `alert_deliveries`."""

    def __init__(self, engine: sa.Engine, webhooks: Sequence[str], secret: str | bytes, *,
                 max_attempts: int = 5, retry_base_s: float = 0.2, retry_max_s: float = 30.0,
                 timeout_s: float = 10.0, workers: int = 8, client: httpx.Client | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if not secret:
            raise WebhookConfigError("no webhook secret: set SIMPUL_ALERT_WEBHOOK_SECRET so receivers can verify alerts")
        self.engine = engine
        self.webhooks = tuple(dict.fromkeys(webhooks))
        self.secret = secret
        self.max_attempts = max_attempts
        self.schedule = backoff_schedule(retry_base_s, retry_max_s, max_attempts)
        self.client = client or httpx.Client(timeout=timeout_s, follow_redirects=False)
        self.workers = workers
        self.sleep = sleep
        self.stats = DispatchStats()

    # ---- state ---------------------------------------------------------------------------------------------

    def _open(self, conn: sa.Connection, alert_ids: Sequence[str]) -> set[tuple[str, str]]:
        """Create `pending` rows where missing; return (alert, webhook) pairs still to deliver."""
        if not alert_ids or not self.webhooks:
            return set()
        rows = [{"alert_id": a, "webhook": w, "status": "pending", "attempts": 0} for a in alert_ids for w in self.webhooks]
        insert_new(conn, alert_deliveries, rows)
        done = conn.execute(sa.select(alert_deliveries.c.alert_id, alert_deliveries.c.webhook).where(
            alert_deliveries.c.alert_id.in_(list(alert_ids)), alert_deliveries.c.status != "pending")).all()
        return {(a, w) for a in alert_ids for w in self.webhooks} - {(r[0], r[1]) for r in done}

    def _record(self, alert_id: str, webhook: str, *, status: str, error: str | None, delivered: bool) -> None:
        now = datetime.now(UTC)
        values: dict[str, Any] = {"status": status, "attempts": alert_deliveries.c.attempts + 1,
                                  "last_error": error, "last_attempt_at": now}
        if delivered:
            values["delivered_at"] = now
        with self.engine.begin() as conn:
            conn.execute(sa.update(alert_deliveries).where(
                alert_deliveries.c.alert_id == alert_id, alert_deliveries.c.webhook == webhook).values(**values))

    # ---- delivery ------------------------------------------------------------------------------------------

    def deliver(self, alert_id: str, body: bytes, webhook: str) -> DeliveryResult:
        """POST one alert to one webhook until a 2xx or `max_attempts` failures (then `dead`)."""
        error: str | None = None
        for attempt in range(1, self.max_attempts + 1):
            try:
                response = self.client.post(webhook, content=body, headers=signature_headers(self.secret, alert_id, body))
                if 200 <= response.status_code < 300:
                    self._record(alert_id, webhook, status="delivered", error=None, delivered=True)
                    return DeliveryResult(alert_id, webhook, "delivered", attempt)
                error = f"HTTP {response.status_code}: {response.text[:200]}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            last = attempt == self.max_attempts
            self._record(alert_id, webhook, status="dead" if last else "pending", error=error, delivered=False)
            if last:
                log.error("alert %s to %s is dead after %d attempts: %s", alert_id, webhook, attempt, error)
                return DeliveryResult(alert_id, webhook, "dead", attempt, error)
            log.warning("alert %s to %s failed (attempt %d/%d): %s", alert_id, webhook, attempt, self.max_attempts, error)
            self.sleep(self.schedule[attempt - 1])
        raise AssertionError("unreachable")

    def dispatch(self, batch: Sequence[Alert]) -> list[DeliveryResult]:
        """Store the alerts, then deliver each to every webhook that has not had it; returns the outcomes."""
        unique = list({a.alert_id: a for a in batch}.values())
        with self.engine.begin() as conn:
            insert_new(conn, alerts, [alert_row(a) for a in unique])
            todo = self._open(conn, [a.alert_id for a in unique])
        self.stats.alerts += len(unique)
        skipped = len(unique) * len(self.webhooks) - len(todo)
        self.stats.skipped += skipped
        jobs = [(a.alert_id, a.to_bytes(), w) for a in unique for w in self.webhooks if (a.alert_id, w) in todo]
        if not jobs:
            return []
        with ThreadPoolExecutor(max_workers=min(self.workers, len(jobs)), thread_name_prefix="simpul-webhook") as pool:
            results = list(pool.map(lambda job: self.deliver(*job), jobs))
        self.stats.delivered += sum(r.status == "delivered" for r in results)
        self.stats.dead += sum(r.status == "dead" for r in results)
        return results

    def retry_dead(self, webhook: str | None = None) -> list[DeliveryResult]:
        """Deliver the dead letters again (from the stored alerts), e.g. after a receiver was repaired."""
        query = sa.select(alerts).join(alert_deliveries, alert_deliveries.c.alert_id == alerts.c.alert_id).where(
            alert_deliveries.c.status == "dead")
        if webhook:
            query = query.where(alert_deliveries.c.webhook == webhook)
        with self.engine.begin() as conn:
            stored = {r.alert_id: r for r in conn.execute(query)}
            dead = conn.execute(sa.select(alert_deliveries.c.alert_id, alert_deliveries.c.webhook).where(
                alert_deliveries.c.status == "dead", *( [alert_deliveries.c.webhook == webhook] if webhook else []))).all()
            conn.execute(sa.update(alert_deliveries).where(alert_deliveries.c.status == "dead",
                         *([alert_deliveries.c.webhook == webhook] if webhook else [])).values(status="pending"))
        jobs = [(a, _alert_from_row(stored[a]).to_bytes(), w) for a, w in dead if a in stored]
        with ThreadPoolExecutor(max_workers=max(1, min(self.workers, len(jobs) or 1))) as pool:
            return list(pool.map(lambda job: self.deliver(*job), jobs))

    def close(self) -> None:
        self.client.close()


def _alert_from_row(row: Any) -> Alert:
    return Alert(alert_id=row.alert_id, rule=row.rule, severity=row.severity, regency_code=row.regency_code,
                 window_start=row.window_start, window_end=row.window_end, subject=list(row.subject),
                 message=row.message, evidence_event_ids=list(row.evidence), raised_at=row.raised_at,
                 details=dict(row.details or {}))


def decode_alerts(messages: Sequence[Message]) -> tuple[list[Alert], list[str]]:
    """The alerts of a batch, and the coordinates of records that are not alerts (poison: skipped)."""
    good: list[Alert] = []
    poison: list[str] = []
    for m in messages:
        try:
            good.append(Alert.model_validate_json(m.value() or b""))
        except (ValidationError, ValueError) as exc:
            at = f"{m.topic()}:{m.partition()}:{m.offset()}"
            log.warning("poison alert record at %s skipped: %s", at, str(exc).splitlines()[0])
            poison.append(at)
    return good, poison


def run(dispatcher: AlertDispatcher, consumer: Consumer, topic: str, *, batch_size: int = 100,
        poll_timeout: float = 1.0, once: bool = False, stop: Stopper | None = None,
        assignment_timeout: float = 60.0, ends: EndOffsets | None = None) -> DispatchStats:
    """Consume `topic` and dispatch until stopped (or drained, with `once`); offsets after every delivery ended."""
    if stop is None:  # a Stopper is falsy until stopped, so `stop or Stopper()` would drop the caller's
        stop = Stopper()
    if once and ends is None:
        raise ValueError("run(once=True) needs `ends` (an EndOffsets) to know when the topic is drained")
    started = time.monotonic()
    consumer.subscribe([topic])
    try:
        while not stop:
            messages = consumer.consume(num_messages=batch_size, timeout=poll_timeout)
            for m in messages:
                raise_on_fatal(m)
            good = [m for m in messages if m.error() is None]
            if good:
                batch, poison = decode_alerts(good)
                dispatcher.stats.poison += len(poison)
                dispatcher.dispatch(batch)
                commit_offsets(consumer, next_offsets(good), stop=stop)
                dispatcher.stats.batches += 1
            elif once:
                if drained(consumer, ends):
                    break
                if not consumer.assignment() and time.monotonic() - started > assignment_timeout:
                    raise NoAssignment(f"no partition of {topic} assigned within {assignment_timeout:.0f}s")
    finally:
        dispatcher.stats.seconds = time.monotonic() - started
        consumer.close()
    return dispatcher.stats


def build_consumer(kafka: KafkaConnection, topics: TopicSet, group: str | None = None,
                   conf: dict[str, Any] | None = None) -> Consumer:
    """The dispatch's consumer (long poll interval: a batch may wait on retries)."""
    return make_consumer(kafka, group or group_id(topics.prefix), client_id="simpul-sink-alerts",
                         **{"max.poll.interval.ms": 900_000, **(conf or {})})


def delivery_status(engine: sa.Engine, *, dead_limit: int = 100) -> dict[str, Any]:
    """Counts of alerts and deliveries by status and webhook, and the dead letters (for the CLI and the monitor)."""
    d = alert_deliveries
    with engine.connect() as conn:
        total_alerts = conn.execute(sa.select(sa.func.count()).select_from(alerts)).scalar_one()
        by = conn.execute(sa.select(d.c.webhook, d.c.status, sa.func.count()).group_by(d.c.webhook, d.c.status)).all()
        dead = conn.execute(
            sa.select(d.c.alert_id, d.c.webhook, d.c.attempts, d.c.last_error, d.c.last_attempt_at,
                      alerts.c.rule, alerts.c.regency_code)
            .select_from(d.outerjoin(alerts, alerts.c.alert_id == d.c.alert_id))
            .where(d.c.status == "dead").order_by(d.c.last_attempt_at.desc()).limit(dead_limit)).all()
    statuses: dict[str, int] = {"pending": 0, "delivered": 0, "dead": 0}
    webhooks: dict[str, dict[str, int]] = {}
    for webhook, status, n in by:
        statuses[status] = statuses.get(status, 0) + n
        webhooks.setdefault(webhook, {"pending": 0, "delivered": 0, "dead": 0})[status] = n
    return {
        "alerts": int(total_alerts),
        "deliveries": statuses,
        "webhooks": webhooks,
        "dead_letters": [
            {"alert_id": r.alert_id, "webhook": r.webhook, "attempts": r.attempts, "last_error": r.last_error,
             "last_attempt_at": r.last_attempt_at.isoformat() if r.last_attempt_at else None, "rule": r.rule,
             "regency_code": r.regency_code} for r in dead],
    }


__all__ = ["AlertDispatcher", "DeliveryResult", "backoff_schedule", "build_consumer", "decode_alerts",
           "delivery_status", "group_id", "run"]
