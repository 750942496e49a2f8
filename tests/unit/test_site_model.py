"""The public site's page model and files, against a real SQLite store filled by the store's own writer with a
seeded simulation (tokenised as the gatekeeper would): all 35 regencies, every figure the figure of
`simpul report` or `<5`, and none of the run's NIKs, tokens, case ids, event ids or complaint texts in any file."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import pytest
import sqlalchemy as sa

from consumers.admissions import AdmissionRow, admissions
from consumers.infrastructure import RoadRow, WorksRow, road_reports, works_progress
from consumers.report import NO_SERVICE, Cell, transparency
from consumers.store import writer
from consumers.store.db import connect, migrate
from consumers.store.rows import BatchRows, Coordinates
from producers.simulator import plan
from producers.simulator.model import Expect
from producers.simulator.traffic import nik_token
from schemas import reference
from schemas.catalog import nik_fields
from schemas.nik import NikContext, validation_context
from transparency.site import privacy
from transparency.site.build import build_site
from transparency.site.exceptions import LeakError, SiteError
from transparency.site.build import read_measures
from transparency.site.model import (ADMISSION_FIGURES, FIGURES, ROAD_FIGURES, SUPPRESSED, WORKS_FIGURES, Measures,
                                     build_model, published, published_admissions, suppress_count, suppress_share)
from transparency.site.render import MARKER, render, write

SEED = 20261202
NIK_KEY = "site-test-nik-key"
EVENTS = 2500
FREE_TEXT = {"RoadDamageReported": ("road_name", "photo_ref"), "RoadDamageHandled": ("note",),
             "PublicWorksProgress": ("contract_id", "work_name", "verified_by")}
"""Free text and ids of the new families the site does not publish (case ids are secrets already)."""


@cache
def seeded() -> tuple[list, set[str]]:
    """(canonical events of a seeded plan, every secret string of the run: raw NIKs, tokens, case ids, event ids,
    complaint titles)."""
    p = plan(EVENTS, SEED, nik_hmac_key=NIK_KEY)
    events, secrets = [], set()
    for r in p.records:
        ev = r.event
        secrets |= {ev.case_id, str(ev.event_id)}
        for f in nik_fields(type(ev).event_type):
            if getattr(ev, f):
                secrets |= {getattr(ev, f), nik_token(NIK_KEY, getattr(ev, f))}
        if type(ev).event_type == "ComplaintFiled":
            secrets.add(ev.title)  # type: ignore[attr-defined]
        for f in FREE_TEXT.get(type(ev).event_type, ()):
            if isinstance(getattr(ev, f), str) and len(getattr(ev, f)) >= 8:
                secrets.add(getattr(ev, f))
        if r.expect is not Expect.EVENT:
            continue
        tokens = {f: nik_token(NIK_KEY, getattr(ev, f)) for f in nik_fields(type(ev).event_type) if getattr(ev, f)}
        events.append(type(ev).model_validate({**ev.model_dump(), **tokens},
                                              context=validation_context(NikContext.CANONICAL)))
    return events, secrets


def fill(engine: sa.Engine, events) -> None:
    """Write events through the store sink's own row folding and bulk writer, in batches like the sink's."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    for start in range(0, len(events), 500):
        batch = BatchRows()
        for i, ev in enumerate(events[start:start + 500], start):
            batch.add_event(ev, Coordinates(f"p.events.{type(ev).family}", 0, i), now)
        with engine.begin() as conn:
            writer.write_batch(conn, batch)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> sa.Engine:
    engine = connect(f"sqlite:///{tmp_path_factory.mktemp('site') / 'store.sqlite'}")
    migrate(engine)
    fill(engine, seeded()[0])
    return engine


