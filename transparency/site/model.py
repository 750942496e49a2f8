"""The site's page model: what each page shows, built from the cells of `simpul report` and suppressed for print.

Every figure is a figure of the read model (consumers.report): a regency page's rows are its report cells, one per
service and month; the overview's rows are sums of those cells (shares from summed numerators and denominators,
medians over the pooled completion times). Then small cells are suppressed: a count of 1 to 4 people becomes
`<5`, and a share or median whose denominator counts fewer than 5 people is not shown. Charts, CSV and JSON are
drawn from the suppressed rows only, so no download or chart says more than the table.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from consumers.admissions import AdmissionRow
from consumers.infrastructure import ROAD_COLUMNS, WORKS_COLUMNS, RoadRow, WorksRow
from consumers.report import NO_SERVICE, Cell, median, sla_pct
from schemas import reference
from transparency.site.exceptions import SiteError
from transparency.site.labels import LABELS, Lang

SMALL = 5
"""Cells counting fewer people than this (and more than none) are suppressed."""
SUPPRESSED = "<5"

Value = int | float | str | None


def suppress_count(n: int) -> int | str:
    """A count as published: 0 and 5 or more as they are, 1 to 4 as `<5`."""
    return SUPPRESSED if 0 < n < SMALL else n


def suppress_share(value: float | None, denominator: int) -> float | str | None:
    """A share or median as published: not shown (`<5`) when fewer than 5 people stand behind it."""
    if value is None:
        return None
    return SUPPRESSED if denominator < SMALL else value


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


@dataclass
class Totals:
    """Cells summed (a regency's, a service-month's across the province): the same arithmetic as one cell."""

    requests: int = 0
    completed: int = 0
    issued: int = 0
    sla_met: int = 0
    sla_known: int = 0
    fee_anomalies: int = 0
    complaints: int = 0
    complaints_resolved_in_time: int = 0
    hours: list[float] = field(default_factory=list)

    def add(self, c: Cell) -> None:
        self.requests += c.requests
        self.completed += c.completed
        self.issued += c.issued
        self.sla_met += c.sla_met
        self.sla_known += c.sla_known
        self.fee_anomalies += c.fee_anomalies
        self.complaints += c.complaints
        self.complaints_resolved_in_time += c.complaints_resolved_in_time
        self.hours.extend(c.hours)


def published(t: Totals | Cell) -> dict[str, Value]:
    """The published (suppressed) figures of a cell or a sum of cells, rounded as `simpul report` rounds them."""
    return {
        "requests": suppress_count(t.requests),
        "completed": suppress_count(t.completed),
        "sla_met_pct": suppress_share(_round(sla_pct(t.sla_met, t.sla_known), 2), t.sla_known),
        "median_completion_hours": suppress_share(_round(median(t.hours), 3), len(t.hours)),
        "fee_anomalies": suppress_count(t.fee_anomalies),
        "complaints": suppress_count(t.complaints),
        "complaints_resolved_in_time_pct": suppress_share(
            _round(sla_pct(t.complaints_resolved_in_time, t.complaints), 2), t.complaints),
    }


FIGURES = ("requests", "completed", "sla_met_pct", "median_completion_hours", "fee_anomalies", "complaints",
           "complaints_resolved_in_time_pct")
"""The published figures, each the report column of the same name."""


@dataclass(frozen=True)
class Table:
    """One table of a page, as shown and as downloaded (`<slug>.csv`, `<slug>.json`)."""

    slug: str
    title: str
    columns: tuple[str, ...]  # shown in the HTML table
    keys: tuple[str, ...]  # every field of a row, in the downloads' order
    rows: list[dict[str, Value]]
    links: dict[int, str] = field(default_factory=dict)  # row index -> page the row's first cell links to
    note: str = ""  # what the figures count and what is suppressed, under the title (and in the JSON)


@dataclass(frozen=True)
class Chart:
    """A chart drawn by the vendored Chart.js from the (suppressed) figures of a table; suppressed values are gaps."""

    slug: str
    title: str
    kind: Literal["bar", "line"]
    labels: list[str]
    datasets: list[tuple[str, list[float | int | None]]]
    unit: str = ""
    horizontal: bool = False

    @property
    def has_data(self) -> bool:
        """False when every value is suppressed or missing: the page says so instead of drawing empty axes."""
        return any(v is not None for _, data in self.datasets for v in data)

    def config(self) -> dict[str, Any]:
        """What site.js hands to Chart.js (a data attribute: the CSP allows no inline script)."""
        return {"type": self.kind, "labels": self.labels, "unit": self.unit, "horizontal": self.horizontal,
                "datasets": [{"label": label, "data": data} for label, data in self.datasets]}


@dataclass(frozen=True)
class Page:
    """One HTML page: the overview or a regency."""

    path: str  # relative to the site's root, e.g. `index.html`, `wilayah/3374.html`
    title: str
    intro: str
    tables: list[Table]
    charts: list[Chart]
    regency_code: str | None = None
    charts_suppressed: bool = False  # service rows, but every figure a service chart would draw is suppressed


def service_name(code: str, lang: Lang) -> str:
    """A service's name in the page's language; `-` (a complaint naming no service) reads as such."""
    if code == NO_SERVICE:
        return LABELS[lang]["no_service"]
    try:
        standard = reference.standard_for(code)
    except Exception:  # noqa: BLE001 - a code the reference data does not know is shown as it is
        return code
    return standard.name_id if lang == "id" else standard.name


def standard_hours(service: str, regency: str) -> float | None:
    """The legal completion time of a service in a regency (reference data, with the regency's override)."""
    if service == NO_SERVICE:
        return None
    try:
        return reference.standard_for(service, regency).completion_time_hours
    except Exception:  # noqa: BLE001 - unknown service: no standard to show
        return None


def regency_page_path(code: str) -> str:
    return f"wilayah/{code}.html"


def _numeric(value: Value) -> float | int | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def regency_rows(code: str, cells: Sequence[Cell], lang: Lang) -> list[dict[str, Value]]:
    """A regency's table: one row per report cell (service x month), suppressed."""
    return [{"regency_code": code, "service_code": c.service_code, "service_name": service_name(c.service_code, lang),
             "period": c.period, **published(c), "standard_hours": standard_hours(c.service_code, code)}
            for c in cells]


REGENCY_KEYS = ("regency_code", "service_code", "service_name", "period", *FIGURES, "standard_hours")
OVERVIEW_KEYS = ("regency_code", "regency_name", *FIGURES)
PROVINCE_KEYS = ("service_code", "service_name", "period", *FIGURES)
REGENCY_COLUMNS = ("service_name", "period", "requests", "completed", "sla_met_pct", "median_completion_hours",
                   "standard_hours", "fee_anomalies", "complaints", "complaints_resolved_in_time_pct")
OVERVIEW_COLUMNS = ("regency_name", "requests", "completed", "sla_met_pct", "median_completion_hours",
                    "fee_anomalies", "complaints", "complaints_resolved_in_time_pct")
PROVINCE_COLUMNS = ("service_name", "period", "requests", "completed", "sla_met_pct", "median_completion_hours",
                    "fee_anomalies", "complaints", "complaints_resolved_in_time_pct")


def _by_service_and_month(rows: list[dict[str, Value]], figure: str,
                          lang: Lang) -> tuple[list[str], list[tuple[str, list[float | int | None]]]]:
    """Chart data: services on the axis, one dataset per month."""
    services = sorted({str(r["service_code"]) for r in rows if r["service_code"] != NO_SERVICE})
    months = sorted({str(r["period"]) for r in rows})
    at = {(r["service_code"], r["period"]): _numeric(r[figure]) for r in rows}
    return ([service_name(s, lang) for s in services],
            [(m, [at.get((s, m)) for s in services]) for m in months])


@dataclass(frozen=True)
class SiteModel:
    """Every page of the site, in one language."""

    lang: Lang
    pages: list[Page]

    @property
    def tables(self) -> list[Table]:
        return [t for p in self.pages for t in p.tables]


def build_model(cells: Iterable[Cell], lang: Lang = "id", measures: Measures | None = None) -> SiteModel:
    """The pages of the site from the monthly cells of `consumers.report.transparency` (all regencies) and the
    sector measures of `simpul report --measure admissions|roads|works` (none when `measures` is not given)."""
    if lang not in LABELS:
        raise SiteError(f"--lang must be one of {', '.join(LABELS)}, not {lang!r}")
    L = LABELS[lang]
    m = measures or Measures()
    admissions_of: dict[str, list[AdmissionRow]] = {}
    for a in m.admissions:
        admissions_of.setdefault(a.regency_code, []).append(a)
    roads_of = {r.regency_code: r for r in m.roads}
    works_of = {w.regency_code: w for w in m.works}
    admission_overview: list[dict[str, Value]] = []
    admission_links: dict[int, str] = {}
    road_overview: list[dict[str, Value]] = []
    works_overview: list[dict[str, Value]] = []
    by_regency: dict[str, list[Cell]] = {r.code: [] for r in reference.regencies()}
    for c in cells:
        if len(c.period) != 7:
            raise SiteError(f"the site shows months; got a cell of period {c.period!r} (use period='month')")
        by_regency.setdefault(c.regency_code, []).append(c)

    pages: list[Page] = []
    overview_rows: list[dict[str, Value]] = []
    links: dict[int, str] = {}
    province: dict[tuple[str, str], Totals] = {}
    for i, regency in enumerate(reference.regencies()):
        own = by_regency[regency.code]
        totals = Totals()
        for c in own:
            totals.add(c)
            province.setdefault((c.service_code, c.period), Totals()).add(c)
        overview_rows.append({"regency_code": regency.code, "regency_name": regency.display_name,
                              **published(totals)})
        links[i] = regency_page_path(regency.code)
        rows = regency_rows(regency.code, own, lang)
        labels, sla = _by_service_and_month(rows, "sla_met_pct", lang)
        _, requests = _by_service_and_month(rows, "requests", lang)
        charts = [c for c in (Chart(f"{regency.code}-sla", L["chart_sla_by_service"], "bar", labels, sla, unit="%"),
                              Chart(f"{regency.code}-requests", L["chart_requests_by_service"], "bar", labels,
                                    requests)) if c.has_data]
        name = regency.display_name
        spmb = admission_rows(regency.code, name, admissions_of.get(regency.code, []), lang)
        by_year: dict[int, AdmissionTotals] = {}
        for a in admissions_of.get(regency.code, []):
            by_year.setdefault(a.admission_year, AdmissionTotals()).add(a)
        for year, t in sorted(by_year.items()):
            admission_links[len(admission_overview)] = regency_page_path(regency.code)
            admission_overview.append({"regency_code": regency.code, "regency_name": name, "school_level": m.level,
                                       "admission_year": year, **published_admissions(t)})
        road_overview.append(road_row(regency.code, name, roads_of.get(regency.code)))
        works_overview.append(works_row(regency.code, name, works_of.get(regency.code)))
        sector_charts = _admission_route_chart(f"{regency.code}-spmb", spmb, m.level, L)
        sector_tables = ([
            Table(f"wilayah-{regency.code}-spmb", L["table_admissions_regency"].format(name=name, level=m.level),
                  ADMISSION_COLUMNS, ADMISSION_KEYS, spmb, note=L["note_admissions"]),
            Table(f"wilayah-{regency.code}-jalan", L["table_roads_regency"].format(name=name), ROAD_REGENCY_COLUMNS,
                  ROAD_KEYS, [road_overview[-1]], note=L["note_roads"]),
            Table(f"wilayah-{regency.code}-pekerjaan", L["table_works_regency"].format(name=name),
                  WORKS_REGENCY_COLUMNS, WORKS_KEYS, [works_overview[-1]], note=L["note_works"])]
            if measures is not None else [])
        pages.append(Page(
            path=regency_page_path(regency.code), title=regency.display_name,
            intro=L["regency_intro"] if own else L["no_data"],
            tables=[Table(f"wilayah-{regency.code}", L["table_regency"].format(name=regency.display_name),
                          REGENCY_COLUMNS, REGENCY_KEYS, rows), *sector_tables],
            charts=charts + sector_charts, regency_code=regency.code,
            charts_suppressed=bool(labels) and not charts))

    province_rows = [{"service_code": s, "service_name": service_name(s, lang), "period": m, **published(t)}
                     for (s, m), t in sorted(province.items())]
    labels, requests = _by_service_and_month(province_rows, "requests", lang)
    overview_charts = [Chart("provinsi-sla", L["chart_sla_by_regency"], "bar",
                             [str(r["regency_name"]) for r in overview_rows],
                             [(L["sla_met_pct"], [_numeric(r["sla_met_pct"]) for r in overview_rows])],
                             unit="%", horizontal=True)]
    if labels:
        overview_charts.append(Chart("provinsi-permohonan", L["chart_requests_by_service"], "bar", labels, requests))
    overview = Page(
        path="index.html", title=L["site_title"], intro=L["overview_intro"],
        tables=[Table("provinsi-wilayah", L["table_regencies"], OVERVIEW_COLUMNS, OVERVIEW_KEYS, overview_rows,
                      links),
                Table("provinsi-layanan", L["table_province_services"], PROVINCE_COLUMNS, PROVINCE_KEYS,
                      province_rows),
                *([Table("provinsi-spmb", L["table_admissions"].format(level=m.level), ADMISSION_OVERVIEW_COLUMNS,
                         ADMISSION_OVERVIEW_KEYS, admission_overview, admission_links, note=L["note_admissions"]),
                   Table("provinsi-jalan", L["table_roads"], ROAD_OVERVIEW_COLUMNS, ROAD_KEYS, road_overview, links,
                         note=L["note_roads"]),
                   Table("provinsi-pekerjaan", L["table_works"], WORKS_OVERVIEW_COLUMNS, WORKS_KEYS, works_overview,
                         links, note=L["note_works"])] if measures is not None else [])],
        charts=[c for c in overview_charts + (_sector_overview_charts(admission_overview, road_overview,
                                                                      works_overview, m.level, L)
                                              if measures is not None else []) if c.has_data])
    return SiteModel(lang=lang, pages=[overview, *pages])


# --- The sector measures of `simpul report --measure admissions|roads|works`, per regency -----------------------

ADMISSION_FIGURES = ("schools", "quota_seats", "applied", "admitted", "admitted_pct_of_quota", "schools_over_quota",
                     "admitted_after_deadline")
"""Published SPMB figures, each the report column of the same name (consumers.admissions)."""
ADMISSION_KEYS = ("regency_code", "regency_name", "school_level", "admission_year", "route", "route_name",
                  *ADMISSION_FIGURES)
ADMISSION_COLUMNS = ("admission_year", "route_name", *ADMISSION_FIGURES)
ADMISSION_OVERVIEW_KEYS = ("regency_code", "regency_name", "school_level", "admission_year", *ADMISSION_FIGURES)
ADMISSION_OVERVIEW_COLUMNS = ("regency_name", "admission_year", *ADMISSION_FIGURES)
ROAD_FIGURES = tuple(c for c in ROAD_COLUMNS if c not in ("regency_code", "regency_name"))
ROAD_KEYS = ("regency_code", "regency_name", *ROAD_FIGURES)
ROAD_REGENCY_COLUMNS = ROAD_FIGURES
ROAD_OVERVIEW_COLUMNS = ("regency_name", "reports", "repaired", "median_hours_to_repair", "forwarded", "rejected",
                         "with_target", "handled_within_target", "handled_late")
WORKS_FIGURES = tuple(c for c in WORKS_COLUMNS if c not in ("regency_code", "regency_name"))
WORKS_KEYS = ("regency_code", "regency_name", *WORKS_FIGURES)
WORKS_REGENCY_COLUMNS = WORKS_FIGURES
WORKS_OVERVIEW_COLUMNS = ("regency_name", *WORKS_FIGURES)


@dataclass
class AdmissionTotals:
    """A regency-year's routes summed: counts added, the share from the summed admissions and seats. `schools` is
    the same on every route (a quota names seats on each), so it is taken once, not added."""

    schools: int = 0
    quota_seats: int = 0
    applied: int = 0
    admitted: int = 0
    admitted_with_quota: int = 0
    schools_over_quota: int = 0
    admitted_after_deadline: int = 0

    def add(self, r: AdmissionRow) -> None:
        self.schools = max(self.schools, r.schools)
        self.quota_seats += r.quota_seats
        self.applied += r.applied
        self.admitted += r.admitted
        self.admitted_with_quota += r.admitted_with_quota
        self.schools_over_quota += r.schools_over_quota
        self.admitted_after_deadline += r.admitted_after_deadline

    @property
    def admitted_pct_of_quota(self) -> float | None:
        return round(100.0 * self.admitted_with_quota / self.quota_seats, 2) if self.quota_seats else None


def published_admissions(r: AdmissionRow | AdmissionTotals) -> dict[str, Value]:
    """SPMB figures as published. Applicants and admissions are people: 1 to 4 is `<5`, and so is the share of
    the quota when 1 to 4 admissions stand behind it (the seats are public, so the share would give the count
    away). Schools, seats and schools over quota count schools and seats, not people: shown as they are."""
    pct = r.admitted_pct_of_quota
    return {
        "schools": r.schools,
        "quota_seats": r.quota_seats,
        "applied": suppress_count(r.applied),
        "admitted": suppress_count(r.admitted),
        "admitted_pct_of_quota": SUPPRESSED if pct is not None and 0 < r.admitted_with_quota < SMALL else pct,
        "schools_over_quota": r.schools_over_quota,
        "admitted_after_deadline": suppress_count(r.admitted_after_deadline),
    }


def route_name(route: str, lang: Lang) -> str:
    """An SPMB route in the page's language (the route code when the labels do not know it)."""
    return LABELS[lang].get(f"route_{route.lower()}", route)


def admission_rows(code: str, name: str, rows: Sequence[AdmissionRow], lang: Lang) -> list[dict[str, Value]]:
    """A regency's SPMB table: one row per report row (year x route), suppressed."""
    return [{"regency_code": code, "regency_name": name, "school_level": r.school_level,
             "admission_year": r.admission_year, "route": r.route, "route_name": route_name(r.route, lang),
             **published_admissions(r)} for r in rows]


def road_row(code: str, name: str, row: RoadRow | None) -> dict[str, Value]:
    """A regency's road-damage reports as published: reports are about roads, not people, so nothing is
    suppressed; a regency without reports shows zeros (the report lists only regencies with reports)."""
    data = (row or RoadRow(code)).as_dict()
    return {**{k: data[k] for k in ROAD_FIGURES}, "regency_code": code, "regency_name": name}


def works_row(code: str, name: str, row: WorksRow | None) -> dict[str, Value]:
    """A regency's public works contracts as published: contracts are not people, nothing is suppressed; no
    contract id is shown (the report's rows hold none)."""
    data = (row or WorksRow(code)).as_dict()
    return {**{k: data[k] for k in WORKS_FIGURES}, "regency_code": code, "regency_name": name}


@dataclass(frozen=True)
class Measures:
    """The sector read models the site carries beside the service cells, as `simpul report --measure` gives them."""

    admissions: Sequence[AdmissionRow] = ()
    roads: Sequence[RoadRow] = ()
    works: Sequence[WorksRow] = ()
    level: str = "SMA"


def _admission_route_chart(slug: str, rows: list[dict[str, Value]], level: str,
                           L: dict[str, str]) -> list[Chart]:
    """A regency's seats and admissions per route in its latest admission year (suppressed admissions are gaps)."""
    if not rows:
        return []
    year = max(int(str(r["admission_year"])) for r in rows)
    latest = [r for r in rows if r["admission_year"] == year]
    chart = Chart(slug, L["chart_admissions_by_route"].format(level=level, year=year), "bar",
                  [str(r["route_name"]) for r in latest],
                  [(L["quota_seats"], [_numeric(r["quota_seats"]) for r in latest]),
                   (L["admitted"], [_numeric(r["admitted"]) for r in latest])])
    return [chart] if chart.has_data else []


def _sector_overview_charts(admissions: list[dict[str, Value]], roads: list[dict[str, Value]],
                            works: list[dict[str, Value]], level: str, L: dict[str, str]) -> list[Chart]:
    """The overview's charts of the sector measures, one bar per regency: seats against admissions (the latest
    admission year), road reports received against repaired, contracts against those paid ahead of progress."""
    charts: list[Chart] = []
    if admissions:
        year = max(int(str(r["admission_year"])) for r in admissions)
        latest = [r for r in admissions if r["admission_year"] == year]
        charts.append(Chart("provinsi-spmb", L["chart_admissions_by_regency"].format(level=level, year=year), "bar",
                            [str(r["regency_name"]) for r in latest],
                            [(L["quota_seats"], [_numeric(r["quota_seats"]) for r in latest]),
                             (L["admitted"], [_numeric(r["admitted"]) for r in latest])], horizontal=True))
    if any(r["reports"] for r in roads):
        charts.append(Chart("provinsi-jalan", L["chart_roads_by_regency"], "bar",
                            [str(r["regency_name"]) for r in roads],
                            [(L["reports"], [_numeric(r["reports"]) for r in roads]),
                             (L["repaired"], [_numeric(r["repaired"]) for r in roads])], horizontal=True))
    if any(r["contracts"] for r in works):
        charts.append(Chart("provinsi-pekerjaan", L["chart_works_by_regency"], "bar",
                            [str(r["regency_name"]) for r in works],
                            [(L["contracts"], [_numeric(r["contracts"]) for r in works]),
                             (L["contracts_payment_ahead"], [_numeric(r["contracts_payment_ahead"]) for r in works])],
                            horizontal=True))
    return charts
