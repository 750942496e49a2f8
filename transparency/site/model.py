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
    charts_suppressed: bool = False  # the page has rows, but every figure a chart would draw is suppressed


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


def build_model(cells: Iterable[Cell], lang: Lang = "id") -> SiteModel:
    """The pages of the site from the monthly cells of `consumers.report.transparency` (all regencies)."""
    if lang not in LABELS:
        raise SiteError(f"--lang must be one of {', '.join(LABELS)}, not {lang!r}")
    L = LABELS[lang]
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
        pages.append(Page(
            path=regency_page_path(regency.code), title=regency.display_name,
            intro=L["regency_intro"] if own else L["no_data"],
            tables=[Table(f"wilayah-{regency.code}", L["table_regency"].format(name=regency.display_name),
                          REGENCY_COLUMNS, REGENCY_KEYS, rows)],
            charts=charts, regency_code=regency.code, charts_suppressed=bool(labels) and not charts))

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
                      province_rows)],
        charts=[c for c in overview_charts if c.has_data])
    return SiteModel(lang=lang, pages=[overview, *pages])