@pytest.fixture(scope="module")
def site(store: sa.Engine, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("built") / "site"
    result = build_site(store, out, now=datetime(2026, 12, 2, 12, 0, tzinfo=UTC))
    assert result.regencies == 35 and result.pages == 2 * 37 and result.cells > 0  # Indonesian, and English in en/
    return out


def test_suppression_rules() -> None:
    assert [suppress_count(n) for n in (0, 1, 4, 5, 120)] == [0, SUPPRESSED, SUPPRESSED, 5, 120]
    assert suppress_share(None, 0) is None and suppress_share(100.0, 4) == SUPPRESSED and suppress_share(75.0, 5) == 75.0
    cell = Cell("3374", "KTP_EL", "2025-03", requests=7, completed=3, issued=3, sla_met=2, sla_known=3,
                fee_anomalies=0, complaints=6, complaints_resolved_in_time=5, hours=[1.0, 2.0, 30.0])
    assert published(cell) == {"requests": 7, "completed": SUPPRESSED, "sla_met_pct": SUPPRESSED,
                               "median_completion_hours": SUPPRESSED, "fee_anomalies": 0, "complaints": 6,
                               "complaints_resolved_in_time_pct": 83.33}


def test_every_regency_has_a_page_even_without_data() -> None:
    only = Cell("3374", "KTP_EL", "2025-03", requests=9, completed=9, issued=9, sla_met=9, sla_known=9,
                hours=[1.0] * 9)
    model = build_model([only], "en")
    regency_pages = [p for p in model.pages if p.regency_code]
    assert sorted(p.regency_code for p in regency_pages) == sorted(reference.regency_codes())
    assert len(regency_pages) == 35
    empty = next(p for p in regency_pages if p.regency_code == "3301")
    assert empty.tables[0].rows == [] and empty.charts == [] and "No data" in empty.intro
    overview = model.pages[0].tables[0]
    assert len(overview.rows) == 35
    assert next(r for r in overview.rows if r["regency_code"] == "3374")["requests"] == 9
    assert next(r for r in overview.rows if r["regency_code"] == "3301")["requests"] == 0
    with pytest.raises(SiteError, match="--lang"):
        build_model([only], "fr")  # type: ignore[arg-type]


def test_regency_figures_equal_the_report_cells(store: sa.Engine) -> None:
    """Each regency row is a report cell: the same figure, or `<5` exactly where the report counts 1 to 4
    (for a share or median: where its denominator does)."""
    cells = transparency(store)
    report = {(c.regency_code, c.service_code, c.period): c for c in cells}
    model = build_model(cells)
    rows = [r for p in model.pages if p.regency_code for r in p.tables[0].rows]
    assert len(rows) == len(cells)
    shown = suppressed = 0
    denominators = {"sla_met_pct": "sla_known", "median_completion_hours": "issued",
                    "complaints_resolved_in_time_pct": "complaints"}
    for row in rows:
        cell = report[(row["regency_code"], row["service_code"], row["period"])]
        expected = cell.as_dict()
        for f in FIGURES:
            if row[f] == SUPPRESSED:
                suppressed += 1
                base = getattr(cell, denominators.get(f, f))
                assert 0 < base < 5 if f not in denominators else base < 5, (row, f)
            else:
                shown += 1
                assert row[f] == expected[f], (row, f, expected[f])
    assert shown > 0 and suppressed > 0  # the seeded run has both big and small cells
    assert any(r["service_code"] == NO_SERVICE for r in rows)


def test_overview_sums_the_report(store: sa.Engine, site: Path) -> None:
    cells = transparency(store)
    data = json.loads((site / "data" / "provinsi-wilayah.json").read_text("utf-8"))
    assert len(data["rows"]) == 35
    for row in data["rows"]:
        own = [c for c in cells if c.regency_code == row["regency_code"]]
        requests = sum(c.requests for c in own)
        assert row["requests"] == (SUPPRESSED if 0 < requests < 5 else requests)
        complaints = sum(c.complaints for c in own)
        assert row["complaints"] == (SUPPRESSED if 0 < complaints < 5 else complaints)


def test_downloads_equal_the_tables(store: sa.Engine, site: Path) -> None:
    """Each regency's CSV and JSON carry the same (suppressed) figures, and the report's where not suppressed."""
    report = {(c.regency_code, c.service_code, c.period): c.as_dict() for c in transparency(store)}
    seen = 0
    for code in reference.regency_codes():
        as_json = json.loads((site / "data" / f"wilayah-{code}.json").read_text("utf-8"))
        as_csv = list(csv.DictReader(io.StringIO((site / "data" / f"wilayah-{code}.csv").read_text("utf-8"))))
        assert len(as_json["rows"]) == len(as_csv)
        for j, c in zip(as_json["rows"], as_csv, strict=True):
            assert j["regency_code"] == c["regency_code"] == code
            expected = report[(code, j["service_code"], j["period"])]
            for f in FIGURES:
                assert c[f] == ("" if j[f] is None else str(j[f]))
                if j[f] != SUPPRESSED:
                    assert j[f] == expected[f]
                    seen += 1
        assert (site / "wilayah" / f"{code}.html").is_file()
    assert seen > 100


def test_no_secret_of_the_run_in_any_file(site: Path) -> None:
    _, secrets = seeded()
    assert len(secrets) > 2000
    files = [p for p in site.rglob("*") if p.is_file()]
    assert len(files) > 100
    for path in files:
        text = path.read_text("utf-8")
        found = [s for s in secrets if s in text]
        assert found == [], (path, found[:3])
        assert "nik:" not in text.lower() or path.name == "chart.umd.min.js"
        if path.parent.name != "static":
            assert privacy.NIK_RUN.search(text) is None, path


def test_pages_are_csp_clean(site: Path) -> None:
    """No inline script or style anywhere: scripts are the vendored Chart.js and site.js, charts read data attributes."""
    for page in site.rglob("*.html"):
        text = page.read_text("utf-8")
        assert "<style" not in text and " style=" not in text and "javascript:" not in text
        scripts = text.count("<script")
        assert scripts == text.count('<script src="') == 2, page
        assert "Content-Security-Policy" in text
    index = (site / "index.html").read_text("utf-8")
    assert index.count("data-chart=") == 5 and index.count('href="data/provinsi-wilayah.csv"') == 1
    for slug in ("provinsi-spmb", "provinsi-jalan", "provinsi-pekerjaan"):
        assert f'id="chart-{slug}"' in index and f'href="data/{slug}.json"' in index
    assert 'href="wilayah/3374.html"' in index and "Kota Semarang" in index


def test_the_build_refuses_a_leak() -> None:
    privacy.check("ok.html", "root 3f5a0123456789012345678901234567 and 12,345 requests")
    for text, reason in (("NIK 3374015502900001 here", "16-digit"), ('"nik:' + "A" * 43 + '"', "NIK token")):
        with pytest.raises(LeakError, match=reason):
            privacy.check("page.html", text)
    cell = Cell("3374", "3374015502900001", "2025-03", requests=9)  # a NIK smuggled in as a service code
    with pytest.raises(LeakError, match="16-digit"):
        render(build_model([cell]), None, datetime(2026, 1, 1, tzinfo=UTC))


def test_checkpoint_page(tmp_path: Path, site: Path) -> None:
    assert "Belum ada checkpoint" in (site / "checkpoint.html").read_text("utf-8")
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from transparency.checkpoint import Checkpoint as Head
    from transparency.checkpoint import sign, verifier_key
    from transparency.site.render import Checkpoint

    key = Ed25519PrivateKey.generate()
    head = Head(origin="jateng.example/simpul", size=42, root_hash=bytes(range(32)))
    note = sign(head, "jateng.example/simpul", key)
    cp = Checkpoint(origin=head.origin, size=42, root_hash=bytes(range(32)).hex(),
                    signed_at=datetime(2026, 12, 2, tzinfo=UTC), note=note,
                    verifier_key=verifier_key("jateng.example/simpul", key.public_key()))
    files = render(build_model([]), cp, datetime(2026, 12, 2, tzinfo=UTC) + timedelta(minutes=1))
    write(files, tmp_path / "s")
    page = (tmp_path / "s" / "checkpoint.html").read_text("utf-8")
    assert "42" in page and cp.root_hash in page and cp.verifier_key in page
    assert (tmp_path / "s" / "checkpoint.txt").read_text("utf-8") == note
    assert json.loads((tmp_path / "s" / "checkpoint.json").read_text("utf-8"))["size"] == 42
    # The standalone verifier of docs/ is published with the site, with the command to run it on this key.
    assert (tmp_path / "s" / "audit_verify.py").read_text("utf-8").startswith("#!/usr/bin/env python3")
    assert f"python3 audit_verify.py --key '{cp.verifier_key}' proof.json" in page


def test_write_replaces_only_a_site(tmp_path: Path) -> None:
    files = render(build_model([]), None, datetime(2026, 1, 1, tzinfo=UTC))
    write(files, tmp_path / "site")
    (tmp_path / "site" / "stale.html").write_text("old")
    write(files, tmp_path / "site")
    assert not (tmp_path / "site" / "stale.html").exists() and (tmp_path / "site" / MARKER).is_file()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "thesis.docx").write_text("mine")
    with pytest.raises(SiteError, match="not a Simpul site"):
        write(files, tmp_path / "other")
    assert (tmp_path / "other" / "thesis.docx").read_text() == "mine"


