"""Reference data the contract validates against: regencies, service standards, complaints, commodities.

The files beside this module cite their public source; loaders are cached because the data is read-only.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml

from schemas.exceptions import ReferenceDataError, UnknownServiceCode

REFERENCE_DIR = Path(__file__).resolve().parent
PROVINCE_CODE = "33"


@dataclass(frozen=True)
class Regency:
    """One of the 35 kabupaten/kota of Central Java."""

    code: str
    kind: Literal["kabupaten", "kota"]
    name: str

    @property
    def display_name(self) -> str:
        """`Kota Semarang`, `Kabupaten Semarang`: the name alone is ambiguous for six pairs."""
        return f"{self.kind.capitalize()} {self.name}"


@dataclass(frozen=True)
class ServiceStandard:
    """A service's published standard; `None` means "set by each regency" and no SLA/tariff is known."""

    code: str
    name: str
    name_id: str
    agency: str
    completion_time_hours: float | None
    official_fee_idr: int | None
    legal_basis: str
    note: str = ""
    regency_code: str | None = None  # set when a regency override was applied


@dataclass(frozen=True)
class ComplaintDeadlines:
    """SP4N-LAPOR! handling deadlines in working days."""

    verify_and_forward_working_days: int
    follow_up_working_days: int
    close_after_follow_up_working_days: int


@dataclass(frozen=True)
class ComplaintCategory:
    """A LaporGub-style complaint category with its (possibly overridden) deadlines."""

    code: str
    name: str
    name_id: str
    origin: Literal["reference", "simpul"]
    description: str
    deadlines: ComplaintDeadlines


@dataclass(frozen=True)
class ComplaintWorkflow:
    """Complaint statuses and the transitions allowed between them."""

    statuses: dict[str, str]
    transitions: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def can_transition(self, from_status: str, to_status: str) -> bool:
        """True if the workflow allows going from `from_status` to `to_status`."""
        return to_status in self.transitions.get(from_status, ())


@dataclass(frozen=True)
class Commodity:
    """A staple-food commodity whose price is observed; `unit` is what the price refers to."""

    code: str
    name: str
    name_id: str
    unit: Literal["KG", "LITRE"]
    simulation_price_idr: tuple[int, int]


def _read_yaml(name: str) -> dict[str, Any]:
    path = REFERENCE_DIR / name
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ReferenceDataError(f"cannot read reference file {path}: {exc}") from exc
    if not isinstance(data, dict) or not data.get("source"):
        raise ReferenceDataError(f"{path} must be a mapping with a `source:` key citing where the data comes from")
    return data


@cache
def regencies() -> tuple[Regency, ...]:
    """The 35 regencies in code order."""
    path = REFERENCE_DIR / "regencies.csv"
    try:
        lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln and not ln.startswith("#")]
    except OSError as exc:
        raise ReferenceDataError(f"cannot read {path}: {exc}") from exc
    rows = list(csv.DictReader(lines))
    result = tuple(Regency(code=r["code"], kind=r["kind"], name=r["name"]) for r in rows)  # type: ignore[arg-type]
    bad = [r.code for r in result if len(r.code) != 4 or not r.code.startswith(PROVINCE_CODE) or r.kind not in ("kabupaten", "kota")]
    if len(result) != 35 or bad or len({r.code for r in result}) != 35:
        raise ReferenceDataError(f"{path} must list the 35 regencies of province {PROVINCE_CODE} once each (bad: {bad})")
    return result


@cache
def regency_codes() -> frozenset[str]:
    """Exactly the 35 codes accepted as `regency_code`."""
    return frozenset(r.code for r in regencies())


def regency(code: str) -> Regency:
    """The regency with this code; `KeyError` naming the code if it is not one of the 35."""
    for r in regencies():
        if r.code == code:
            return r
    raise KeyError(f"{code!r} is not a Central Java regency code (3301-3329, 3371-3376)")


def _standard(code: str, raw: dict[str, Any]) -> ServiceStandard:
    try:
        return ServiceStandard(
            code=code,
            name=str(raw["name"]),
            name_id=str(raw.get("name_id", raw["name"])),
            agency=str(raw["agency"]),
            completion_time_hours=raw["completion_time_hours"],
            official_fee_idr=raw["official_fee_idr"],
            legal_basis=str(raw["legal_basis"]),
            note=str(raw.get("note", "")),
        )
    except KeyError as exc:
        raise ReferenceDataError(f"service_standards.yaml: service {code} lacks {exc.args[0]!r}") from exc


@cache
def service_standards() -> dict[str, ServiceStandard]:
    """The provincial default standard of every service, by service code."""
    data = _read_yaml("service_standards.yaml")
    return {s["code"]: _standard(s["code"], s) for s in data.get("services", [])}


