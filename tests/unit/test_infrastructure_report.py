"""`simpul report --measure roads|works`: per regency, road reports received and repaired with the median time to
repair, and works contracts paid ahead of their verified progress, from a SQLite store holding the events as the
sink stores them (environment and governance tables); the default report is unchanged."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from consumers import report as services_report
from consumers.infrastructure import ROAD_COLUMNS, WORKS_COLUMNS, build_road_rows, build_works_rows
from consumers.store.tables import EVENT_TABLES
from schemas.examples import example
from schemas.models import Event
from schemas.reference.roads import authority_for
from simpul import bootstrap
from simpul.cli import app
from simpul.settings import Settings

T = datetime(2025, 3, 4, 1, 0, tzinfo=UTC)


def report(case: str, regency: str, status: str) -> Event:
    return example("RoadDamageReported", event_id=uuid.uuid4(), regency_code=regency, case_id=case,
                   road_status=status, occurred_at=T)


def step(r: Any, hours: float, action: str) -> Event:
    return example("RoadDamageHandled", event_id=uuid.uuid4(), regency_code=r.regency_code, case_id=r.case_id,
                   road_status=r.road_status, action=action, reported_at=r.occurred_at,
                   occurred_at=r.occurred_at + timedelta(hours=hours),
                   forwarded_to=authority_for(r.road_status).authority if action == "FORWARDED" else None)


def progress(contract: str, regency: str, day: int, done: float, paid: float, value: int = 2_000_000_000) -> Event:
    return example("PublicWorksProgress", event_id=uuid.uuid4(), regency_code=regency, case_id=contract,
                   contract_id=contract, physical_progress_pct=done, payment_pct=paid, contract_value_idr=value,
                   occurred_at=T + timedelta(days=day))


def scenario() -> list[Event]:
    """Grobogan (3315): three provincial reports (repaired after 6 h and 10 h; one crew after 30 h, repaired at 36 h)
    and a village report forwarded, repaired by the village 3 days later; Kota Semarang (3374): a regency report
    rejected. Works: Grobogan a clean contract and one paid 15 points ahead, Kota Semarang a clean one."""
    a, b, c = (report(f"JLN-3315-{n}", "3315", "PROVINCIAL") for n in "abc")
    v, s = report("JLN-3315-v", "3315", "VILLAGE"), report("JLN-3374-s", "3374", "REGENCY")
    roads = [a, step(a, 2, "CREW_ON_SITE"), step(a, 6, "REPAIRED"), b, step(b, 4, "CREW_ON_SITE"),
             step(b, 10, "REPAIRED"), c, step(c, 30, "CREW_ON_SITE"), step(c, 36, "REPAIRED"),
             v, step(v, 5, "FORWARDED"), step(v, 77, "REPAIRED"), s, step(s, 1, "REJECTED")]
    works = [progress("K-1", "3315", 0, 30, 25), progress("K-1", "3315", 2, 60, 50),
             progress("K-2", "3315", 0, 20, 0, 4_000_000_000), progress("K-2", "3315", 1, 40, 55, 4_000_000_000),
             progress("K-2", "3315", 3, 80, 75, 4_000_000_000), progress("K-3", "3374", 0, 50, 50)]
    return roads + works


def as_stored(events: list[Event]) -> list[tuple[str, str, str, datetime, dict[str, Any]]]:
    return [(type(e).event_type, e.regency_code, e.case_id, e.occurred_at, json.loads(e.model_dump_json()))
            for e in events]


def test_road_rows_count_reports_repairs_and_the_median_time_to_repair() -> None:
    rows = {r.regency_code: r.as_dict() for r in build_road_rows(as_stored(scenario()))}
    assert rows["3315"] == {
        "regency_code": "3315", "regency_name": "Kabupaten Grobogan", "reports": 4, "reports_national": 0,
        "reports_provincial": 3, "reports_regency": 0, "reports_village": 1, "repaired": 4,
        "median_hours_to_repair": 23.0, "forwarded": 1, "rejected": 0, "with_target": 3,
        "handled_within_target": 2, "handled_late": 1}
    assert (rows["3374"]["reports"], rows["3374"]["repaired"], rows["3374"]["median_hours_to_repair"],
            rows["3374"]["rejected"], rows["3374"]["with_target"]) == (1, 0, None, 1, 0)


def test_works_rows_count_contracts_paid_ahead_of_progress() -> None:
    rows = {r.regency_code: r.as_dict() for r in build_works_rows(as_stored(scenario()))}
    assert rows["3315"] == {
        "regency_code": "3315", "regency_name": "Kabupaten Grobogan", "contracts": 2,
        "contract_value_idr": 6_000_000_000, "mean_progress_pct": 70.0, "mean_payment_pct": 62.5,
        "contracts_payment_ahead": 1, "paid_ahead_idr": 600_000_000}
    assert (rows["3374"]["contracts"], rows["3374"]["contracts_payment_ahead"], rows["3374"]["paid_ahead_idr"]) == (
        1, 0, 0)


@pytest.fixture
def store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    engine = bootstrap.store_engine(Settings(state_dir=tmp_path), url)
    with engine.begin() as conn:
        for n, (kind, reg, case, at, payload) in enumerate(as_stored(scenario())):
            table = EVENT_TABLES["governance" if kind == "PublicWorksProgress" else "environment"]
            conn.execute(table.insert(), [{
                "event_id": payload["event_id"], "event_type": kind, "regency_code": reg, "source_system": "s",
                "occurred_at": at, "case_id": case, "payload": payload, "source_topic": "t", "source_partition": 0,
                "source_offset": n, "stored_at": T}])
    engine.dispose()
    return url


def _report(tmp_path: Path, *args: str):  # noqa: ANN202 - click Result
    return CliRunner().invoke(app, ["report", *args], env={"SIMPUL_STATE_DIR": str(tmp_path)})


def test_cli_measure_roads_and_works_as_json_and_csv(store: str, tmp_path: Path) -> None:
    result = _report(tmp_path, "--store-url", store, "--measure", "roads", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["regency_code"] for r in rows] == ["3315", "3374"] and all(list(r) == list(ROAD_COLUMNS) for r in rows)
    assert rows[0]["median_hours_to_repair"] == 23.0 and rows[0]["handled_late"] == 1
    text = _report(tmp_path, "--store-url", store, "--measure", "works", "--regency", "3315").stdout
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert list(parsed[0]) == list(WORKS_COLUMNS) and len(parsed) == 1
    assert (parsed[0]["contracts_payment_ahead"], parsed[0]["paid_ahead_idr"]) == ("1", "600000000")


def test_the_default_report_keeps_its_columns_beside_the_new_measures(store: str, tmp_path: Path) -> None:
    result = _report(tmp_path, "--store-url", store)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].split(",") == list(services_report.COLUMNS)