def test_a_chart_of_suppressed_figures_is_not_drawn() -> None:
    small = Cell("3374", "KTP_EL", "2025-03", requests=3, completed=3, issued=3, sla_met=3, sla_known=3,
                 hours=[1.0] * 3)
    page = next(p for p in build_model([small]).pages if p.regency_code == "3374")
    assert page.charts == [] and page.charts_suppressed
    files = render(build_model([small]), None, datetime(2026, 1, 1, tzinfo=UTC))
    assert b"charts-suppressed" in files["wilayah/3374.html"] and b"data-chart" not in files["wilayah/3374.html"]
    big = Cell("3374", "KTP_EL", "2025-03", requests=8, completed=8, issued=8, sla_met=6, sla_known=8,
               hours=[1.0] * 8)
    (sla, requests) = next(p for p in build_model([big]).pages if p.regency_code == "3374").charts
    assert sla.config()["datasets"] == [{"label": "2025-03", "data": [75.0]}] and sla.unit == "%"
    assert requests.config()["datasets"][0]["data"] == [8] and requests.labels == ["Kartu Tanda Penduduk elektronik"]


def test_every_link_of_both_language_trees_resolves(site: Path) -> None:
    """Indonesian at the root, English under en/, each page switching to its counterpart; every href, src and
    menu entry of every page names a file of the site."""
    import re

    pages = sorted(site.rglob("*.html"))
    assert len(pages) == 74 and (site / "en" / "wilayah" / "3374.html").is_file()
    checked = 0
    for page in pages:
        text = page.read_text("utf-8")
        root = Path(*[".."] * (len(page.relative_to(site).parts) - 1)) if len(page.relative_to(site).parts) > 1 else Path()
        tree = re.search(r'data-root="([^"]*)"', text).group(1)  # type: ignore[union-attr]
        targets = re.findall(r'(?:href|src)="([^"#]+)"', text)
        targets += [tree + v for v in re.findall(r'<option value="([^"]+)"', text)]
        for target in targets:
            assert (page.parent / target).resolve().is_file(), (page, target)
            assert (page.parent / target).resolve().is_relative_to(site.resolve()), (page, target)
            checked += 1
        assert (page.parent / root / "static" / "site.js").resolve().is_file()
    assert checked > 74 * 40
    index, english = (site / "index.html").read_text("utf-8"), (site / "en" / "index.html").read_text("utf-8")
    assert '<html lang="id">' in index and 'href="en/index.html" hreflang="en"' in index
    assert '<html lang="en">' in english and 'href="../index.html" hreflang="id"' in english
    assert "Requests" in english and "Permohonan" in index
    assert 'href="../../wilayah/3374.html" hreflang="id"' in (site / "en" / "wilayah" / "3374.html").read_text("utf-8")