@cache
def service_overrides() -> dict[str, dict[str, dict[str, Any]]]:
    """Per-regency overrides: regency code -> service code -> replaced fields."""
    data = _read_yaml("service_standards.yaml")
    overrides = {str(k): v for k, v in (data.get("overrides") or {}).items()}
    known = service_standards()
    for reg, services in overrides.items():
        if reg not in regency_codes():
            raise ReferenceDataError(f"service_standards.yaml: override for unknown regency {reg!r}")
        for code, fields in services.items():
            if code not in known:
                raise ReferenceDataError(f"service_standards.yaml: override for unknown service {code!r} in {reg}")
            unknown = set(fields) - {"completion_time_hours", "official_fee_idr", "legal_basis", "note"}
            if unknown:
                raise ReferenceDataError(f"service_standards.yaml: {reg}/{code} overrides unknown fields {sorted(unknown)}")
    return overrides


def service_codes() -> frozenset[str]:
    """Every service code of the catalog."""
    return frozenset(service_standards())


def standard_for(service_code: str, regency_code: str | None = None) -> ServiceStandard:
    """The standard that applies to `service_code` in `regency_code`: the regency's override if any, else the default."""
    try:
        base = service_standards()[service_code]
    except KeyError:
        raise UnknownServiceCode(
            f"unknown service code {service_code!r}; the catalog (schemas/reference/service_standards.yaml) "
            f"has: {', '.join(sorted(service_standards()))}"
        ) from None
    if regency_code is None:
        return base
    fields = service_overrides().get(regency_code, {}).get(service_code)
    if not fields:
        return base
    return replace(base, regency_code=regency_code, **fields)


@cache
def complaint_deadlines() -> ComplaintDeadlines:
    """The default SP4N-LAPOR! deadlines."""
    d = _read_yaml("complaint_categories.yaml")["deadlines"]
    return ComplaintDeadlines(**d)


@cache
def complaint_categories() -> dict[str, ComplaintCategory]:
    """Every complaint category by code, with its deadlines."""
    data = _read_yaml("complaint_categories.yaml")
    default = complaint_deadlines()
    result = {}
    for c in data["categories"]:
        deadlines = replace(default, **c.get("deadlines", {}))
        result[c["code"]] = ComplaintCategory(
            code=c["code"], name=c["name"], name_id=c["name_id"], origin=c["origin"],
            description=c["description"], deadlines=deadlines,
        )
    return result


def add_working_days(start: datetime, days: int) -> datetime:
    """`start` moved forward by `days` working days (Monday-Friday), same time of day."""
    current, added = start, 0
    while added < days:
        current += timedelta(days=1)
        added += current.weekday() < 5
    return current


def complaint_resolution_deadline(filed_at: datetime, category: str | None) -> datetime:
    """When a complaint filed at `filed_at` must have been answered under SP4N-LAPOR!: verify-and-forward plus
    follow-up working days of its category (the default deadlines for an unknown category). The alert rule and the
    transparency read model both read it here, so they cannot disagree."""
    known = complaint_categories().get(category or "")
    d = known.deadlines if known else complaint_deadlines()
    return add_working_days(filed_at.astimezone(UTC), d.verify_and_forward_working_days + d.follow_up_working_days)


@cache
def complaint_workflow() -> ComplaintWorkflow:
    """Complaint statuses and allowed transitions."""
    data = _read_yaml("complaint_categories.yaml")
    statuses = dict(data["statuses"])
    transitions = {k: tuple(v) for k, v in data["transitions"].items()}
    bad = {s for targets in transitions.values() for s in targets} | set(transitions)
    bad -= set(statuses)
    if bad:
        raise ReferenceDataError(f"complaint_categories.yaml: transitions name unknown statuses {sorted(bad)}")
    return ComplaintWorkflow(statuses=statuses, transitions=transitions)


@cache
def commodities() -> dict[str, Commodity]:
    """Observed staple-food commodities by code."""
    data = _read_yaml("commodities.yaml")
    return {
        c["code"]: Commodity(
            code=c["code"], name=c["name"], name_id=c["name_id"], unit=c["unit"],
            simulation_price_idr=(int(c["simulation_price_idr"][0]), int(c["simulation_price_idr"][1])),
        )
        for c in data["commodities"]
    }


def reference_sources() -> dict[str, list[str]]:
    """The cited source of every reference file, for docs and AsyncAPI."""
    out = {"regencies.csv": [
        ln.lstrip("# ").strip() for ln in (REFERENCE_DIR / "regencies.csv").read_text(encoding="utf-8").splitlines()
        if ln.startswith("#")
    ]}
    for name in ("service_standards.yaml", "complaint_categories.yaml", "commodities.yaml", "spmb_quotas.yaml"):
        src = _read_yaml(name)["source"]
        out[name] = [src] if isinstance(src, str) else list(src)
    return out
