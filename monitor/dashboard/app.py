"""The ops dashboard (`simpul monitor`): overview, the 35 regencies, alerts, lag chart, DLQ browser with replay,
and Prometheus /metrics. The page polls /api/overview, so it updates live without a reload."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry
from pydantic import BaseModel

from monitor.dashboard.metrics import SnapshotCollector
from monitor.dashboard.state import DashboardState
from monitor.dlq import DlqBrowser, ReplayError
from schemas.reference import regencies


class ReplayItem(BaseModel):
    partition: int
    offset: int
    fixed: dict[str, Any] | None = None


class ReplayRequest(BaseModel):
    records: list[ReplayItem]


def create_app(state: DashboardState, dlq: DlqBrowser) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state.start()
        try:
            yield
        finally:
            state.stop()

    app = FastAPI(title="Simpul monitor", version="1", lifespan=lifespan)
    registry = CollectorRegistry()
    registry.register(SnapshotCollector(state))
    page = files("monitor.dashboard").joinpath("index.html").read_text(encoding="utf-8")
    names = [{"code": r.code, "name": r.display_name} for r in regencies()]

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> str:
        return page

    @app.get("/api/overview")
    def overview() -> dict[str, Any]:
        return {**state.snapshot(), "regencies": names}

    @app.get("/api/dlq")
    def dlq_records(limit: int = 100) -> list[dict[str, Any]]:
        return [{**r.model_dump(mode="json"), "id": r.id} for r in dlq.latest(min(max(limit, 1), 1000))]

    @app.post("/api/dlq/replay")
    def replay(request: ReplayRequest) -> list[dict[str, Any]]:
        results = []
        for item in request.records:
            try:
                results.append(dlq.replay(item.partition, item.offset, item.fixed))
            except ReplayError as exc:
                raise HTTPException(status_code=422, detail=str(exc)) from exc
        return results

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