# --- The sector measures: SPMB admissions, road damage reports, works contracts -----------------------------------

PEOPLE = {"applied": "applied", "admitted": "admitted", "admitted_after_deadline": "admitted_after_deadline",
          "admitted_pct_of_quota": "admitted_with_quota"}
"""The SPMB figures that count people (or whose share gives a count of people away), and what they count."""


def _table(model, slug: str):
    return next(t for t in model.tables if t.slug == slug)


def test_admission_suppression_rules() -> None:
    row = AdmissionRow("3374", "SMA", 2025, "AFIRMASI", schools=2, quota_seats=40, applied=9, admitted=3,
                       rejected=6, admitted_with_quota=3, schools_over_quota=1, admitted_after_deadline=2)
    assert published_admissions(row) == {"schools": 2, "quota_seats": 40, "applied": 9, "admitted": SUPPRESSED,
                                         "admitted_pct_of_quota": SUPPRESSED, "schools_over_quota": 1,
                                         "admitted_after_deadline": SUPPRESSED}
    none = AdmissionRow("3374", "SMA", 2025, "MUTASI", schools=2, quota_seats=10)
    assert published_admissions(none)["admitted_pct_of_quota"] == 0.0 and published_admissions(none)["admitted"] == 0
    # Roads and contracts are not people: a single report or contract is shown as it is.
    model = build_model([], "id", Measures(roads=[RoadRow("3374", reports=1, repaired=1, hours=[3.5])],
                                           works=[WorksRow("3374", contracts=1, contract_value_idr=10**9,
                                                           contracts_payment_ahead=1, paid_ahead_idr=5 * 10**7,
                                                           progress=[40.0], payment=[45.0])]))
    road = _table(model, "wilayah-3374-jalan").rows
    assert road[0]["reports"] == 1 and road[0]["median_hours_to_repair"] == 3.5
    assert _table(model, "wilayah-3374-pekerjaan").rows[0]["contracts_payment_ahead"] == 1
    assert next(r for r in _table(model, "provinsi-jalan").rows if r["regency_code"] == "3301")["reports"] == 0


