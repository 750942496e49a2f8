"""The provincial store as the dashboard reads it: per-regency figures and the newest alerts.

Plain SQL on the store's documented tables (events_<family>, service_requests, alerts), so the monitor depends
on the store's schema, not on the sink's code. A store that does not exist yet reads as empty.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from schemas.catalog import FAMILIES


class StoreView:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = sa.create_engine(url, pool_pre_ping=True)

    def stats(self) -> dict[str, Any]:
        """events today, SLA-met % and alerts of the last 24 h per regency; newest alerts; alerts per rule."""
        now = datetime.now(UTC)
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        try:
            with self.engine.connect() as conn:
                tables = set(sa.inspect(conn).get_table_names())
                if "alerts" not in tables:
                    return {"available": False}
                regencies: dict[str, dict[str, Any]] = {}

                def slot(code: str) -> dict[str, Any]:
                    return regencies.setdefault(code, {"events_today": 0, "sla_met_pct": None, "open_alerts": 0})

                for family in FAMILIES:
                    if f"events_{family}" not in tables:
                        continue
                    rows = conn.execute(sa.text(
                        f"select regency_code, count(*) from events_{family} where stored_at >= :since "
                        "group by regency_code"), {"since": _param(conn, midnight)})
                    for code, n in rows:
                        slot(code)["events_today"] += int(n)
                rows = conn.execute(sa.text(
                    "select regency_code, sum(case when sla_met then 1 else 0 end), count(*) from service_requests "
                    "where outcome = 'ISSUED' and sla_met is not null group by regency_code"))
                for code, met, total in rows:
                    slot(code)["sla_met_pct"] = round(100.0 * int(met or 0) / int(total), 1) if total else None
                day_ago, hour_ago = _param(conn, now - timedelta(days=1)), _param(conn, now - timedelta(hours=1))
                for code, n in conn.execute(sa.text(
                        "select regency_code, count(*) from alerts where raised_at >= :since group by regency_code"),
                        {"since": day_ago}):
                    slot(code)["open_alerts"] = int(n)
                last_hour = conn.execute(sa.text("select count(*) from alerts where raised_at >= :since"),
                                         {"since": hour_ago}).scalar_one()
                by_rule = dict(conn.execute(sa.text("select rule, count(*) from alerts group by rule")).all())
                recent = [dict(r._mapping) for r in conn.execute(sa.text(
                    "select alert_id, rule, severity, regency_code, message, raised_at from alerts "
                    "order by raised_at desc limit 50"))]
        except sa.exc.SQLAlchemyError as exc:
            return {"available": False, "error": str(exc).splitlines()[0]}
        for r in recent:
            r["raised_at"] = _iso(r["raised_at"])
        return {"available": True, "regencies": regencies, "alerts_last_hour": int(last_hour),
                "alerts_by_rule": {k: int(v) for k, v in by_rule.items()}, "recent_alerts": recent}


def _param(conn: sa.Connection, when: datetime) -> Any:  # noqa: ANN401
    """The store keeps UTC; SQLite holds it as naive ISO text, PostgreSQL as timestamptz."""
    return when.replace(tzinfo=None) if conn.dialect.name == "sqlite" else when


def _iso(value: Any) -> str:  # noqa: ANN401
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return str(value)
