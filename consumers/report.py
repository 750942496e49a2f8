"""The transparency read model: per regency x service x period, what citizens were promised and what they got.

Columns: requests (cases submitted in the period), completed (of those, cases with a completion, any outcome),
issued, sla_met / sla_known / sla_met_pct (issued cases with a known standard completed within it),
median_completion_hours (issued cases; computed here, so it is the same on SQLite and PostgreSQL), fee_anomalies
(cases charged above the official tariff), complaints (filed in the period about that service; `-` when the
complaint names no service), complaints_resolved / complaints_resolved_in_time / complaints_resolved_in_time_pct
(of those complaints, the ones that reached RESOLVED, and the ones that did so by their SP4N-LAPOR! deadline:
filed_at + verify-and-forward + follow-up working days of the complaint's category, schemas/reference/
complaint_categories.yaml, the deadline the `complaint_overdue` alert uses; the share is of all complaints filed).
A case belongs to the period of its submission, a complaint to that of its filing.
The same numbers (without the median and the complaint resolution) are the SQL views `transparency` (month) and
`transparency_daily` (day).
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import sqlalchemy as sa

from consumers.store.tables import EVENT_TABLES, complaints, service_requests
from schemas import reference
from schemas.catalog import family_of

Period = Literal["month", "day"]
NO_SERVICE = "-"
COLUMNS = ("regency_code", "regency_name", "service_code", "period", "requests", "completed", "issued",
           "sla_met", "sla_known", "sla_met_pct", "median_completion_hours", "fee_anomalies", "complaints",
           "complaints_resolved", "complaints_resolved_in_time", "complaints_resolved_in_time_pct")
RESOLVED = "RESOLVED"


def period_of(at: datetime, period: Period) -> str:
    """`YYYY-MM` or `YYYY-MM-DD` of a timestamp, in UTC."""
    return at.astimezone(UTC).strftime("%Y-%m" if period == "month" else "%Y-%m-%d")


def median(values: Iterable[float]) -> float | None:
    """The median (mean of the two middle values for an even count); None for no values."""
    data = sorted(values)
    return statistics.median(data) if data else None


def resolution_deadline(filed_at: datetime, category: str | None) -> datetime:
    """When a complaint filed at `filed_at` must have been answered (schemas.reference, as the alert rule reads it)."""
    return reference.complaint_resolution_deadline(filed_at, category)


def sla_pct(met: int, known: int) -> float | None:
    """Percentage of SLA-known cases that met it; None when no case has a known standard."""
    return 100.0 * met / known if known else None


@dataclass
class Cell:
    """One regency x service x period of the read model."""

    regency_code: str
    service_code: str
    period: str
    requests: int = 0
    completed: int = 0
    issued: int = 0
    sla_met: int = 0
    sla_known: int = 0
    fee_anomalies: int = 0
    complaints: int = 0
    complaints_resolved: int = 0
    complaints_resolved_in_time: int = 0
    hours: list[float] = field(default_factory=list, repr=False)

    @property
    def sla_met_pct(self) -> float | None:
        return sla_pct(self.sla_met, self.sla_known)

    @property
    def complaints_resolved_in_time_pct(self) -> float | None:
        """Share of the complaints filed in the cell resolved by their deadline; None for no complaint."""
        return sla_pct(self.complaints_resolved_in_time, self.complaints)

    @property
    def median_completion_hours(self) -> float | None:
        return median(self.hours)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("hours")
        try:
            name = reference.regency(self.regency_code).display_name
        except KeyError:
            name = ""
        pct, med, res = self.sla_met_pct, self.median_completion_hours, self.complaints_resolved_in_time_pct
        data.update(regency_name=name, sla_met_pct=None if pct is None else round(pct, 2),
                    median_completion_hours=None if med is None else round(med, 3),
                    complaints_resolved_in_time_pct=None if res is None else round(res, 2))
        return {c: data[c] for c in COLUMNS}


def build_cells(service_rows: Iterable[Mapping[str, Any]], complaint_rows: Iterable[Mapping[str, Any]],
                period: Period = "month") -> list[Cell]:
    """Fold case rows into cells (pure: the unit-tested heart of `simpul report`). A complaint row may carry
    `category` and `resolved_at` (when it first reached RESOLVED) for the resolution columns."""
    cells: dict[tuple[str, str, str], Cell] = {}

    def cell(reg: str, svc: str, at: datetime) -> Cell:
        key = (reg, svc, period_of(at, period))
        if key not in cells:
            cells[key] = Cell(*key)
        return cells[key]

    for r in service_rows:
        if r["submitted_at"] is None:
            continue
        c = cell(r["regency_code"], r["service_code"], r["submitted_at"])
        c.requests += 1
        c.completed += r["completed_at"] is not None
        if r["outcome"] == "ISSUED":
            c.issued += 1
            if r["completion_hours"] is not None:
                c.hours.append(float(r["completion_hours"]))
        if r["sla_met"] is not None:
            c.sla_known += 1
            c.sla_met += bool(r["sla_met"])
        c.fee_anomalies += bool(r["fee_anomaly"])
    for r in complaint_rows:
        if r["filed_at"] is None:
            continue
        c = cell(r["regency_code"], r["service_code"] or NO_SERVICE, r["filed_at"])
        c.complaints += 1
        resolved_at = r.get("resolved_at")
        if resolved_at is not None:
            c.complaints_resolved += 1
            c.complaints_resolved_in_time += resolved_at <= resolution_deadline(r["filed_at"], r.get("category"))
    return [cells[k] for k in sorted(cells)]


def transparency(engine: sa.Engine, *, period: Period = "month", regency: str | None = None) -> list[Cell]:
    """The read model from the store (both dialects), optionally for one regency."""
    sr, cp = service_requests, complaints
    ev = EVENT_TABLES[family_of("ComplaintStatusChanged")]
    q_sr = sa.select(sr.c.regency_code, sr.c.service_code, sr.c.submitted_at, sr.c.completed_at, sr.c.outcome,
                     sr.c.completion_hours, sr.c.sla_met, sr.c.fee_anomaly)
    q_cp = sa.select(cp.c.regency_code, cp.c.case_id, cp.c.category, cp.c.service_code, cp.c.filed_at)
    q_res = sa.select(ev.c.regency_code, ev.c.case_id, ev.c.occurred_at).where(
        ev.c.event_type == "ComplaintStatusChanged", ev.c.payload["to_status"].as_string() == RESOLVED)
    if regency:
        q_sr, q_cp = q_sr.where(sr.c.regency_code == regency), q_cp.where(cp.c.regency_code == regency)
        q_res = q_res.where(ev.c.regency_code == regency)
    with engine.connect() as conn:
        resolved: dict[tuple[str, str], datetime] = {}
        for reg, case, at in conn.execute(q_res):
            key = (reg, case)
            resolved[key] = min(at, resolved.get(key, at))
        complaint_rows = [{**r._mapping, "resolved_at": resolved.get((r.regency_code, r.case_id))}
                          for r in conn.execute(q_cp)]
        return build_cells((r._mapping for r in conn.execute(q_sr)), complaint_rows, period)


def to_json(cells: Iterable[Cell]) -> str:
    return json.dumps([c.as_dict() for c in cells], indent=2, ensure_ascii=False) + "\n"


def to_csv(cells: Iterable[Cell]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for c in cells:
        writer.writerow({k: "" if v is None else v for k, v in c.as_dict().items()})
    return buf.getvalue()


def export(cells: Iterable[Cell], fmt: Literal["csv", "json"]) -> str:
    """The read model as CSV or JSON text."""
    return to_csv(cells) if fmt == "csv" else to_json(cells)
