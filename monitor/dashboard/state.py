"""What the dashboard shows, refreshed in the background so that page loads never wait on the cluster."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from monitor.cluster import ClusterReader
from monitor.models import Status
from monitor.status import collect
from topics.connection import KafkaConnection

log = logging.getLogger("simpul.monitor")

StoreStats = Callable[[], dict[str, Any]]
Chore = Callable[[], object]


class DashboardState:
    """The latest snapshot, a short history of lag and throughput, and the store's per-regency figures."""

    def __init__(self, kafka: KafkaConnection, registry_url: str, prefix: str, *, interval_s: float = 3.0,
                 history: int = 200, silent_after_s: int = 3600, store_stats: StoreStats | None = None,
                 chores: tuple[Chore, ...] = ()) -> None:
        self.kafka, self.registry_url, self.prefix = kafka, registry_url, prefix
        self.interval_s, self.silent_after_s = interval_s, silent_after_s
        self.store_stats = store_stats
        self.chores = chores
        self.status: Status | None = None
        self.store: dict[str, Any] = {}
        self.error: str | None = None
        self.history: deque[dict[str, Any]] = deque(maxlen=history)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="simpul-dashboard-refresh", daemon=True)
        self._lock = threading.Lock()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def refresh(self, reader: ClusterReader) -> None:
        """One collection round; failures are shown on the page, not raised."""
        try:
            status = collect(self.kafka, self.registry_url, self.prefix, silent_after_s=self.silent_after_s,
                             reader=reader)
            store = self.store_stats() if self.store_stats else {}
            with self._lock:
                self.status, self.store, self.error = status, store, None
                self.history.append({
                    "at": status.generated_at.isoformat(),
                    "lag": {g.group: g.total_lag for g in status.groups},
                    "in_per_s": status.throughput.in_per_s, "out_per_s": status.throughput.out_per_s,
                })
        except Exception as exc:  # noqa: BLE001 - the page shows what went wrong; the loop keeps going
            log.warning("dashboard refresh failed: %s", exc)
            with self._lock:
                self.error = str(exc)

    def run_chores(self) -> None:
        """Work that must eventually happen (sending audit entries the broker missed); retried every round."""
        for chore in self.chores:
            try:
                chore()
            except Exception as exc:  # noqa: BLE001 - logged; the next round tries again
                log.warning("dashboard chore failed: %s", exc)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            status = self.status.model_dump(mode="json") if self.status else None
            return {"status": status, "store": self.store, "history": list(self.history), "error": self.error,
                    "served_at": datetime.now(UTC).isoformat()}

    def _run(self) -> None:
        reader = ClusterReader(self.kafka)
        try:
            while not self._stop.is_set():
                started = time.monotonic()
                self.refresh(reader)
                self.run_chores()
                self._stop.wait(max(0.2, self.interval_s - (time.monotonic() - started)))
        finally:
            reader.close()
