"""Prometheus exposition of the dashboard's latest snapshot (scrape /metrics)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from monitor.dashboard.state import DashboardState


class SnapshotCollector(Collector):
    """Gauges from the last collection round; nothing is computed at scrape time."""

    def __init__(self, state: DashboardState) -> None:
        self.state = state

    def collect(self) -> Iterator[Any]:
        snap = self.state.snapshot()
        status = snap["status"]
        up = GaugeMetricFamily("simpul_monitor_up", "1 when the last collection round succeeded")
        up.add_metric([], 0.0 if snap["error"] or status is None else 1.0)
        yield up
        if status is None:
            return
        lag = GaugeMetricFamily("simpul_consumer_lag", "records behind the end, per group and partition",
                                labels=["group", "topic", "partition"])
        total = GaugeMetricFamily("simpul_consumer_lag_total", "records behind the end, per group", labels=["group"])
        for g in status["groups"]:
            total.add_metric([g["group"]], g["total_lag"])
            for p in g["partitions"]:
                if p["lag"] is not None:
                    lag.add_metric([g["group"], p["topic"], str(p["partition"])], p["lag"])
        yield lag
        yield total
        tp = GaugeMetricFamily("simpul_throughput_events_per_second", "events per second over the last minute",
                               labels=["direction"])
        tp.add_metric(["in"], status["throughput"]["in_per_s"])
        tp.add_metric(["out"], status["throughput"]["out_per_s"])
        yield tp
        dlq = GaugeMetricFamily("simpul_dlq_records", "records in the DLQ, per reason", labels=["reason"])
        for reason, count in status["dlq"]["by_reason"].items():
            dlq.add_metric([reason], count)
        yield dlq
        fresh = GaugeMetricFamily("simpul_regency_seconds_since_last_event",
                                  "seconds since the regency's newest ingress record (-1: never)", labels=["regency"])
        silent = GaugeMetricFamily("simpul_regency_silent", "1 when the regency is silent past the threshold",
                                   labels=["regency"])
        for f in status["freshness"]:
            fresh.add_metric([f["regency_code"]], f["seconds_since"] if f["seconds_since"] is not None else -1)
            silent.add_metric([f["regency_code"]], 1.0 if f["silent"] else 0.0)
        yield fresh
        yield silent
        records = GaugeMetricFamily("simpul_topic_records", "records held by each topic", labels=["topic", "role"])
        for t in status["topics"]:
            records.add_metric([t["name"], t["role"]], t["records"])
        yield records
        alerts = CounterMetricFamily("simpul_alerts", "alerts raised, per rule", labels=["rule"])
        for rule, count in (snap["store"].get("alerts_by_rule") or {}).items():
            alerts.add_metric([rule], count)
        yield alerts
