"""The roads and public works read models of `simpul report --measure roads|works`, one row per regency.

roads: reports (RoadDamageReported received), by road status (national, provincial, regency, village), repaired
(reports with a REPAIRED step), median_hours_to_repair (first REPAIRED minus the report's time, over the repaired
reports), forwarded (sent to the road's owner) and rejected, and for roads whose owner publishes a target (the
province's own 1x24 h, schemas/reference/road_authorities.yaml) the reports first handled within it and late (the
`road_handling_overdue` alert).
works: contracts (PublicWorksProgress cases), contract_value_idr, the latest report's progress and payment
averaged over the contracts, contracts_payment_ahead (contracts with any report paid ahead of its verified
progress: the `payment_ahead_of_progress` alert) and paid_ahead_idr (per contract its largest gap as rupiah).
Read from the store's event tables (both dialects) and folded here, so the median is the same on both.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa

from consumers.store.tables import EVENT_TABLES
from schemas import reference
from schemas.catalog import family_of
from schemas.reference import roads as road_reference

ROAD_COLUMNS = ("regency_code", "regency_name", "reports", "reports_national", "reports_provincial",
                "reports_regency", "reports_village", "repaired", "median_hours_to_repair", "forwarded", "rejected",
                "with_target", "handled_within_target", "handled_late")
WORKS_COLUMNS = ("regency_code", "regency_name", "contracts", "contract_value_idr", "mean_progress_pct",
                 "mean_payment_pct", "contracts_payment_ahead", "paid_ahead_idr")
ROAD_TYPES = ("RoadDamageReported", "RoadDamageHandled")
WORKS_TYPES = ("PublicWorksProgress",)
StoredEvent = tuple[str, str, str, datetime, Mapping[str, Any]]  # event_type, regency, case_id, occurred_at, payload


def _at(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _name(code: str) -> str:
    try:
        return reference.regency(code).display_name
    except KeyError:
        return ""


@dataclass
class RoadRow:
    """One regency's road-damage reports."""

    regency_code: str
    reports: int = 0
    reports_national: int = 0
    reports_provincial: int = 0
    reports_regency: int = 0
    reports_village: int = 0
    repaired: int = 0
    forwarded: int = 0
    rejected: int = 0
    with_target: int = 0
    handled_within_target: int = 0
    handled_late: int = 0
    hours: list[float] = field(default_factory=list, repr=False)

    @property
    def median_hours_to_repair(self) -> float | None:
        return round(statistics.median(self.hours), 3) if self.hours else None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("hours")
        data.update(regency_name=_name(self.regency_code), median_hours_to_repair=self.median_hours_to_repair)
        return {c: data[c] for c in ROAD_COLUMNS}


@dataclass
class WorksRow:
    """One regency's public works contracts."""

    regency_code: str
    contracts: int = 0
    contract_value_idr: int = 0
    contracts_payment_ahead: int = 0
    paid_ahead_idr: int = 0
    progress: list[float] = field(default_factory=list, repr=False)
    payment: list[float] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("progress")
        data.pop("payment")
        data.update(regency_name=_name(self.regency_code),
                    mean_progress_pct=round(statistics.fmean(self.progress), 2) if self.progress else None,
                    mean_payment_pct=round(statistics.fmean(self.payment), 2) if self.payment else None)
        return {c: data[c] for c in WORKS_COLUMNS}


