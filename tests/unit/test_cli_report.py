"""`simpul report` on a SQLite store with rows: CSV and JSON on stdout, one regency, a file, a bad regency code."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from consumers.report import COLUMNS
from consumers.store.tables import complaints, service_requests
from simpul import bootstrap
from simpul.cli import app
from simpul.settings import Settings

T = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    engine = bootstrap.store_engine(Settings(state_dir=tmp_path), url)
    request = {"regency_code": "3374", "service_code": "KTP_EL", "channel": "counter", "submitted_at": T,
               "completed_at": None, "outcome": None, "fee_charged_idr": 0, "official_fee_idr": 0,
               "standard_hours": 24.0, "completion_hours": None, "sla_met": None, "fee_anomaly": False,
               "updated_at": T}
    with engine.begin() as conn:
        conn.execute(service_requests.insert(), [
            {**request, "case_id": "A", "completed_at": T + timedelta(hours=2), "outcome": "ISSUED",
             "completion_hours": 2.0, "sla_met": True},
            {**request, "case_id": "B", "completed_at": T + timedelta(hours=30), "outcome": "ISSUED",
             "completion_hours": 30.0, "sla_met": False, "fee_charged_idr": 50_000, "fee_anomaly": True},
            {**request, "case_id": "C"},
            {**request, "case_id": "D", "regency_code": "3301", "submitted_at": T - timedelta(days=40)},
        ])
        conn.execute(complaints.insert(), [
            {"regency_code": "3374", "case_id": "K1", "category": "pungli", "service_code": "KTP_EL", "filed_at": T,
             "status": "OPEN", "updated_at": T},
        ])
    engine.dispose()
    return url


def _report(tmp_path: Path, *args: str):  # noqa: ANN202 - click Result
    return CliRunner().invoke(app, ["report", *args], env={"SIMPUL_STATE_DIR": str(tmp_path)})


def test_json_holds_every_column_of_each_cell(store: str, tmp_path: Path) -> None:
    result = _report(tmp_path, "--store-url", store, "--json")
    assert result.exit_code == 0, result.output
    cells = json.loads(result.stdout)
    assert all(list(c) == list(COLUMNS) for c in cells)
    by_key = {(c["regency_code"], c["period"]): c for c in cells}
    assert set(by_key) == {("3374", "2026-03"), ("3301", "2026-01")}
    semarang = by_key[("3374", "2026-03")]
    assert semarang["regency_name"] == "Kota Semarang" and semarang["service_code"] == "KTP_EL"
    assert (semarang["requests"], semarang["completed"], semarang["issued"]) == (3, 2, 2)
    assert (semarang["sla_met"], semarang["sla_known"], semarang["sla_met_pct"]) == (1, 2, 50.0)
    assert semarang["median_completion_hours"] == 16.0
    assert (semarang["fee_anomalies"], semarang["complaints"]) == (1, 1)
    assert _report(tmp_path, "--store-url", store, "--format", "json").stdout == result.stdout


def test_csv_for_one_regency_by_day(store: str, tmp_path: Path) -> None:
    result = _report(tmp_path, "--store-url", store, "--regency", "3374", "--period", "day")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["regency_code"], r["period"], r["requests"]) for r in rows] == [("3374", "2026-03-10", "3")]
    assert list(rows[0]) == list(COLUMNS)


def test_output_file_and_a_bad_regency(store: str, tmp_path: Path) -> None:
    target = tmp_path / "report.csv"
    written = _report(tmp_path, "--store-url", store, "--output", str(target))
    assert written.exit_code == 0 and written.stdout == ""
    assert "2 rows written" in written.stderr and target.read_text().startswith(",".join(COLUMNS))
    refused = _report(tmp_path, "--store-url", store, "--regency", "9999")
    assert refused.exit_code == 1 and refused.stdout == ""
    assert "error: '9999' is not a Central Java regency code" in refused.stderr
