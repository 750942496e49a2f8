"""Record -> rows: pure functions from decoded records to the store's rows, and the merge rules of the upserts.

The same merge rules run in SQL (`consumers.store.writer`) and here (to fold several records of one key inside a
batch before the statement, which PostgreSQL requires for ON CONFLICT DO UPDATE). Every rule is commutative and
idempotent, so the order of delivery and a replay do not change the result:

* events: first write wins (an event id is immutable);
* service_requests: earliest submitted_at, latest completed_at, highest fee, fee_anomaly = any, the rest coalesced;
* complaints: filed_at/service_code coalesced, status of the latest update;
* aggregates: the newest `updated_at` wins; alerts: first write wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from schemas import reference
from schemas.models import Event
from schemas.records import Aggregate, Alert

Row = dict[str, Any]
SERVICE_REQUEST_TYPES = ("ServiceRequestSubmitted", "ServiceRequestCompleted")
COMPLAINT_TYPES = ("ComplaintFiled", "ComplaintStatusChanged")


@dataclass(frozen=True)
class Coordinates:
    """Where a record was read: topic, partition, offset."""

    topic: str
    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"


def event_row(event: Event, at: Coordinates, stored_at: datetime) -> Row:
    """The `events_<family>` row of a canonical event (payload = the decoded, tokenised event as JSON)."""
    return {
        "event_id": str(event.event_id),
        "event_type": type(event).event_type,
        "regency_code": event.regency_code,
        "source_system": event.source_system,
        "occurred_at": event.occurred_at.astimezone(UTC),
        "case_id": event.case_id,
        "payload": event.model_dump(mode="json"),
        "source_topic": at.topic,
        "source_partition": at.partition,
        "source_offset": at.offset,
        "stored_at": stored_at,
    }


def _hours(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 3600.0


def service_request_row(event: Event) -> Row | None:
    """The `service_requests` contribution of a ServiceRequestSubmitted/Completed event (None for other types)."""
    kind = type(event).event_type
    if kind not in SERVICE_REQUEST_TYPES:
        return None
    standard = reference.standard_for(event.service_code, event.regency_code)
    official = standard.official_fee_idr
    row: Row = {
        "regency_code": event.regency_code, "case_id": event.case_id, "service_code": event.service_code,
        "channel": event.channel, "submitted_at": None, "completed_at": None, "outcome": None,
        "fee_charged_idr": event.fee_charged_idr, "official_fee_idr": official,
        "standard_hours": standard.completion_time_hours, "completion_hours": None, "sla_met": None,
        "fee_anomaly": official is not None and event.fee_charged_idr > official,
        "updated_at": event.occurred_at.astimezone(UTC),
    }
    if kind == "ServiceRequestSubmitted":
        row["submitted_at"] = event.occurred_at.astimezone(UTC)
        return row
    submitted = event.submitted_at.astimezone(UTC)
    completed = event.occurred_at.astimezone(UTC)
    hours = _hours(submitted, completed)
    row.update(submitted_at=submitted, completed_at=completed, outcome=event.outcome, completion_hours=hours)
    if event.outcome == "ISSUED" and standard.completion_time_hours is not None:
        row["sla_met"] = hours <= standard.completion_time_hours
    return row


def complaint_row(event: Event) -> Row | None:
    """The `complaints` contribution of a ComplaintFiled/StatusChanged event (None for other types)."""
    kind = type(event).event_type
    if kind not in COMPLAINT_TYPES:
        return None
    at = event.occurred_at.astimezone(UTC)
    if kind == "ComplaintFiled":
        return {"regency_code": event.regency_code, "case_id": event.case_id, "category": event.category,
                "service_code": event.service_code, "filed_at": at, "status": "RECEIVED", "updated_at": at}
    return {"regency_code": event.regency_code, "case_id": event.case_id, "category": event.category,
            "service_code": None, "filed_at": None, "status": event.to_status, "updated_at": at}


def aggregate_row(agg: Aggregate) -> Row:
    """The `aggregates` row of an Aggregate record (keyed by its window key)."""
    return {
        "window_key": agg.window_key, "metric": agg.metric, "regency_code": agg.regency_code,
        "dimension": agg.dimension, "dimension_value": agg.dimension_value, "window": agg.window,
        "window_start": agg.window_start.astimezone(UTC), "window_end": agg.window_end.astimezone(UTC),
        "values": agg.values, "events": agg.events, "updated_at": agg.updated_at.astimezone(UTC),
    }


def alert_row(alert: Alert) -> Row:
    """The `alerts` row of an Alert record."""
    return {
        "alert_id": alert.alert_id, "rule": str(alert.rule), "severity": alert.severity,
        "regency_code": alert.regency_code, "window_start": alert.window_start.astimezone(UTC),
        "window_end": alert.window_end.astimezone(UTC), "subject": list(alert.subject), "message": alert.message,
        "evidence": list(alert.evidence_event_ids), "raised_at": alert.raised_at.astimezone(UTC),
        "details": alert.model_dump(mode="json")["details"],
    }


# ---- merge rules (mirrored in SQL by consumers.store.writer) ----------------------------------------------------

def _coalesce(new: Any, old: Any) -> Any:
    return new if new is not None else old


def _least(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def _greatest(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def merge_service_request(old: Row, new: Row) -> Row:
    """Fold two contributions to one case (commutative, idempotent)."""
    return {
        "regency_code": old["regency_code"], "case_id": old["case_id"],
        "service_code": _coalesce(new["service_code"], old["service_code"]),
        "channel": _coalesce(new["channel"], old["channel"]),
        "submitted_at": _least(new["submitted_at"], old["submitted_at"]),
        "completed_at": _greatest(new["completed_at"], old["completed_at"]),
        "outcome": _coalesce(new["outcome"], old["outcome"]),
        "fee_charged_idr": _greatest(new["fee_charged_idr"], old["fee_charged_idr"]),
        "official_fee_idr": _coalesce(new["official_fee_idr"], old["official_fee_idr"]),
        "standard_hours": _coalesce(new["standard_hours"], old["standard_hours"]),
        "completion_hours": _coalesce(new["completion_hours"], old["completion_hours"]),
        "sla_met": _coalesce(new["sla_met"], old["sla_met"]),
        "fee_anomaly": bool(new["fee_anomaly"] or old["fee_anomaly"]),
        "updated_at": _greatest(new["updated_at"], old["updated_at"]),
    }


def merge_complaint(old: Row, new: Row) -> Row:
    """Fold two contributions to one complaint: filing facts coalesced, the status of the latest update."""
    newer = old["updated_at"] is None or (new["updated_at"] is not None and new["updated_at"] > old["updated_at"])
    latest = new if newer else old
    return {
        "regency_code": old["regency_code"], "case_id": old["case_id"],
        "category": _coalesce(new["category"], old["category"]),
        "service_code": _coalesce(new["service_code"], old["service_code"]),
        "filed_at": _coalesce(new["filed_at"], old["filed_at"]),
        "status": latest["status"], "updated_at": latest["updated_at"],
    }


def merge_aggregate(old: Row, new: Row) -> Row:
    """The newer of two values of one window (ties keep the one already there)."""
    return new if new["updated_at"] > old["updated_at"] else old


def keep_first(old: Row, _new: Row) -> Row:
    """Events and alerts are immutable: the first write wins."""
    return old


@dataclass
class BatchRows:
    """The rows of one batch, folded per key, ready for one transaction; plus what was skipped."""

    events: dict[str, dict[str, Row]] = field(default_factory=dict)  # family -> event_id -> row
    service_requests: dict[tuple[str, str], Row] = field(default_factory=dict)
    complaints: dict[tuple[str, str], Row] = field(default_factory=dict)
    aggregates: dict[str, Row] = field(default_factory=dict)
    alerts: dict[str, Row] = field(default_factory=dict)
    poison: list[tuple[Coordinates, str]] = field(default_factory=list)
    records: int = 0

    def add_event(self, event: Event, at: Coordinates, stored_at: datetime) -> None:
        self.records += 1
        family_rows = self.events.setdefault(type(event).family, {})
        row = event_row(event, at, stored_at)
        if row["event_id"] in family_rows:
            return  # the same event twice in one batch: first write wins, and it feeds the case tables once
        family_rows[row["event_id"]] = row
        sr = service_request_row(event)
        if sr is not None:
            key = (sr["regency_code"], sr["case_id"])
            self.service_requests[key] = merge_service_request(self.service_requests[key], sr) if key in self.service_requests else sr
        cp = complaint_row(event)
        if cp is not None:
            key = (cp["regency_code"], cp["case_id"])
            self.complaints[key] = merge_complaint(self.complaints[key], cp) if key in self.complaints else cp

    def add_aggregate(self, agg: Aggregate) -> None:
        self.records += 1
        row = aggregate_row(agg)
        old = self.aggregates.get(row["window_key"])
        self.aggregates[row["window_key"]] = row if old is None else merge_aggregate(old, row)

    def add_alert(self, alert: Alert) -> None:
        self.records += 1
        self.alerts.setdefault(alert.alert_id, alert_row(alert))

    def add_poison(self, at: Coordinates, reason: str) -> None:
        self.records += 1
        self.poison.append((at, reason))

    @property
    def row_count(self) -> int:
        return (sum(len(v) for v in self.events.values()) + len(self.service_requests) + len(self.complaints)
                + len(self.aggregates) + len(self.alerts))
