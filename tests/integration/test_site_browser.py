"""The public transparency site after a seeded run, in a real headless Chromium (Debian's, driven by Playwright).

A simulation with every fault type goes through the gatekeeper into the store (the store sink) and the
transparency log (the log stage signs a checkpoint); then `simpul site build` and `simpul site serve` as an
operator runs them. The browser must see all 35 regencies, charts drawn, working downloads whose figures are
`simpul report`'s (or `<5`), the signed checkpoint, and no console error (a CSP violation is one); no file of the
site may hold any NIK, token, case id or event id of the run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from private_platform import stop_processes

from consumers.store.db import connect, migrate
from consumers.store.tables import EVENT_TABLES
from producers.simulator import plan
from producers.simulator.traffic import nik_token
from schemas.catalog import nik_fields
from schemas.reference import regency_codes
from simpul import bootstrap
from simpul.settings import Settings
from simpul.platform.probes import free_port_block

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
EVENTS, SEED = 12000, 4242  # enough for regency x service x month cells of 5 and more
SUPPRESSED = "<5"
FIGURES = ("requests", "completed", "sla_met_pct", "median_completion_hours", "fee_anomalies", "complaints",
           "complaints_resolved_in_time_pct")
ADMISSION_FIGURES = ("schools", "quota_seats", "applied", "admitted", "admitted_pct_of_quota", "schools_over_quota",
                     "admitted_after_deadline")
SECTOR_TABLES = ("spmb", "jalan", "pekerjaan")
"""The site's tables of `simpul report --measure admissions|roads|works`, on the overview and every regency page."""



