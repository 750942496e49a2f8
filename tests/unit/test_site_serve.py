"""`simpul site build` and `simpul site serve` as processes: the CLI's JSON, the English build, and a server that
is read-only, lists nothing, stays inside the site folder and sends the strict headers."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from transparency.site.exceptions import SiteError
from transparency.site.serve import server
from simpul.platform.probes import free_port_block

REPO = Path(__file__).resolve().parents[2]



def _simpul(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SIMPUL_STATE_DIR": str(tmp_path / "state")}
    return subprocess.run([sys.executable, "-m", "simpul", *args], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    store = f"sqlite:///{tmp_path / 'store.sqlite'}"
    done = _simpul(tmp_path, "site", "build", "--store-url", store, "--lang", "en", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    site = Path(result["out"])
    assert site == (tmp_path / "state" / "site").resolve()  # the default folder, where `serve` looks too
    assert (result["regencies"], result["pages"], result["cells"], result["checkpoint_size"]) == (35, 74, 0, None)
    assert result["trees"] == {"en": str(site), "id": str(site / "id")}  # --lang en at the root, Indonesian in id/
    port = free_port_block(1)[0]
    proc = subprocess.Popen([sys.executable, "-m", "simpul", "site", "serve", "--port", str(port)],
                            env={**os.environ, "SIMPUL_STATE_DIR": str(tmp_path / "state")}, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        end = time.monotonic() + 30
        while time.monotonic() < end:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield url, site
    finally:
        proc.terminate()
        proc.wait(10)


def test_serve_is_read_only_and_strict(served: tuple[str, Path]) -> None:
    url, site = served
    index = httpx.get(url)
    assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
    assert '<html lang="en">' in index.text and "Public Service Transparency" in index.text
    csp = index.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert index.headers["x-content-type-options"] == "nosniff" and index.headers["x-frame-options"] == "DENY"
    assert httpx.get(url + "wilayah/3301.html").text.count("No data for this regency") == 1
    assert httpx.get(url + "checkpoint.html").text.count("No checkpoint yet.") == 1
    assert httpx.get(url + "static/chart.umd.min.js").headers["content-type"].startswith("text/javascript")
    assert httpx.get(url + "data/provinsi-wilayah.csv").text.startswith("regency_code,regency_name,requests,")
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        assert httpx.request(method, url + "index.html").status_code == 405
    assert httpx.get(url + "data/").status_code == 404 and httpx.get(url + "wilayah/").status_code == 404
    with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1].strip("/")))) as raw:
        raw.sendall(b"GET /../../../../etc/passwd HTTP/1.0\r\n\r\n")
        answer = raw.recv(4096).decode("latin-1")
    assert answer.split()[1] == "404" and "root:" not in answer


def test_serve_refuses_a_folder_without_a_site(tmp_path: Path) -> None:
    with pytest.raises(SiteError, match="no built site"):
        server(tmp_path, "127.0.0.1", 0)
    done = _simpul(tmp_path, "site", "serve", "--dir", str(tmp_path), "--port", str(free_port_block(1)[0]))
    assert done.returncode == 1 and "error:" in done.stderr and "simpul site build" in done.stderr


def test_build_refuses_to_overwrite_other_files(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    done = _simpul(tmp_path, "site", "build", "--out", str(tmp_path / "mine"),
                   "--store-url", f"sqlite:///{tmp_path / 'store.sqlite'}")
    assert done.returncode == 1 and "not a Simpul site" in done.stderr
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"


def test_serve_builds_and_keeps_the_site_current(tmp_path: Path) -> None:
    """`serve --build --rebuild-every`: the site is there at once, shows new cases of the store within the
    interval, and the process ends cleanly on SIGTERM (as a supervisor stops it)."""
    import signal
    import uuid
    from datetime import UTC, datetime

    from consumers.store import writer
    from consumers.store.db import connect, migrate
    from consumers.store.rows import BatchRows, Coordinates
    from schemas.examples import example
    from schemas.nik import tokenise_event

    store = f"sqlite:///{tmp_path / 'store.sqlite'}"
    engine = connect(store)
    migrate(engine)
    port = free_port_block(1)[0]
    proc = subprocess.Popen([sys.executable, "-m", "simpul", "site", "serve", "--build", "--rebuild-every", "0.5",
                             "--store-url", store, "--dir", str(tmp_path / "site"), "--port", str(port)],
                            env={**os.environ, "SIMPUL_STATE_DIR": str(tmp_path / "state")}, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/data/provinsi-wilayah.json"

    def semarang() -> object:
        end = time.monotonic() + 30
        while time.monotonic() < end:
            try:
                rows = httpx.get(url, timeout=1).json()["rows"]
                return next(r for r in rows if r["regency_code"] == "3374")["requests"]
            except (httpx.HTTPError, ValueError):
                time.sleep(0.2)
        raise AssertionError("the site never answered")

    try:
        assert semarang() == 0
        batch = BatchRows()
        for i in range(6):
            ev = example("ServiceRequestSubmitted", event_id=uuid.uuid4(), case_id=f"SR-3374-2026-{i:06d}")
            batch.add_event(tokenise_event(ev, b"k"), Coordinates("t", 0, i), datetime.now(UTC))
        with engine.begin() as conn:
            writer.write_batch(conn, batch)
        end = time.monotonic() + 30
        while semarang() != 6 and time.monotonic() < end:
            time.sleep(0.3)
        assert semarang() == 6
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert f"http://127.0.0.1:{port}/" in err
