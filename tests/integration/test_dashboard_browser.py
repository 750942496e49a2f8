"""The dashboard in a real headless Chromium (Debian's package, driven by Playwright) while the pipeline runs."""

from __future__ import annotations

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
from dashboard_login import new_account
from private_platform import stop_processes

from simpul import bootstrap
from simpul.settings import Settings
from simpul.platform.probes import free_port_block

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]



@pytest.fixture
def running_pipeline(settings: Settings, tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """Gatekeeper, simulator at a steady rate and the dashboard, as `make run` starts them; an operator account
    made as `simpul users create` makes it. (url, user, password)"""
    prefix = f"ui{uuid.uuid4().hex[:8]}"
    s = settings.model_copy(update={"topic_prefix": prefix, "state_dir": tmp_path / "state"})
    bootstrap.provision(s)
    user, password = new_account(s, "operator")
    port = free_port_block(1)[0]
    env = {**os.environ, "SIMPUL_KAFKA_BOOTSTRAP": s.kafka.bootstrap, "SIMPUL_REGISTRY_URL": s.registry,
           "SIMPUL_TOPIC_PREFIX": prefix, "SIMPUL_STATE_DIR": str(tmp_path / "state"),
           "SIMPUL_SECRETS_DIR": str(settings.secrets_folder.resolve()),
           "SIMPUL_STORE_URL": f"sqlite:///{tmp_path / 'store.sqlite'}"}
    commands = {
        "gatekeeper": ["streams", "run", "gatekeeper"],
        "simulator": ["simulate", "--events", "20000", "--seed", "11", "--rate", "40",
                      "--manifest", str(tmp_path / "manifest.json")],
        "monitor": ["monitor", "--port", str(port), "--interval", "1"],
    }
    procs = [subprocess.Popen([sys.executable, "-m", "simpul", *args], env=env, cwd=REPO, start_new_session=True,
                              stdout=open(tmp_path / f"{name}.log", "wb"), stderr=subprocess.STDOUT)
             for name, args in commands.items()]
    url = f"http://127.0.0.1:{port}/"
    try:
        end = time.monotonic() + 60
        while time.monotonic() < end:
            try:
                if httpx.get(url + "healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        yield url, user, password
    finally:
        stop_processes(procs)


def _count(page, selector: str) -> int:  # noqa: ANN001
    text = page.locator(selector).inner_text().replace(",", "").strip()
    return int(text) if text.isdigit() else -1


def _count_above(page, selector: str, floor: int, timeout_s: float) -> int:  # noqa: ANN001
    """Poll from Python: the page's Content-Security-Policy forbids the eval that `page.wait_for_function` needs."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if (value := _count(page, selector)) > floor:
            return value
        page.wait_for_timeout(500)
    raise AssertionError(f"{selector} stayed at {_count(page, selector)} (not above {floor}) for {timeout_s:.0f} s")


def test_dashboard_loads_and_updates_live(running_pipeline: tuple[str, str, str]) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, user, password = running_pipeline

    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed (apt-get install chromium; .ci/run installs it)")
    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url)
            assert page.url == url + "login"  # no session yet: the login page
            page.fill("#username", user)
            page.fill("#password", password + "-wrong")
            page.click("button[type=submit]")
            assert "wrong user name or password" in page.locator(".error").inner_text()
            errors.clear()  # the browser logs the 401 of the refused login as a console error
            page.fill("#username", user)
            page.fill("#password", password)
            page.click("button[type=submit]")
            page.wait_for_url(url)
            expect(page.locator("#whoami")).to_contain_text(f"{user} (operator)")
            assert page.locator("#replay-controls").is_visible()
            # The account's creation is in the audit trail, and the dashboard has put it on the audit topic.
            created = page.locator("#audit tbody tr", has_text=f"user:{user}")
            expect(created.locator("td").last).to_have_text("yes", timeout=60_000)
            expect(page.locator("#regencies tbody tr")).to_have_count(35, timeout=60_000)
            assert "Kota Semarang" in page.locator("#regencies").inner_text()
            # The accepted-events counter is live: it rises without a reload while the simulator feeds the bus.
            first = _count_above(page, "#events-total", 0, 120)
            second = _count_above(page, "#events-total", first, 60)
            # A regency row links to that regency's rejections: the DLQ browser filtered to its ingress topic.
            expect(page.locator("#dlq tbody tr[data-id]").first).to_be_visible(timeout=60_000)
            source = page.locator("#dlq tbody tr[data-id] td").nth(4).inner_text()
            code = source.split(".ingress.")[1][:4]
            page.click(f"#regencies tr[data-regency='{code}'] a.rejections")
            expect(page.locator("#dlq-filter")).to_be_visible()
            expect(page.locator("#dlq-filter-code")).to_have_text(code)
            end = time.monotonic() + 30
            while time.monotonic() < end:  # the filtered answer replaces the rows shown before the click
                sources = page.locator("#dlq tbody tr[data-id] td:nth-child(5)").all_inner_texts()
                if sources and all(f".ingress.{code}:" in s for s in sources):
                    break
                page.wait_for_timeout(500)
            assert sources and all(f".ingress.{code}:" in s for s in sources), (code, sources)
            page.click("#dlq-all")
            expect(page.locator("#dlq-filter")).to_be_hidden()
            page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
            page.click("#logout")
            page.wait_for_url(url + "login")
            assert page.request.get(url + "api/overview").status == 401  # the session ended with the logout
        finally:
            browser.close()
    assert second > first > 0
    assert errors == []
