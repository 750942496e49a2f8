"""The transparency read model's arithmetic: periods, medians, SLA percentages, exports."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

from consumers.report import build_cells, export, median, period_of, sla_pct

T = datetime(2025, 3, 31, 20, 0, tzinfo=UTC)


def sr(case: int, hours: float | None, *, met: bool | None = None, outcome: str | None = "ISSUED", fee: bool = False,
       at: datetime = T, service: str = "KTP_EL"):
    return {"regency_code": "3374", "service_code": service, "submitted_at": at,
            "completed_at": None if hours is None else at + timedelta(hours=hours),
            "outcome": outcome if hours is not None else None, "completion_hours": hours, "sla_met": met,
            "fee_anomaly": fee, "case": case}


def test_median_and_sla_pct() -> None:
    assert median([]) is None and median([5]) == 5 and median([9, 1, 4]) == 4 and median([1, 2, 3, 10]) == 2.5
    assert sla_pct(0, 0) is None and sla_pct(3, 4) == 75.0


def test_period_is_utc() -> None:
    wib = datetime(2025, 4, 1, 2, 0, tzinfo=UTC).astimezone(__import__("zoneinfo").ZoneInfo("Asia/Jakarta"))
    assert period_of(wib, "month") == "2025-04" and period_of(T, "day") == "2025-03-31"


def test_cells() -> None:
    rows = [sr(1, 2, met=True), sr(2, 10, met=False, fee=True), sr(3, 4, met=True), sr(4, None),
            sr(5, 1, outcome="REJECTED"), sr(6, 3, met=True, at=T + timedelta(days=1))]
    complaints = [{"regency_code": "3374", "service_code": "KTP_EL", "filed_at": T},
                  {"regency_code": "3374", "service_code": None, "filed_at": T},
                  {"regency_code": "3374", "service_code": "KTP_EL", "filed_at": None}]
    none, march, april = build_cells(rows, complaints)  # sorted by regency, service, period
    assert (march.period, march.service_code, april.period, none.service_code) == ("2025-03", "KTP_EL", "2025-04", "-")
    assert (march.requests, march.completed, march.issued) == (5, 4, 3)
    assert march.sla_met_pct == 200 / 3 and march.median_completion_hours == 4  # issued only: 2, 4, 10
    assert march.fee_anomalies == 1 and march.complaints == 1 and none.complaints == 1 and none.requests == 0
    assert april.requests == 1 and april.sla_met_pct == 100.0
    data = json.loads(export([march], "json"))[0]
    assert data["sla_met_pct"] == 66.67 and data["regency_name"] == "Kota Semarang"
    (row,) = list(csv.DictReader(io.StringIO(export([march], "csv"))))
    assert row["median_completion_hours"] == "4.0" and row["requests"] == "5"


def test_working_day_deadlines() -> None:
    from consumers.report import resolution_deadline
    from schemas.reference import add_working_days

    friday = datetime(2025, 3, 7, 9, 0, tzinfo=UTC)
    assert add_working_days(friday, 1) == friday + timedelta(days=3)  # Monday
    assert add_working_days(friday, 8) == datetime(2025, 3, 19, 9, 0, tzinfo=UTC)  # 3 + 5 working days
    assert resolution_deadline(friday, "PUNGLI") == resolution_deadline(friday, None) == add_working_days(friday, 8)


def test_complaint_resolution_share() -> None:
    monday = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # deadline: 8 working days later, 2025-03-13 09:00

    def cp(resolved: datetime | None, service: str | None = "KTP_EL") -> dict:
        return {"regency_code": "3374", "service_code": service, "filed_at": monday, "category": "PUNGLI",
                "resolved_at": resolved}

    rows = [cp(monday + timedelta(days=1)), cp(datetime(2025, 3, 13, 9, 0, tzinfo=UTC)),
            cp(datetime(2025, 3, 13, 9, 1, tzinfo=UTC)), cp(None), cp(None, service=None)]
    none, ktp = build_cells([], rows)
    assert (ktp.complaints, ktp.complaints_resolved, ktp.complaints_resolved_in_time) == (4, 3, 2)
    assert ktp.complaints_resolved_in_time_pct == 50.0
    assert none.complaints == 1 and none.complaints_resolved == 0 and none.complaints_resolved_in_time_pct == 0.0
    data = json.loads(export([ktp], "json"))[0]
    assert list(data)[:13] == ["regency_code", "regency_name", "service_code", "period", "requests", "completed",
                               "issued", "sla_met", "sla_known", "sla_met_pct", "median_completion_hours",
                               "fee_anomalies", "complaints"]  # the old columns first, unchanged
    assert (data["complaints_resolved"], data["complaints_resolved_in_time"],
            data["complaints_resolved_in_time_pct"]) == (3, 2, 50.0)
    assert build_cells([sr(1, 2, met=True)], [])[0].complaints_resolved_in_time_pct is None


def test_resolution_from_a_real_store(tmp_path) -> None:
    """Complaints written by the store's own writer: the first RESOLVED status change counts (a late case
    resolved again later stays late), in time or late."""
    from consumers.report import transparency
    from consumers.store import writer
    from consumers.store.db import connect, migrate
    from consumers.store.rows import BatchRows, Coordinates
    from schemas.examples import example
    from schemas.nik import tokenise_event

    engine = connect(f"sqlite:///{tmp_path / 'store.sqlite'}")
    migrate(engine)
    filed_at = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
    batch, n = BatchRows(), 0

    def add(event_type: str, case: str, at: datetime, **fields) -> None:
        nonlocal n
        n += 1
        ev = example(event_type, event_id=__import__("uuid").uuid4(), case_id=case, occurred_at=at, **fields)
        batch.add_event(tokenise_event(ev, b"k"), Coordinates("t", 0, n), at)

    for case, resolved_after in (("LG-1", 2), ("LG-2", 30), ("LG-3", None)):
        add("ComplaintFiled", case, filed_at)
        if resolved_after is not None:
            add("ComplaintStatusChanged", case, filed_at + timedelta(days=resolved_after),
                from_status="IN_PROGRESS", to_status="RESOLVED")
            add("ComplaintStatusChanged", case, filed_at + timedelta(days=resolved_after + 1),
                from_status="RESOLVED", to_status="CLOSED")
    add("ComplaintStatusChanged", "LG-2", filed_at + timedelta(days=40), from_status="IN_PROGRESS", to_status="RESOLVED")
    with engine.begin() as conn:
        writer.write_batch(conn, batch)
    (cell,) = transparency(engine)
    assert (cell.service_code, cell.complaints, cell.complaints_resolved, cell.complaints_resolved_in_time) == \
        ("KTP_EL", 3, 2, 1)
    assert transparency(engine, regency="3301") == []