def build_road_rows(events: Iterable[StoredEvent]) -> list[RoadRow]:
    """Fold the stored road events into one row per regency (pure: the unit-tested heart of --measure roads). A
    report counts once per case; a handling step without its report still counts its case."""
    reports: dict[tuple[str, str], tuple[datetime, str]] = {}  # case -> (reported at, road status)
    steps: dict[tuple[str, str], list[tuple[datetime, str, datetime, str]]] = {}
    for event_type, regency, case, at, p in events:
        if event_type == "RoadDamageReported":
            reports[(regency, case)] = (at, str(p["road_status"]))
        elif event_type == "RoadDamageHandled":
            steps.setdefault((regency, case), []).append((at, str(p["action"]), _at(p["reported_at"]),
                                                          str(p["road_status"])))
    rows: dict[str, RoadRow] = {}
    for key in sorted(set(reports) | set(steps)):
        regency = key[0]
        r = rows.setdefault(regency, RoadRow(regency))
        handled = sorted(steps.get(key, []))
        reported_at, status = reports.get(key) or (handled[0][2], handled[0][3])
        r.reports += 1
        setattr(r, f"reports_{status.lower()}", getattr(r, f"reports_{status.lower()}") + 1)
        actions = [a for _, a, _, _ in handled]
        r.forwarded += "FORWARDED" in actions
        r.rejected += "REJECTED" in actions
        repaired = [at for at, a, _, _ in handled if a == "REPAIRED"]
        if repaired:
            r.repaired += 1
            r.hours.append((repaired[0] - reported_at).total_seconds() / 3600)
        target = road_reference.handling_target_hours(status)
        if target is not None:
            r.with_target += 1
            first = next((at for at, a, _, _ in handled if a in road_reference.handling_actions()), None)
            if first is not None:
                within = (first - reported_at).total_seconds() / 3600 <= target
                r.handled_within_target += within
                r.handled_late += not within
    return [rows[k] for k in sorted(rows)]


def build_works_rows(events: Iterable[StoredEvent]) -> list[WorksRow]:
    """Fold the stored progress reports into one row per regency (pure: the heart of --measure works)."""
    contracts: dict[tuple[str, str], list[tuple[datetime, Mapping[str, Any]]]] = {}
    for event_type, regency, case, at, p in events:
        if event_type == "PublicWorksProgress":
            contracts.setdefault((regency, case), []).append((at, p))
    rows: dict[str, WorksRow] = {}
    for (regency, _), reports in sorted(contracts.items(), key=lambda kv: kv[0]):
        reports.sort(key=lambda x: x[0])
        r = rows.setdefault(regency, WorksRow(regency))
        latest = reports[-1][1]
        value = int(latest["contract_value_idr"])
        r.contracts += 1
        r.contract_value_idr += value
        r.progress.append(float(latest["physical_progress_pct"]))
        r.payment.append(float(latest["payment_pct"]))
        gap = max(float(p["payment_pct"]) - float(p["physical_progress_pct"]) for _, p in reports)
        if gap > 0:
            r.contracts_payment_ahead += 1
            r.paid_ahead_idr += round(gap / 100 * value)
    return [rows[k] for k in sorted(rows)]


def _stored(engine: sa.Engine, types: tuple[str, ...], regency: str | None) -> list[StoredEvent]:
    found: list[StoredEvent] = []
    for family in sorted({family_of(t) for t in types}):
        ev = EVENT_TABLES[family]
        q = sa.select(ev.c.event_type, ev.c.regency_code, ev.c.case_id, ev.c.occurred_at, ev.c.payload).where(
            ev.c.event_type.in_(types))
        if regency:
            q = q.where(ev.c.regency_code == regency)
        with engine.connect() as conn:
            found += [(t, reg, case, at, payload if isinstance(payload, Mapping) else json.loads(payload))
                      for t, reg, case, at, payload in conn.execute(q)]
    return found


def road_reports(engine: sa.Engine, *, regency: str | None = None) -> list[RoadRow]:
    """--measure roads from the store, optionally for one regency."""
    return build_road_rows(_stored(engine, ROAD_TYPES, regency))


def works_progress(engine: sa.Engine, *, regency: str | None = None) -> list[WorksRow]:
    """--measure works from the store, optionally for one regency."""
    return build_works_rows(_stored(engine, WORKS_TYPES, regency))


def export(rows: Iterable[RoadRow] | Iterable[WorksRow], columns: tuple[str, ...], fmt: Literal["csv", "json"]) -> str:
    """The rows as CSV or JSON text (regency first, as the report's other measures)."""
    data = [r.as_dict() for r in rows]
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for d in data:
        writer.writerow({k: "" if v is None else v for k, v in d.items()})
    return buf.getvalue()
