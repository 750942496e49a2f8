"""The dashboard in a real headless Chromium (Debian's package, driven by Playwright) while the pipeline runs."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from private_platform import stop_processes

from simpul import bootstrap
from simpul.settings import Settings

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def running_pipeline(settings: Settings, tmp_path: Path) -> Iterator[str]:
    """Gatekeeper, simulator at a steady rate and the dashboard, as `make run` starts them."""
    prefix = f"ui{uuid.uuid4().hex[:8]}"
    s = settings.model_copy(update={"topic_prefix": prefix})
    bootstrap.provision(s)
    port = _free_port()
    env = {**os.environ, "SIMPUL_KAFKA_BOOTSTRAP": s.kafka.bootstrap, "SIMPUL_REGISTRY_URL": s.registry,
           "SIMPUL_TOPIC_PREFIX": prefix, "SIMPUL_STATE_DIR": str(tmp_path / "state"),
           "SIMPUL_STORE_URL": f"sqlite:///{tmp_path / 'store.sqlite'}"}
    commands = {
        "gatekeeper": ["streams", "run", "gatekeeper"],
        "simulator": ["simulate", "--events", "200000", "--seed", "11", "--rate", "40",
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
        yield url
    finally:
        stop_processes(procs)


def _count(page, selector: str) -> int:  # noqa: ANN001
    text = page.locator(selector).inner_text().replace(",", "").strip()
    return int(text) if text.isdigit() else -1


def test_dashboard_loads_and_updates_live(running_pipeline: str) -> None:
    from playwright.sync_api import sync_playwright

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
            page.goto(running_pipeline)
            page.wait_for_function("document.querySelectorAll('#regencies tbody tr').length === 35", timeout=60_000)
            assert page.locator("#regencies tbody tr").count() == 35
            assert "Kota Semarang" in page.locator("#regencies").inner_text()
            # The accepted-events counter is live: it rises without a reload while the simulator feeds the bus.
            page.wait_for_function("Number(document.querySelector('#events-total').textContent.replace(/,/g, '')) > 0",
                                   timeout=120_000)
            first = _count(page, "#events-total")
            page.wait_for_function(
                f"Number(document.querySelector('#events-total').textContent.replace(/,/g, '')) > {first}",
                timeout=60_000)
            second = _count(page, "#events-total")
            page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
        finally:
            browser.close()
    assert second > first > 0
    assert errors == []
