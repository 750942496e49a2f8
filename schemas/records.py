"""The derived records the stream processors write — part of the contract that province services read: JSON (UTF-8) on `agg.*` and `alerts`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.outcomes import AlertRule

Severity = Literal["info", "warning", "critical"]


def alert_id(rule: str, subject: list[str] | tuple[str, ...]) -> str:
    """uuid5(NAMESPACE_URL, "simpul:<rule>:<subject parts joined by |>"): the same condition, the same id."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"simpul:{rule}:" + "|".join(subject)))


class Alert(BaseModel):
    """One raised condition; keyed by `alert_id` on `<prefix>.alerts`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alert_id: str
    rule: AlertRule
    severity: Severity
    regency_code: str
    window_start: datetime
    window_end: datetime
    subject: list[str]
    message: str
    evidence_event_ids: list[str]
    raised_at: datetime
    details: dict[str, Any] = Field(default_factory=dict)

    def key(self) -> bytes:
        return self.alert_id.encode()

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


class Aggregate(BaseModel):
    """The current value of one window of one metric; keyed by `window_key` on `<prefix>.agg.<metric>`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: str
    regency_code: str
    dimension: str
    dimension_value: str
    window: str
    window_start: datetime
    window_end: datetime
    values: dict[str, Any]
    events: int
    updated_at: datetime

    @property
    def window_key(self) -> str:
        return window_key(self.metric, self.regency_code, self.dimension_value, self.window, self.window_start)

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


def window_key(metric: str, regency_code: str, dimension_value: str, window: str, start: datetime) -> str:
    """`regency|dimension value|window|window start` prefixed by the metric: unique per topic and compactable."""
    return f"{metric}|{regency_code}|{dimension_value}|{window}|{start.isoformat()}"