def test_admissions_equal_the_report(store: sa.Engine) -> None:
    """Each regency's SPMB row is a row of `simpul report --measure admissions --level SMA`: the same figure, or
    `<5` exactly where it counts 1 to 4 people; the overview adds a regency-year's routes up."""
    report = admissions(store, level="SMA")
    assert report and {r.school_level for r in report} == {"SMA"}
    model = build_model(transparency(store), "en", read_measures(store))
    by_key = {(r.regency_code, r.admission_year, r.route): r for r in report}
    rows = [r for p in model.pages if p.regency_code for r in _table(model, f"wilayah-{p.regency_code}-spmb").rows]
    assert len(rows) == len(report)
    shown = suppressed = 0
    for row in rows:
        r = by_key[(row["regency_code"], row["admission_year"], row["route"])]
        expected = r.as_dict()
        for f in ADMISSION_FIGURES:
            if row[f] == SUPPRESSED:
                suppressed += 1
                assert f in PEOPLE and 0 < getattr(r, PEOPLE[f]) < 5, (row, f)
            else:
                shown += 1
                assert row[f] == expected[f], (row, f, expected[f])
    assert shown > 0 and suppressed > 0
    overview = _table(model, "provinsi-spmb").rows
    years = {(r.regency_code, r.admission_year) for r in report}
    assert len(overview) == len(years)
    for row in overview:
        own = [r for r in report if (r.regency_code, r.admission_year) == (row["regency_code"], row["admission_year"])]
        assert row["quota_seats"] == sum(r.quota_seats for r in own)
        assert row["schools"] == own[0].schools == max(r.schools for r in own)
        assert row["schools_over_quota"] == sum(r.schools_over_quota for r in own)
        admitted = sum(r.admitted for r in own)
        assert row["admitted"] == (SUPPRESSED if 0 < admitted < 5 else admitted)
        with_quota = sum(r.admitted_with_quota for r in own)
        seats = sum(r.quota_seats for r in own)
        if row["admitted_pct_of_quota"] != SUPPRESSED:
            assert row["admitted_pct_of_quota"] == (round(100.0 * with_quota / seats, 2) if seats else None)
    assert sum(r.schools_over_quota for r in report) > 0  # the planted over-quota school shows


