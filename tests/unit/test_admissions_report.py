"""`simpul report --measure admissions`: SPMB admissions per regency x route against the schools' published quota,
from a SQLite store holding the society events as the sink stores them; the default report is unchanged."""

from __future__ import annotations

import csv
import io
import json
import uuid
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from consumers import report as services_report
from consumers.admissions import COLUMNS, build_rows
from consumers.store.tables import EVENT_TABLES
from schemas.examples import example
from schemas.models import Event
from schemas.nik import tokenise_event
from simpul import bootstrap
from simpul.cli import app
from simpul.settings import Settings

T = datetime(2025, 6, 20, 2, 0, tzinfo=UTC)
DEADLINE = datetime(2025, 6, 30, 9, 0, tzinfo=UTC)


def eid() -> uuid.UUID:
    return uuid.uuid4()


def quota(school: str, regency: str, seats: tuple[int, int, int, int], at: datetime = T - timedelta(days=9),
          level: str = "SMA") -> Event:
    d, a, m, p = seats
    return example("SchoolQuotaPublished", event_id=eid(), regency_code=regency, case_id=f"Q-{school}-{at:%d}",
                   school_id=school, school_level=level, seats_domisili=d, seats_afirmasi=a, seats_mutasi=m,
                   seats_prestasi=p, decision_deadline=DEADLINE, occurred_at=at)


def application(case: str, school: str, regency: str, route: str, level: str = "SMA") -> Event:
    return example("SchoolAdmissionApplied", event_id=eid(), regency_code=regency, case_id=case, school_id=school,
                   school_level=level, route=route,
                   applicant_nik=f"{regency}015502{zlib.crc32(case.encode()) % 10**6:06d}",
                   occurred_at=T - timedelta(days=2))


def decision(applied: Event, decision: str = "ADMITTED", at: datetime = T) -> Event:
    a: Any = applied
    return example("SchoolAdmissionDecided", event_id=eid(), regency_code=a.regency_code, case_id=a.case_id,
                   school_id=a.school_id, school_level=a.school_level, route=a.route,
                   applicant_nik=a.applicant_nik, decision=decision, applied_at=a.occurred_at, decided_at=at,
                   occurred_at=at)


def scenario() -> list[Event]:
    """Semarang: one SMA (10 seats: 3/3/1/3) admitting two on MUTASI (one over) and one DOMISILI after the deadline,
    its quota corrected once; Kabupaten Semarang: one SMA within quota, a rejection, an SMP school (other level)."""
    out: list[Event] = [quota("20300001", "3374", (2, 2, 1, 2), at=T - timedelta(days=12)),
                        quota("20300001", "3374", (3, 3, 1, 3)),  # the latest published counts
                        quota("20300002", "3322", (6, 6, 1, 7))]
    for n, (school, reg, route, dec, at) in enumerate([
            ("20300001", "3374", "MUTASI", "ADMITTED", T), ("20300001", "3374", "MUTASI", "ADMITTED", T),
            ("20300001", "3374", "DOMISILI", "ADMITTED", DEADLINE + timedelta(hours=2)),
            ("20300002", "3322", "AFIRMASI", "ADMITTED", T), ("20300002", "3322", "AFIRMASI", "REJECTED", T)]):
        applied = application(f"SPMB-{reg}-{n}", school, reg, route)
        out += [applied, decision(applied, dec, at)]
    applied = application("SPMB-3322-smp", "20300009", "3322", "PRESTASI", level="SMP")
    out += [quota("20300009", "3322", (8, 4, 1, 7), level="SMP"), applied, decision(applied)]
    again = decision(out[3])  # a decision re-sent with a new event id: counted once
    return [*out, again]


def as_stored(events: list[Event]) -> list[tuple[str, str, datetime, dict[str, Any]]]:
    return [(type(e).event_type, e.regency_code, e.occurred_at,
             json.loads(tokenise_event(e, b"k").model_dump_json())) for e in events]


