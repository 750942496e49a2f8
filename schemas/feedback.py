"""What a regency learns about each record it sent: the `RegencyOutcome` of its outcome topic
(`<prefix>.outcomes.<regency>`), written by the gatekeeper and served by the gateway.

It lives with the contract because two stages that never import each other share it: the gatekeeper writes it
(`outcome_value`, a plain `json.dumps` on the hot path) and the gateway reads it back (`RegencyOutcome`).

An outcome never carries a value the regency sent beyond the event's own identifiers (event id, case id, type):
a reason names the field and says what is wrong, and `without_values` takes out any value a validator quoted,
then masks every run of 16+ digits like a NIK, so no NIK reaches the topic, the gateway or its database.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.nik import redact_niks
from schemas.outcomes import RejectReason

MAX_CASE_ID = 200
MAX_PROBLEMS = 20
_json_string = json.encoder.encode_basestring  # type: ignore[attr-defined]  # C-accelerated: a quoted JSON string
_LONG_DIGITS = re.compile(r"[0-9]{16}")


class OutcomeStatus(StrEnum):
    """What the gatekeeper did with one ingress record."""

    ROUTED = "routed"
    """Valid and new: on its canonical topic, NIKs tokenised."""
    DUPLICATE = "duplicate"
    """Its event_id was routed before (from another record): dropped, nothing written."""
    REJECTED = "rejected"
    """In the province's DLQ; `reason` and `problems` say why."""


class OutcomeProblem(BaseModel):
    """One offending field of a rejected record and what is wrong with it (never the value)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str = Field(description="dotted path of the field, e.g. `fee_charged_idr`; `<record>` for the whole record")
    reason: str


class RegencyOutcome(BaseModel):
    """The outcome of one record on a regency's ingress topic (JSON on `<prefix>.outcomes.<regency>`, key
    event_id, or the source when no event id could be read)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    regency_code: str = Field(description="the regency whose ingress topic carried the record")
    event_id: str | None = Field(description="the record's event_id; null when the record could not be read")
    event_type: str | None = None
    case_id: str | None = None
    status: OutcomeStatus
    reason: RejectReason | None = Field(None, description="why a rejected record was rejected (the DLQ's reason)")
    field: str | None = Field(None, description="the first offending field of a rejected record")
    problems: list[OutcomeProblem] = Field(default_factory=list)
    message: str = ""
    source: str = Field(description="`<ingress topic>:<partition>:<offset>` of the record")
    at: AwareDatetime = Field(description="when the gatekeeper decided (UTC)")

    @property
    def key(self) -> str:
        return self.event_id or self.source


def outcome_value(regency_code: str, event_id: str | None, event_type: str | None, case_id: str | None,
                  status: OutcomeStatus, source: str, at: str, reason: RejectReason | None = None,
                  problems: Sequence[tuple[str, str]] = (), message: str = "") -> bytes:
    """The JSON bytes of a RegencyOutcome, without building the model (one per ingress record: the gatekeeper's
    hot path). `at` is an ISO 8601 UTC time; the caller passes only values already free of NIKs."""
    doc: dict[str, Any] = {"regency_code": regency_code, "event_id": event_id, "event_type": event_type,
                           "case_id": case_id, "status": status.value, "source": source, "at": at}
    if reason is not None:
        doc["reason"] = reason.value
        doc["field"] = problems[0][0] if problems else None
        doc["problems"] = [{"field": f, "reason": r} for f, r in problems[:MAX_PROBLEMS]]
        doc["message"] = message
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def accepted_value(regency_code: str, event_id: str, event_type: str, case_id: str, status: str, source: str,
                   at: str) -> bytes:
    """`outcome_value` of a routed or duplicate event, from a template: a fifth of its cost, for the gatekeeper's
    every record. `event_id` (a UUID), `event_type` (a catalog name), `source` (topic names are [a-zA-Z0-9._-])
    and `at` need no escaping; `case_id` is escaped, and masked like a NIK if it holds a 16-digit run. `status`
    is an OutcomeStatus value (a plain str: the enum's `.value` alone costs a quarter of the rest)."""
    if len(case_id) >= 16 and _LONG_DIGITS.search(case_id):
        case_id = redact_niks(case_id)
    case = _json_string(case_id) if case_id else "null"
    return (f'{{"regency_code":"{regency_code}","event_id":"{event_id}","event_type":"{event_type}",'
            f'"case_id":{case},"status":"{status}","source":"{source}","at":"{at}"}}').encode("utf-8")


def without_values(reason: str, record: Mapping[str, Any] | None, field: str | None = None) -> str:
    """`reason` with the values of `record` it quotes replaced by "the value" (the field's own value also where
    it stands unquoted), then every run of 16+ digits masked: what a regency may read back about its record."""
    if record:
        own = _value_at(record, field) if field else None
        for value in _strings(record):
            for shown in {value, redact_niks(value)}:  # a validator may have masked it already
                for quoted in (repr(shown), f'"{shown}"'):
                    if quoted in reason:
                        reason = reason.replace(quoted, "the value")
        if isinstance(own, str | int | float) and not isinstance(own, bool) and len(str(own)) >= 2:
            for shown in {str(own), redact_niks(str(own))}:
                reason = reason.replace(shown, "the value")
    return redact_niks(reason)


def identifiers(record: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
    """The event_id (when it is a UUID) and case_id (masked, bounded) of a decoded record, for the outcome of a
    record that failed validation: what lets a regency find its record, and nothing else of it."""
    if not record:
        return None, None
    event_id = record.get("event_id")
    try:
        event_id = str(uuid.UUID(str(event_id))) if event_id is not None else None
    except ValueError:
        event_id = None
    case_id = record.get("case_id")
    case_id = redact_niks(case_id)[:MAX_CASE_ID] if isinstance(case_id, str) else None
    return event_id, case_id


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if len(value) >= 2 else []
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def _value_at(record: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(record, Mapping) and part in record:
            record = record[part]
        elif isinstance(record, list) and part.isdigit() and int(part) < len(record):
            record = record[int(part)]
        else:
            return None
    return record


def parse_outcome(value: bytes) -> RegencyOutcome:
    """A RegencyOutcome from the bytes of an outcome record (raises pydantic.ValidationError)."""
    return RegencyOutcome.model_validate_json(value)

