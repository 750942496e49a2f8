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