def test_roads_and_works_equal_the_report(store: sa.Engine) -> None:
    """The road and works rows are those of `simpul report --measure roads|works`, unsuppressed (not people), and
    a regency the report does not list shows zeros."""
    roads = {r.regency_code: r.as_dict() for r in road_reports(store)}
    works = {w.regency_code: w.as_dict() for w in works_progress(store)}
    assert roads and works and any(r["median_hours_to_repair"] is not None for r in roads.values())
    assert any(w["contracts_payment_ahead"] for w in works.values())
    for lang in ("id", "en"):
        model = build_model(transparency(store), lang, read_measures(store))  # type: ignore[arg-type]
        overview_roads = {r["regency_code"]: r for r in _table(model, "provinsi-jalan").rows}
        overview_works = {r["regency_code"]: r for r in _table(model, "provinsi-pekerjaan").rows}
        assert len(overview_roads) == len(overview_works) == 35
        for code in reference.regency_codes():
            (road,) = _table(model, f"wilayah-{code}-jalan").rows
            (work,) = _table(model, f"wilayah-{code}-pekerjaan").rows
            assert road == overview_roads[code] and work == overview_works[code]
            for f in ROAD_FIGURES:
                assert road[f] == (roads[code][f] if code in roads else (None if f == "median_hours_to_repair" else 0))
            for f in WORKS_FIGURES:
                assert work[f] == (works[code][f] if code in works
                                   else (None if f in ("mean_progress_pct", "mean_payment_pct") else 0))
            assert "contract_id" not in work


def test_sector_downloads_equal_the_tables(store: sa.Engine, site: Path) -> None:
    """Every new table has its CSV and JSON, in both trees, with the table's rows; the pages link them."""
    model = build_model(transparency(store), "id", read_measures(store))
    slugs = ["provinsi-spmb", "provinsi-jalan", "provinsi-pekerjaan"] + [
        f"wilayah-{c}-{m}" for c in reference.regency_codes() for m in ("spmb", "jalan", "pekerjaan")]
    for tree in (site, site / "en"):
        for slug in slugs:
            table = _table(model, slug)
            as_json = json.loads((tree / "data" / f"{slug}.json").read_text("utf-8"))
            as_csv = list(csv.DictReader(io.StringIO((tree / "data" / f"{slug}.csv").read_text("utf-8"))))
            assert as_json["columns"] == list(table.keys) and as_json["note"]
            assert len(as_json["rows"]) == len(as_csv) == len(table.rows)
            for j, c, row in zip(as_json["rows"], as_csv, table.rows, strict=True):
                for k in table.keys:
                    assert c[k] == ("" if j[k] is None else str(j[k]))
                    if k not in ("regency_name", "route_name"):  # names are in the tree's language
                        assert j[k] == row[k], (slug, k)
    page = (site / "wilayah" / "3374.html").read_text("utf-8")
    for m in ("spmb", "jalan", "pekerjaan"):
        assert f'href="../data/wilayah-3374-{m}.csv"' in page
    english = (site / "en" / "index.html").read_text("utf-8")
    assert "the authority&#x27;s own target" in english.lower() or "authority's own target" in english.lower()
    assert "target instansi sendiri" in (site / "index.html").read_text("utf-8")


def test_a_regency_with_suppressed_services_still_draws_its_seats() -> None:
    """Every service figure suppressed, SPMB seats public: the page says the service charts are withheld and
    draws seats per route, admissions of 1 to 4 as gaps."""
    small = Cell("3374", "KTP_EL", "2025-03", requests=3, completed=3, issued=3, sla_met=3, sla_known=3,
                 hours=[1.0] * 3)
    spmb = [AdmissionRow("3374", "SMA", 2025, route, schools=1, quota_seats=seats, applied=n, admitted=n,
                         admitted_with_quota=n) for route, seats, n in (("DOMISILI", 30, 7), ("AFIRMASI", 15, 2),
                                                                        ("MUTASI", 3, 0), ("PRESTASI", 12, 0))]
    model = build_model([small], "id", Measures(admissions=spmb))
    page = next(p for p in model.pages if p.regency_code == "3374")
    (chart,) = page.charts
    assert page.charts_suppressed and chart.slug == "3374-spmb"
    assert chart.config()["datasets"] == [{"label": "Kursi (kuota)", "data": [30, 15, 3, 12]},
                                          {"label": "Diterima", "data": [7, None, 0, 0]}]
    html = render(model, None, datetime(2026, 1, 1, tzinfo=UTC))["wilayah/3374.html"]
    assert b"charts-suppressed" in html and b'id="chart-3374-spmb"' in html
