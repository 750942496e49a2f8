"""The SPMB read model: per regency x admission year x route of one school level (SMA by default), the seats the
schools published and what they did with them.

Columns: schools (schools of the level with a published quota), quota_seats (the seats on the route, from each
school's latest SchoolQuotaPublished), applied (applications on the route), admitted / rejected (applications by
their latest decision), admitted_pct_of_quota (admitted against quota_seats, admissions of schools with a quota
only), schools_over_quota (schools that admitted more than their seats on the route: the `admission_over_quota`
alert) and admitted_after_deadline (admissions decided after the school's announced deadline: the
`admission_after_deadline` alert). A school belongs to the regency of its events; an application counts once per
case, so a re-sent decision never counts twice. Read from the store's society events (both dialects), folded here.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa

from consumers.store.tables import EVENT_TABLES
from schemas import reference
from schemas.catalog import family_of
from schemas.reference.spmb import LEVELS, ROUTES

COLUMNS = ("regency_code", "regency_name", "school_level", "admission_year", "route", "schools", "quota_seats",
           "applied", "admitted", "rejected", "admitted_pct_of_quota", "schools_over_quota",
           "admitted_after_deadline")
EVENT_TYPES = ("SchoolQuotaPublished", "SchoolAdmissionApplied", "SchoolAdmissionDecided")


@dataclass
class AdmissionRow:
    """One regency x year x route of one school level."""

    regency_code: str
    school_level: str
    admission_year: int
    route: str
    schools: int = 0
    quota_seats: int = 0
    applied: int = 0
    admitted: int = 0
    rejected: int = 0
    admitted_with_quota: int = 0
    schools_over_quota: int = 0
    admitted_after_deadline: int = 0

    @property
    def admitted_pct_of_quota(self) -> float | None:
        """Admissions (of schools with a quota) against the seats; None without seats."""
        return round(100.0 * self.admitted_with_quota / self.quota_seats, 2) if self.quota_seats else None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("admitted_with_quota")
        try:
            name = reference.regency(self.regency_code).display_name
        except KeyError:
            name = ""
        data.update(regency_name=name, admitted_pct_of_quota=self.admitted_pct_of_quota)
        return {c: data[c] for c in COLUMNS}


def _at(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def build_rows(events: Iterable[tuple[str, str, datetime, Mapping[str, Any]]], level: str = "SMA") -> list[AdmissionRow]:
    """Fold (event_type, regency_code, occurred_at, payload) of the SPMB events into rows of `level` (pure: the
    unit-tested heart of `simpul report --measure admissions`). Every route of every regency-year seen has a row."""
    quotas: dict[tuple[str, int], tuple[datetime, str, Mapping[str, Any]]] = {}  # (school, year) -> latest
    applications: dict[tuple[str, str], tuple[str, int, str]] = {}  # (regency, case) -> (school, year, route)
    decisions: dict[tuple[str, str], tuple[datetime, str, Mapping[str, Any]]] = {}  # (regency, case) -> latest
    for event_type, regency, occurred_at, p in events:
        if p.get("school_level") != level:
            continue
        if event_type == "SchoolQuotaPublished":
            key = (str(p["school_id"]), int(p["admission_year"]))
            if key not in quotas or occurred_at >= quotas[key][0]:
                quotas[key] = (occurred_at, regency, p)
        elif event_type == "SchoolAdmissionApplied":
            applications[(regency, str(p["case_id"]))] = (str(p["school_id"]), int(p["admission_year"]), str(p["route"]))
        elif event_type == "SchoolAdmissionDecided":
            key = (regency, str(p["case_id"]))
            if key not in decisions or occurred_at >= decisions[key][0]:
                decisions[key] = (occurred_at, regency, p)
    rows: dict[tuple[str, int, str], AdmissionRow] = {}

    def row(regency: str, year: int, route: str) -> AdmissionRow:
        for r in ROUTES:  # every route of a regency-year, so a route nobody used shows 0
            rows.setdefault((regency, year, r), AdmissionRow(regency, level, year, r))
        return rows[(regency, year, route)]

    for (_, year), (_, regency, p) in quotas.items():
        for route in ROUTES:
            r = row(regency, year, route)
            r.quota_seats += int(p[f"seats_{route.lower()}"])
            r.schools += 1
    for (regency, _), (school, year, route) in applications.items():
        row(regency, year, route).applied += 1
    admitted: dict[tuple[str, int, str], int] = {}
    for (regency, _), (_, _, p) in decisions.items():
        year, route, school = int(p["admission_year"]), str(p["route"]), str(p["school_id"])
        r = row(regency, year, route)
        if p["decision"] != "ADMITTED":
            r.rejected += 1
            continue
        r.admitted += 1
        quota = quotas.get((school, year))
        if quota is None:
            continue
        r.admitted_with_quota += 1
        admitted[(school, year, route)] = admitted.get((school, year, route), 0) + 1
        if _at(p["decided_at"]) > _at(quota[2]["decision_deadline"]):
            r.admitted_after_deadline += 1
    for (school, year, route), n in admitted.items():
        _, regency, q = quotas[(school, year)]
        if n > int(q[f"seats_{route.lower()}"]):
            rows[(regency, year, route)].schools_over_quota += 1
    return [rows[k] for k in sorted(rows, key=lambda k: (k[0], k[1], ROUTES.index(k[2])))]


def admissions(engine: sa.Engine, *, level: str = "SMA", regency: str | None = None) -> list[AdmissionRow]:
    """The read model from the store (both dialects), optionally for one regency."""
    if level not in LEVELS:
        raise ValueError(f"{level!r} is not a school level; use one of {', '.join(LEVELS)}")
    ev = EVENT_TABLES[family_of("SchoolAdmissionDecided")]
    q = sa.select(ev.c.event_type, ev.c.regency_code, ev.c.occurred_at, ev.c.payload).where(
        ev.c.event_type.in_(EVENT_TYPES))
    if regency:
        q = q.where(ev.c.regency_code == regency)
    with engine.connect() as conn:
        found = [(t, reg, at, payload if isinstance(payload, Mapping) else json.loads(payload))
                 for t, reg, at, payload in conn.execute(q)]
    return build_rows(found, level)


def export(rows: Iterable[AdmissionRow], fmt: Literal["csv", "json"]) -> str:
    """The rows as CSV or JSON text (the same columns as `simpul report`'s other measures: regency first)."""
    data = [r.as_dict() for r in rows]
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for d in data:
        writer.writerow({k: "" if v is None else v for k, v in d.items()})
    return buf.getvalue()
