"""The plan model: what one planned record is, what the pipeline must do with it, and the plan of a run."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from producers.exceptions import ProducerError
from producers.simulator.manifest import Manifest
from schemas.models import Event
from schemas.nik import tokenise_nik
from schemas.outcomes import AlertRule, GatewayRejection, RejectReason

BASE_TIME = datetime(2025, 3, 3, 0, 0, tzinfo=UTC)
"""Monday 3 March 2025, 07:00 WIB: the start of the simulated week (never the wall clock)."""
WINDOW = timedelta(days=7)
"""Clean traffic occurs within [base_time, base_time + WINDOW)."""


class PlanError(ProducerError, ValueError):
    """The requested run cannot be planned (e.g. the fault mix needs more records than --events)."""


class Expect(StrEnum):
    """What the pipeline must do with a planned record."""

    EVENT = "event"  # reaches events.<family>
    DLQ = "dlq"  # moved to the DLQ (via sdk) or refused by the gateway (via http)
    DUPLICATE = "duplicate"  # dropped by the gatekeeper's dedup


@dataclass(frozen=True)
class PlannedRecord:
    """One record to send, in plan order, with the outcome the pipeline must give it.

    `event` is always set: the valid event, the spoofed event (another regency's, `ingress` differs), or the
    base of an invalid payload. `raw` are bytes to send as they are (undecodable); `override` are field values
    that break the contract, applied to the Avro datum (sdk) or the JSON body (http).
    """

    seq: int
    ingress: str
    key: bytes
    event: Event
    expect: Expect
    send_at: datetime
    raw: bytes | None = None
    override: dict[str, Any] | None = None
    dlq_reason: RejectReason | None = None
    gateway_rejection: GatewayRejection | None = None
    fault: str | None = None
    alert: AlertRule | None = None
    alert_subject: tuple[str, ...] | None = None
    duplicate_of: int | None = None
    late: bool = False

    @property
    def event_type(self) -> str:
        return type(self.event).event_type

    @property
    def family(self) -> str:
        return type(self.event).family

    @property
    def spoofed(self) -> bool:
        """A valid event written to another regency's ingress topic."""
        return self.ingress != self.event.regency_code

    def http_event(self) -> dict[str, Any]:
        """The event as the gateway takes it: `{"event_type": ..., fields...}`, with the breaking override."""
        return {"event_type": self.event_type, **self.event.model_dump(mode="json"), **(self.override or {})}

    def avro_datum(self) -> dict[str, Any]:
        """The Avro datum to write (the event's, with the override that a model refuses but Avro accepts)."""
        return {**self.event.to_avro(), **(self.override or {})}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe view, for comparing plans and for debugging."""
        return {
            "seq": self.seq, "ingress": self.ingress, "key": self.key.decode(), "event_type": self.event_type,
            "event": self.event.model_dump(mode="json"), "expect": self.expect.value,
            "send_at": self.send_at.isoformat(),
            "raw": base64.b64encode(self.raw).decode() if self.raw is not None else None,
            "override": self.override, "dlq_reason": self.dlq_reason, "gateway_rejection": self.gateway_rejection,
            "fault": self.fault, "alert": self.alert, "alert_subject": list(self.alert_subject or ()) or None,
            "duplicate_of": self.duplicate_of, "late": self.late,
        }


@dataclass(frozen=True)
class Plan:
    """The ordered records of one run and the manifest they imply."""

    records: tuple[PlannedRecord, ...]
    manifest: Manifest

    def to_json(self) -> str:
        """Every record as JSON, one line each: two plans are equal iff these texts are."""
        return "\n".join(json.dumps(r.to_dict(), sort_keys=True) for r in self.records) + "\n"


def nik_token(key: str | bytes, nik: str) -> str:
    """The token the gatekeeper mints for `nik` under the installation's NIK key (`schemas.nik.tokenise_nik`)."""
    return tokenise_nik(key.encode() if isinstance(key, str) else key, nik)