def test_rows_count_admissions_per_route_against_the_latest_quota() -> None:
    rows = {(r.regency_code, r.route): r for r in build_rows(as_stored(scenario()))}
    assert {r.school_level for r in rows.values()} == {"SMA"} and len(rows) == 8  # 2 regencies x 4 routes
    mutasi = rows[("3374", "MUTASI")]
    assert (mutasi.schools, mutasi.quota_seats, mutasi.applied, mutasi.admitted, mutasi.schools_over_quota) == (
        1, 1, 2, 2, 1)
    assert mutasi.as_dict()["admitted_pct_of_quota"] == 200.0
    domisili = rows[("3374", "DOMISILI")]
    assert (domisili.quota_seats, domisili.admitted, domisili.admitted_after_deadline,
            domisili.schools_over_quota) == (3, 1, 1, 0)
    assert rows[("3374", "PRESTASI")].as_dict() == {
        "regency_code": "3374", "regency_name": "Kota Semarang", "school_level": "SMA", "admission_year": 2025,
        "route": "PRESTASI", "schools": 1, "quota_seats": 3, "applied": 0, "admitted": 0, "rejected": 0,
        "admitted_pct_of_quota": 0.0, "schools_over_quota": 0, "admitted_after_deadline": 0}
    afirmasi = rows[("3322", "AFIRMASI")]
    assert (afirmasi.applied, afirmasi.admitted, afirmasi.rejected, afirmasi.schools_over_quota) == (2, 1, 1, 0)
    smp = {(r.regency_code, r.route): r for r in build_rows(as_stored(scenario()), level="SMP")}
    assert smp[("3322", "PRESTASI")].admitted == 1 and set(smp) == {("3322", r) for r in
                                                                    ("DOMISILI", "AFIRMASI", "MUTASI", "PRESTASI")}


@pytest.fixture
def store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    engine = bootstrap.store_engine(Settings(state_dir=tmp_path), url)
    table = EVENT_TABLES["society"]
    with engine.begin() as conn:
        conn.execute(table.insert(), [
            {"event_id": str(uuid.uuid4()), "event_type": kind, "regency_code": reg, "source_system": "spmb-jateng",
             "occurred_at": at, "case_id": payload["case_id"], "payload": payload, "source_topic": "t",
             "source_partition": 0, "source_offset": n, "stored_at": T}
            for n, (kind, reg, at, payload) in enumerate(as_stored(scenario()))])
    engine.dispose()
    return url


def _report(tmp_path: Path, *args: str):  # noqa: ANN202 - click Result
    return CliRunner().invoke(app, ["report", *args], env={"SIMPUL_STATE_DIR": str(tmp_path)})


def test_cli_measure_admissions_as_json_and_csv_for_one_regency(store: str, tmp_path: Path) -> None:
    result = _report(tmp_path, "--store-url", store, "--measure", "admissions", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert all(list(r) == list(COLUMNS) for r in rows) and len(rows) == 8
    over = [(r["regency_code"], r["route"]) for r in rows if r["schools_over_quota"]]
    assert over == [("3374", "MUTASI")]
    text = _report(tmp_path, "--store-url", store, "--measure", "admissions", "--regency", "3322").stdout
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert [r["route"] for r in parsed] == ["DOMISILI", "AFIRMASI", "MUTASI", "PRESTASI"]
    assert {r["regency_name"] for r in parsed} == {"Kabupaten Semarang"}
    assert parsed[0]["admitted_pct_of_quota"] == "0.0" and parsed[1]["admitted"] == "1"
    smp = json.loads(_report(tmp_path, "--store-url", store, "--measure", "admissions", "--level", "SMP",
                             "--json").stdout)
    assert {r["school_level"] for r in smp} == {"SMP"}


def test_the_default_report_keeps_its_columns(store: str, tmp_path: Path) -> None:
    result = _report(tmp_path, "--store-url", store)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].split(",") == list(services_report.COLUMNS)