def _simpul(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    done = subprocess.run([sys.executable, "-m", "simpul", *args], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"simpul {' '.join(args)}: {done.stderr[-3000:]}"
    return done.stdout


def _stored_events(url: str) -> int:
    engine = connect(url)
    try:
        with engine.connect() as conn:
            return sum(int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())
                       for t in EVENT_TABLES.values())
    finally:
        engine.dispose()


@pytest.fixture
def seeded_site(settings: Settings, tmp_path: Path) -> Iterator[tuple[str, Path, str, dict[str, str], set[str]]]:
    """(site URL, site folder, store URL, env, every NIK/token/case id/event id of the run)."""
    prefix = f"site{uuid.uuid4().hex[:8]}"
    s = settings.model_copy(update={"topic_prefix": prefix, "state_dir": tmp_path / "state"})
    bootstrap.provision(s)
    store_url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    migrate(store_url)
    env = {**os.environ, "SIMPUL_KAFKA_BOOTSTRAP": s.kafka.bootstrap, "SIMPUL_REGISTRY_URL": s.registry,
           "SIMPUL_TOPIC_PREFIX": prefix, "SIMPUL_STATE_DIR": str(tmp_path / "state"),
           "SIMPUL_SECRETS_DIR": str(settings.secrets_folder.resolve()), "SIMPUL_STORE_URL": store_url}
    gatekeeper = subprocess.Popen([sys.executable, "-m", "simpul", "streams", "run", "gatekeeper"], env=env, cwd=REPO,
                                  start_new_session=True, stdout=open(tmp_path / "gatekeeper.log", "wb"),
                                  stderr=subprocess.STDOUT)
    procs = [gatekeeper]
    try:
        _simpul(env, "simulate", "--events", str(EVENTS), "--seed", str(SEED), "--manifest",
                str(tmp_path / "manifest.json"), "--json")
        manifest = json.loads((tmp_path / "manifest.json").read_text())
        expected = sum(manifest["events"].values())
        end = time.monotonic() + 240
        while (stored := _stored_events(store_url)) < expected and time.monotonic() < end:
            _simpul(env, "sink", "store", "--once", "--json", "--loglevel", "warning")
            time.sleep(1)
        assert stored == expected, f"the store holds {stored} events, the manifest expects {expected}"
        _simpul(env, "transparency", "run", "--once", "--json", "--loglevel", "warning")

        secrets: set[str] = set()
        key = s.secret("nik_hmac_key")
        for r in plan(EVENTS, SEED, nik_hmac_key=key).records:
            ev = r.event
            secrets |= {ev.case_id, str(ev.event_id)}
            for f in nik_fields(type(ev).event_type):
                if value := getattr(ev, f):
                    secrets |= {value, nik_token(key, value)}

        site = tmp_path / "site"
        built = json.loads(_simpul(env, "site", "build", "--out", str(site), "--json"))
        assert built["regencies"] == 35 and built["checkpoint_size"] and built["checkpoint_size"] >= expected
        port = free_port_block(1)[0]
        procs.append(subprocess.Popen([sys.executable, "-m", "simpul", "site", "serve", "--dir", str(site),
                                       "--port", str(port)], env=env, cwd=REPO, start_new_session=True,
                                      stdout=open(tmp_path / "serve.log", "wb"), stderr=subprocess.STDOUT))
        url = f"http://127.0.0.1:{port}/"
        end = time.monotonic() + 30
        while time.monotonic() < end:
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        yield url, site, store_url, env, secrets
    finally:
        stop_processes(procs)


def test_site_after_a_seeded_run(seeded_site: tuple[str, Path, str, dict[str, str], set[str]]) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, site, store_url, env, secrets = seeded_site
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed (apt-get install chromium; .ci/run installs it)")

    # The server: read-only, strict headers.
    head = httpx.get(url)
    assert "script-src 'self'" in head.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in head.headers["content-security-policy"]
    assert httpx.post(url + "index.html").status_code == 405
    assert httpx.get(url + "data/").status_code == 404  # no listings
    assert httpx.get(url + "../pyproject.toml").status_code in (400, 404)

    report = {(r["regency_code"], r["service_code"], r["period"]): r
              for r in json.loads(_simpul(env, "report", "--json", "--store-url", store_url))}
    spmb = {(r["regency_code"], r["admission_year"], r["route"]): r for r in json.loads(
        _simpul(env, "report", "--measure", "admissions", "--level", "SMA", "--json", "--store-url", store_url))}
    roads = {r["regency_code"]: r for r in json.loads(
        _simpul(env, "report", "--measure", "roads", "--json", "--store-url", store_url))}
    works = {r["regency_code"]: r for r in json.loads(
        _simpul(env, "report", "--measure", "works", "--json", "--store-url", store_url))}
    assert spmb and roads and works
    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            page.goto(url)
            expect(page.locator("#provinsi-wilayah tbody tr")).to_have_count(35)
            assert "Kota Semarang" in page.locator("#provinsi-wilayah").inner_text()
            expect(page.locator("canvas[data-rendered=true]")).to_have_count(5)
            for slug in SECTOR_TABLES:  # the sector measures: a table, its downloads and a chart drawn
                expect(page.locator(f"#provinsi-{slug} tbody tr").first).to_be_visible()
                expect(page.locator(f"#chart-provinsi-{slug} canvas[data-rendered=true]")).to_have_count(1)
            expect(page.locator("#provinsi-jalan tbody tr")).to_have_count(35)
            expect(page.locator("#provinsi-pekerjaan tbody tr")).to_have_count(35)
            assert "target instansi sendiri" in page.locator("#provinsi-jalan thead").inner_text()
            assert page.locator("canvas").first.bounding_box()["height"] > 100  # type: ignore[index]
            page.screenshot(path=str(ARTIFACTS / "site-overview.png"), full_page=True)

            # Every download link of the overview answers with its table.
            for link in page.locator("a[download]").all():
                href = link.get_attribute("href") or ""
                answer = page.request.get(url + href)
                assert answer.status == 200, href
                if href.endswith(".json"):
                    assert len(answer.json()["rows"]) > 0

            # The busiest regency's page through the menu, as a citizen would reach it.
            overview = page.request.get(url + "data/provinsi-wilayah.json").json()["rows"]
            busiest = max(overview, key=lambda r: r["requests"] if isinstance(r["requests"], int) else 0)
            code = busiest["regency_code"]
            page.select_option("#regency-nav", f"wilayah/{code}.html")
            page.wait_for_url(url + f"wilayah/{code}.html")
            expect(page.locator("h1")).to_have_text(busiest["regency_name"])
            drawn = 2 + (1 if any(k[0] == code for k in spmb) else 0)  # services, and SPMB seats per route
            expect(page.locator("canvas[data-rendered=true]")).to_have_count(drawn)
            for slug in SECTOR_TABLES:
                expect(page.locator(f"#wilayah-{code}-{slug} tbody tr").first).to_be_visible()
                assert page.request.get(url + f"data/wilayah-{code}-{slug}.csv").status == 200
            rows = page.locator(f"#wilayah-{code} tbody tr").count()
            assert rows > 0
            page.screenshot(path=str(ARTIFACTS / "site-regency.png"), full_page=True)
            csv_href = page.locator(f"#wilayah-{code} a[download]", has_text="CSV").get_attribute("href")
            assert csv_href == f"../data/wilayah-{code}.csv"
            csv_text = page.request.get(url + f"data/wilayah-{code}.csv").text()
            assert len(csv_text.strip().splitlines()) == rows + 1
            data = page.request.get(url + f"data/wilayah-{code}.json").json()
            compared = 0
            for row in data["rows"]:
                cell = report[(row["regency_code"], row["service_code"], row["period"])]
                for f in FIGURES:
                    if row[f] != SUPPRESSED:
                        assert row[f] == cell[f], (row, f, cell[f])
                        compared += 1
            assert compared > 0

            # The same page in English, through the language switch.
            page.click("a[hreflang=en]")
            page.wait_for_url(url + f"en/wilayah/{code}.html")
            expect(page.locator("canvas[data-rendered=true]")).to_have_count(drawn)
            assert "authority's own target" in page.locator(f"#wilayah-{code}-jalan").inner_text()
            assert "Requests" in page.locator(f"#wilayah-{code} thead").inner_text()

            page.goto(url + "checkpoint.html")
            expect(page.locator("#checkpoint")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "site-checkpoint.png"), full_page=True)
            note = page.request.get(url + "checkpoint.txt").text()
            assert page.locator("#checkpoint-note").inner_text().strip() == note.strip()
            assert note.splitlines()[1].isdigit() and int(note.splitlines()[1]) > 0
            key = page.request.get(url + "verifier-key.txt").text().strip()
            assert key in page.locator("#verify-command").inner_text()
            assert page.request.get(url + "audit_verify.py").status == 200
        finally:
            browser.close()
    assert errors == []

    # Every regency has its page and its downloads; the report's figures everywhere they are shown.
    for code in regency_codes():
        table = json.loads((site / "data" / f"wilayah-{code}.json").read_text("utf-8"))
        for row in table["rows"]:
            cell = report[(code, row["service_code"], row["period"])]
            assert all(row[f] in (SUPPRESSED, cell[f]) for f in FIGURES), (row, cell)
    assert sum(1 for _ in (site / "wilayah").glob("*.html")) == 35

    # The sector measures: SPMB figures the report's or `<5`, roads and works the report's row (or zeros where the
    # report has no row: a regency without reports or contracts).
    compared = 0
    for code in regency_codes():
        for row in json.loads((site / "data" / f"wilayah-{code}-spmb.json").read_text("utf-8"))["rows"]:
            expected = spmb[(code, row["admission_year"], row["route"])]
            assert all(row[f] in (SUPPRESSED, expected[f]) for f in ADMISSION_FIGURES), (row, expected)
            compared += 1
        (road,) = json.loads((site / "data" / f"wilayah-{code}-jalan.json").read_text("utf-8"))["rows"]
        (work,) = json.loads((site / "data" / f"wilayah-{code}-pekerjaan.json").read_text("utf-8"))["rows"]
        if code in roads:
            assert road == {**roads[code], "regency_name": road["regency_name"]}
        if code in works:
            assert work == {**works[code], "regency_name": work["regency_name"]}
    assert compared == len(spmb)

    # None of the run's NIKs, tokens, case ids or event ids anywhere in the built files.
    assert len(secrets) > 1000
    for path in (p for p in site.rglob("*") if p.is_file()):
        text = path.read_text("utf-8")
        assert [x for x in secrets if x in text] == [], path
