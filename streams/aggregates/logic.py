"""What each canonical event contributes to which metric, and the windows it falls in (pure functions).

`observe` reads an event through its attributes only, so the worker hands it the decoded datum
(`schemas.datum.EventView`, no pydantic per record) and the tests the model as well: both give the same
observations (tests/unit/test_streams_aggregates_batches.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from schemas import reference
from schemas.datum import EventView
from schemas.models import Event
from schemas.records import window_key

AnyEvent = Event | EventView  # the model or the datum seen through the model's attribute names

METRICS = ("service_requests", "complaints", "prices", "air_quality", "tourism_visits", "social_aid",
           "school_admissions", "road_reports", "works_progress")


@dataclass(frozen=True)
class Observation:
    """One event's contribution to one metric of one regency x dimension value."""

    metric: str
    regency_code: str
    dimension: str
    dimension_value: str
    occurred_at: datetime
    event_id: str
    counts: dict[str, float] = field(default_factory=dict)
    values: dict[str, float] = field(default_factory=dict)
    ratios: dict[str, bool] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        # by hand, not dataclasses.asdict: its deep copy was a tenth of the aggregates worker's time
        return {"metric": self.metric, "regency_code": self.regency_code, "dimension": self.dimension,
                "dimension_value": self.dimension_value, "occurred_at": self.occurred_at.isoformat(),
                "event_id": self.event_id, "counts": dict(self.counts), "values": dict(self.values),
                "ratios": dict(self.ratios)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Observation:
        return cls(**{**data, "occurred_at": datetime.fromisoformat(data["occurred_at"])})


def _fee_anomaly(event: AnyEvent) -> int:
    official = reference.standard_for(event.service_code, event.regency_code).official_fee_idr
    return int(official is not None and event.fee_charged_idr > official)


_ADMISSION_EVENTS = ("SchoolAdmissionApplied", "SchoolAdmissionDecided", "SchoolQuotaPublished")


def _admission_value(event: AnyEvent, route: str) -> str:
    """`<school NPSN>/<level>/<route>`: admissions per route against quota per school (no `|`, the window key's
    separator)."""
    return f"{event.school_id}/{event.school_level}/{route}"


def _admissions(event: AnyEvent, base: dict[str, Any]) -> list[Observation]:
    """SPMB: applications and decisions per school x route, and the school's published seats on each route (as a
    value, so a window shows the quota published in it; the report joins quota and admissions over the year)."""
    kind = type(event).event_type
    if kind == "SchoolQuotaPublished":
        return [Observation("school_admissions", dimension="school_route",
                            dimension_value=_admission_value(event, route),
                            values={"quota_seats": float(getattr(event, f"seats_{route.lower()}"))}, **base)
                for route in ("DOMISILI", "AFIRMASI", "MUTASI", "PRESTASI")]
    counts = {"applied": 1} if kind == "SchoolAdmissionApplied" else {event.decision.lower(): 1}
    return [Observation("school_admissions", dimension="school_route",
                        dimension_value=_admission_value(event, event.route), counts=counts, **base)]


def observe(event: AnyEvent) -> list[Observation]:
    """The observations of one event (empty for event types no metric covers)."""
    kind = type(event).event_type
    base = {"regency_code": event.regency_code, "occurred_at": event.occurred_at.astimezone(UTC),
            "event_id": str(event.event_id)}
    if kind == "ServiceRequestSubmitted":
        return [Observation("service_requests", dimension="service_code", dimension_value=event.service_code,
                            counts={"requests": 1, "fee_anomalies": _fee_anomaly(event)}, **base)]
    if kind == "ServiceRequestStatusChanged":
        return [Observation("service_requests", dimension="service_code", dimension_value=event.service_code,
                            counts={f"status_{event.to_status.lower()}": 1}, **base)]
    if kind == "ServiceRequestCompleted":
        counts = {"completions": 1, f"outcome_{event.outcome.lower()}": 1, "fee_anomalies": _fee_anomaly(event)}
        values: dict[str, float] = {}
        ratios: dict[str, bool] = {}
        if event.outcome == "ISSUED":
            hours = (event.occurred_at - event.submitted_at).total_seconds() / 3600
            values["completion_hours"] = hours
            standard = reference.standard_for(event.service_code, event.regency_code).completion_time_hours
            if standard is not None:
                ratios["sla_met"] = hours <= standard
        return [Observation("service_requests", dimension="service_code", dimension_value=event.service_code,
                            counts=counts, values=values, ratios=ratios, **base)]
    if kind == "ComplaintFiled":
        return [Observation("complaints", dimension="category", dimension_value=event.category,
                            counts={"filed": 1}, **base)]
    if kind == "ComplaintStatusChanged":
        return [Observation("complaints", dimension="category", dimension_value=event.category,
                            counts={f"status_{event.to_status.lower()}": 1}, **base)]
    if kind == "StapleFoodPriceObserved":
        return [Observation("prices", dimension="commodity_code", dimension_value=event.commodity_code,
                            values={"price_idr": float(event.price_idr)}, **base)]
    if kind == "AirQualityReading":
        values = {k: float(v) for k, v in (("pm25", event.pm25), ("pm10", event.pm10)) if v is not None}
        return [Observation("air_quality", dimension="station_code", dimension_value=event.station_code,
                            counts={"readings": 1}, values=values, **base)]
    if kind == "TourismVisitCount":
        return [Observation("tourism_visits", dimension="destination_code", dimension_value=event.destination_code,
                            counts={"visitors": event.visitors, "foreign_visitors": event.foreign_visitors,
                                    "reports": 1}, **base)]
    if kind == "SocialAidDisbursed":
        return [Observation("social_aid", dimension="programme", dimension_value=event.programme,
                            counts={"disbursements": 1, "amount_idr": event.amount_idr}, **base)]
    if kind in _ADMISSION_EVENTS:
        return _admissions(event, base)
    # -- infrastructure --
    if kind == "RoadDamageReported":
        return [Observation("road_reports", dimension="road_status", dimension_value=event.road_status,
                            counts={"reported": 1}, **base)]
    if kind == "RoadDamageHandled":
        hours = (event.occurred_at - event.reported_at).total_seconds() / 3600
        values = {"repair_hours": hours} if event.action == "REPAIRED" else {}
        return [Observation("road_reports", dimension="road_status", dimension_value=event.road_status,
                            counts={f"action_{event.action.lower()}": 1}, values=values, **base)]
    if kind == "PublicWorksProgress":
        gap = event.payment_pct - event.physical_progress_pct
        return [Observation("works_progress", dimension="work_type", dimension_value=event.work_type,
                            counts={"reports": 1, "payment_ahead": int(gap > 0)},
                            values={"physical_progress_pct": event.physical_progress_pct,
                                    "payment_pct": event.payment_pct, "payment_minus_progress_pct": gap},
                            ratios={"payment_within_progress": gap <= 0}, **base)]
    return []


def window_bounds(ts: datetime, seconds: int) -> tuple[datetime, datetime]:
    """The tumbling window (UTC, aligned on the epoch: hours on the hour, days at 00:00 UTC) holding `ts`."""
    epoch = int(ts.astimezone(UTC).timestamp())
    start = epoch - epoch % seconds
    return datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(start + seconds, UTC)


class WindowKeys:
    """`keys_for` with each window's bounds and their text computed once per window start: a batch's events
    mostly share a few windows, and `datetime.fromtimestamp` + `isoformat` per event and window was a good part of
    an observation's cost."""

    def __init__(self, windows: tuple[tuple[str, int], ...]) -> None:
        self.windows = windows
        # (seconds, start epoch) -> (start, start as ISO text, end as ISO text)
        self._bounds: dict[tuple[int, int], tuple[datetime, str, str]] = {}

    def __call__(self, obs: Observation) -> list[tuple[str, str, str, str]]:
        """(window key, window label, start, end as ISO text) of every configured window `obs` falls in."""
        epoch = int(obs.occurred_at.timestamp())
        out = []
        for label, seconds in self.windows:
            start = epoch - epoch % seconds
            bounds = self._bounds.get((seconds, start))
            if bounds is None:
                if len(self._bounds) > 4096:  # a replay walks through time: keep only recent windows
                    self._bounds.clear()
                begin = datetime.fromtimestamp(start, UTC)
                bounds = self._bounds[(seconds, start)] = (
                    begin, begin.isoformat(), datetime.fromtimestamp(start + seconds, UTC).isoformat())
            out.append((window_key(obs.metric, obs.regency_code, obs.dimension_value, label, bounds[0]), label,
                        bounds[1], bounds[2]))
        return out


def keys_for(obs: Observation, windows: tuple[tuple[str, int], ...]) -> list[tuple[str, str, datetime, datetime]]:
    """(window key, window label, start, end) of every configured window the observation falls in."""
    out = []
    for label, seconds in windows:
        start, end = window_bounds(obs.occurred_at, seconds)
        out.append((window_key(obs.metric, obs.regency_code, obs.dimension_value, label, start), label, start, end))
    return out
