"""Record -> rows: pure functions from decoded records to the store's rows, and the merge rules of the upserts.

Rows are built from the decoded Avro datum (a dict), not from the pydantic model: building and dumping a model
per record cost more than everything else the sink does (`consumers.store.sink.CodecDecoder` says what is
checked instead); `check_envelope` is what the store itself needs of every datum.

The same merge rules run in SQL (`consumers.store.writer`) and here (to fold several records of one key inside a
batch before the statement, which PostgreSQL requires for ON CONFLICT DO UPDATE). Every rule is commutative and
idempotent, so the order of delivery and a replay do not change the result:

* events: first write wins (an event id is immutable);
* service_requests: earliest submitted_at, latest completed_at, highest fee, fee_anomaly = any, the rest coalesced;
* complaints: filed_at/service_code coalesced, status of the latest update;
* aggregates: the newest `updated_at` wins; alerts: first write wins.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple
from uuid import UUID

from pydantic_core import to_json

from consumers.store.tables import EVENT_TABLES
from schemas import reference
from schemas.catalog import FAMILIES
from schemas.exceptions import EventValidationError, FieldProblem
from schemas.models import Event
from schemas.records import Aggregate, Alert

Row = dict[str, Any]
# a decoded Avro datum (uuid -> UUID or its canonical text, timestamp-millis -> aware UTC datetime, ...)
Record = Mapping[str, Any]
Datum = tuple[type[Event], Record]  # (the event's model class, its decoded Avro datum)
SERVICE_REQUEST_TYPES = ("ServiceRequestSubmitted", "ServiceRequestCompleted")
COMPLAINT_TYPES = ("ComplaintFiled", "ComplaintStatusChanged")


class Coordinates(NamedTuple):
    """Where a record was read: topic, partition, offset (a tuple: one is made per record, and a frozen
    dataclass costs several times more to create)."""

    topic: str
    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"


def datum_of(event: Event) -> Datum:
    """The datum of an event model (what the codec decodes to): rows are built from data, not from models."""
    return type(event), event.to_avro()


def payload_json(record: Record) -> str:
    """The stored payload: the datum as JSON text, equal to the model's `model_dump_json()` for a valid datum
    (pydantic's serialiser, applied to the datum: no model, no intermediate dict of strings)."""
    return to_json(record).decode()


def _width(column: str) -> int:
    length = EVENT_TABLES[FAMILIES[0]].c[column].type.length  # type: ignore[attr-defined]
    return int(length)


CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")  # str(UUID(...))
ENVELOPE_WIDTHS = {"source_system": _width("source_system"), "case_id": _width("case_id")}


def check_envelope(model: type[Event], r: Record) -> None:
    """What the store needs of every datum, whether or not its model validated it: a UUID event id, one of the 35
    regency codes, an aware timestamp, source and case ids that fit their columns. A datum failing this is a
    poison record (`EventValidationError`), never a batch the database refuses, which would stop the sink."""
    problems: list[FieldProblem] = []
    event_id = r.get("event_id")
    if not (isinstance(event_id, UUID) or isinstance(event_id, str) and CANONICAL_UUID.fullmatch(event_id)):
        problems.append(FieldProblem("event_id", "is not a UUID"))
    if r.get("regency_code") not in reference.regency_codes():
        problems.append(FieldProblem("regency_code", "is not one of the 35 Central Java regency codes"))
    occurred = r.get("occurred_at")
    if not isinstance(occurred, datetime) or occurred.tzinfo is None:
        problems.append(FieldProblem("occurred_at", "is not a timezone-aware timestamp"))
    for name, width in ENVELOPE_WIDTHS.items():
        value = r.get(name)
        if not isinstance(value, str) or not 0 < len(value) <= width:
            problems.append(FieldProblem(name, f"must be a string of 1 to {width} characters"))
    if problems:
        raise EventValidationError(model.event_type, problems)


def event_row(model: type[Event], record: Record, at: Coordinates, stored_at: datetime) -> Row:
    """The `events_<family>` row of a canonical event (payload = the decoded, tokenised event as JSON text;
    `writer.write_batch` stores that text as it is)."""
    return {
        "event_id": str(record["event_id"]),
        "event_type": model.event_type,
        "regency_code": record["regency_code"],
        "source_system": record["source_system"],
        "occurred_at": record["occurred_at"].astimezone(UTC),
        "case_id": record["case_id"],
        "payload": payload_json(record),
        "source_topic": at.topic,
        "source_partition": at.partition,
        "source_offset": at.offset,
        "stored_at": stored_at,
    }


def _hours(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 3600.0


def service_request_row(event_type: str, r: Record) -> Row | None:
    """The `service_requests` contribution of a ServiceRequestSubmitted/Completed datum (None for other types)."""
    if event_type not in SERVICE_REQUEST_TYPES:
        return None
    standard = reference.standard_for(r["service_code"], r["regency_code"])
    official = standard.official_fee_idr
    occurred = r["occurred_at"].astimezone(UTC)
    row: Row = {
        "regency_code": r["regency_code"], "case_id": r["case_id"], "service_code": r["service_code"],
        "channel": r["channel"], "submitted_at": None, "completed_at": None, "outcome": None,
        "fee_charged_idr": r["fee_charged_idr"], "official_fee_idr": official,
        "standard_hours": standard.completion_time_hours, "completion_hours": None, "sla_met": None,
        "fee_anomaly": official is not None and r["fee_charged_idr"] > official,
        "updated_at": occurred,
    }
    if event_type == "ServiceRequestSubmitted":
        row["submitted_at"] = occurred
        return row
    submitted = r["submitted_at"].astimezone(UTC)
    hours = _hours(submitted, occurred)
    row.update(submitted_at=submitted, completed_at=occurred, outcome=r["outcome"], completion_hours=hours)
    if r["outcome"] == "ISSUED" and standard.completion_time_hours is not None:
        row["sla_met"] = hours <= standard.completion_time_hours
    return row


def complaint_row(event_type: str, r: Record) -> Row | None:
    """The `complaints` contribution of a ComplaintFiled/StatusChanged datum (None for other types)."""
    if event_type not in COMPLAINT_TYPES:
        return None
    at = r["occurred_at"].astimezone(UTC)
    if event_type == "ComplaintFiled":
        return {"regency_code": r["regency_code"], "case_id": r["case_id"], "category": r["category"],
                "service_code": r["service_code"], "filed_at": at, "status": "RECEIVED", "updated_at": at}
    return {"regency_code": r["regency_code"], "case_id": r["case_id"], "category": r["category"],
            "service_code": None, "filed_at": None, "status": r["to_status"], "updated_at": at}


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
        """Add an event model (tests, tools); the sink adds decoded data with `add_datum`."""
        self.add_datum(*datum_of(event), at, stored_at)

    def add_datum(self, model: type[Event], record: Record, at: Coordinates, stored_at: datetime) -> None:
        """Add one decoded event: its event row, and its contribution to the case tables; raises
        `EventValidationError` (poison) if the store cannot take it (see `check_envelope`)."""
        check_envelope(model, record)
        row = event_row(model, record, at, stored_at)  # every row first: a datum that raises adds nothing
        sr = service_request_row(model.event_type, record)
        cp = complaint_row(model.event_type, record)
        self.records += 1
        family_rows = self.events.setdefault(model.family, {})
        if row["event_id"] in family_rows:
            return  # the same event twice in one batch: first write wins, and it feeds the case tables once
        family_rows[row["event_id"]] = row
        if sr is not None:
            key = (sr["regency_code"], sr["case_id"])
            old = self.service_requests.get(key)
            self.service_requests[key] = sr if old is None else merge_service_request(old, sr)
        if cp is not None:
            key = (cp["regency_code"], cp["case_id"])
            old = self.complaints.get(key)
            self.complaints[key] = cp if old is None else merge_complaint(old, cp)

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
