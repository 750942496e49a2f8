"""The manifest: what the pipeline must produce from one simulated run, in the pipeline spec's format.

It is the contract between the simulator and whoever checks the pipeline (tests, `simpul` smoke runs), so its
JSON is stable: sorted keys, fixed indentation, every family / reason / rule present even at 0, subjects sorted.
Two runs with the same seed, N, mix and route give byte-identical files.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

Via = Literal["sdk", "http"]


class Manifest(BaseModel):
    """Expected outcomes of a plan. The first block is the spec's; the rest is detail for diagnosis."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int
    events: dict[str, int]
    """Per family: unique valid events that must reach `events.<family>` (duplicates, DLQ and rejections excluded)."""
    dlq: dict[str, int]
    """Per RejectReason: records the gatekeeper must move to the DLQ (all zero with via=http)."""
    alerts: dict[str, int]
    """Per AlertRule: alerts the rules must raise (exactly one per injected anomaly, none from clean traffic)."""
    duplicates_sent: int
    """Records re-sent with the same bytes; the gatekeeper drops them."""
    gateway_rejected: dict[str, int] | None = None
    """Per GatewayRejection: events the HTTP gateway must answer with a 4xx (only with via=http)."""
    regencies: dict[str, int]
    """Per regency_code of the event: unique valid events (sums to the total of `events`)."""
    expected_alert_subjects: dict[str, list[list[str]]]
    """Per rule: the subject parts of every expected alert (spec: alert_id = uuid5 of rule and these parts)."""
    total_sent: int
    """Every record handed to the broker or the gateway, duplicates and faults included (= N)."""

    # -- detail --------------------------------------------------------------------------------------------------
    via: Via
    requested_events: int
    base_time: datetime
    fault_mix: dict[str, float]
    injected: dict[str, int]
    """Per fault: anomalies injected (cases, bursts or records, as FaultMix counts them)."""
    events_by_type: dict[str, int]
    ingress: dict[str, int]
    """Per ingress topic's regency: records sent to it (sums to total_sent)."""
    late_events: int

    def to_json(self) -> str:
        """The manifest as written to disk: sorted keys, two-space indent, trailing newline."""
        data = self.model_dump(mode="json", exclude_none=True)
        return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        """Read a manifest written by `to_json`."""
        return cls.model_validate_json(text)
