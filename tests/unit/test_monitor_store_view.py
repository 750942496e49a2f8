"""The dashboard's per-regency figures, read with plain SQL from a real (SQLite) store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from consumers.store.db import migrate
from consumers.store.tables import EVENT_TABLES, alerts, service_requests
from monitor.store_view import StoreView


def test_missing_store_reads_as_unavailable(tmp_path: Path) -> None:
    assert StoreView(f"sqlite:///{tmp_path / 'none.sqlite'}").stats() == {"available": False}


def test_per_regency_figures(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    engine = sa.create_engine(url)
    migrate(engine)
    now = datetime.now(UTC)
    yesterday = now - timedelta(days=2)
    with engine.begin() as conn:
        rows = [{"event_id": f"e{i}", "event_type": "AirQualityReading", "regency_code": code, "source_system": "s",
                 "occurred_at": now, "case_id": "c", "payload": {}, "source_topic": "t", "source_partition": 0,
                 "source_offset": i, "stored_at": stored}
                for i, (code, stored) in enumerate([("3374", now)] * 3 + [("3301", now), ("3301", yesterday)])]
        conn.execute(EVENT_TABLES["environment"].insert(), rows)
        conn.execute(service_requests.insert(), [
            {"regency_code": "3374", "case_id": f"r{i}", "service_code": "KTP_EL", "outcome": "ISSUED",
             "sla_met": i < 3, "fee_anomaly": False, "updated_at": now} for i in range(4)])
        conn.execute(alerts.insert(), [
            {"alert_id": f"a{i}", "rule": "air_quality", "severity": "warning", "regency_code": "3374",
             "window_start": now, "window_end": now, "subject": [], "message": f"m{i}", "evidence": [],
             "raised_at": when, "details": {}} for i, when in enumerate([now, now - timedelta(hours=3), yesterday])])
    stats = StoreView(url).stats()
    assert stats["available"]
    assert stats["regencies"]["3374"] == {"events_today": 3, "sla_met_pct": 75.0, "open_alerts": 2}
    assert stats["regencies"]["3301"]["events_today"] == 1
    assert stats["alerts_last_hour"] == 1 and stats["alerts_by_rule"] == {"air_quality": 3}
    assert [a["message"] for a in stats["recent_alerts"]] == ["m0", "m1", "m2"]
