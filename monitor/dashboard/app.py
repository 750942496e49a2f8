"""The ops dashboard (`simpul monitor`): overview, the 35 regencies, alerts, lag chart, DLQ browser with replay, the
audit trail, and Prometheus /metrics. The page polls /api/overview, so it updates live without a reload. Each
regency row links to the DLQ browser filtered to that regency's rejections (`/api/dlq?regency=<code>`: the records
whose source is its ingress topic).

Every route but /login, /healthz and the static assets needs a session (monitor.dashboard.access); replaying or
editing a DLQ record needs the operator role and the session's CSRF token, and is written to the audit trail.
"""

from __future__ import annotations

import html
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry
from pydantic import BaseModel, Field
from starlette.middleware.trustedhost import TrustedHostMiddleware

from monitor.audit import AuditPublishError, audited_replay
from monitor.dashboard.access import (SAFE_METHODS, OpsAccess, clear_session_cookie, protect_headers,
                                      require_change, require_session, same_origin, set_session_cookie)
from monitor.dashboard.metrics import SnapshotCollector
from monitor.dashboard.state import DashboardState
from monitor.dlq import DlqBrowser, ReplayError
from schemas.reference import regencies

log = logging.getLogger("simpul.monitor")

MAX_LOGIN_BODY = 4096
DLQ_SCAN = 1000
"""The newest DLQ records a regency filter looks through (the browser shows the newest, never the whole topic)."""
STATIC = {"app.js": "text/javascript", "app.css": "text/css"}


PARTITION_MAX = 2**31 - 1
OFFSET_MAX = 2**63 - 1
"""Kafka's own bounds (int32 partitions, int64 offsets): anything larger names no record."""


class ReplayItem(BaseModel):
    partition: int = Field(ge=0, le=PARTITION_MAX)
    offset: int = Field(ge=0, le=OFFSET_MAX)
    fixed: dict[str, Any] | None = None


class ReplayRequest(BaseModel):
    records: list[ReplayItem]


def _asset(name: str) -> str:
    return files("monitor.dashboard").joinpath(name).read_text(encoding="utf-8")


def create_app(state: DashboardState, dlq: DlqBrowser, access: OpsAccess) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state.start()
        try:
            yield
        finally:
            state.stop()
            access.audit.close()

    app = FastAPI(title="Simpul monitor", version="1", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        """Where and why, never the value: a body can hold a NIK, and FastAPI's own answer echoes it (and fails
        with a 500 on a value JSON cannot carry, such as `1e999`)."""
        return JSONResponse({"detail": validation_problems(exc)}, status_code=422)
    registry = CollectorRegistry()
    registry.register(SnapshotCollector(state))
    page, login_page = _asset("index.html"), _asset("login.html")
    assets = {name: _asset(name) for name in STATIC}
    names = [{"code": r.code, "name": r.display_name} for r in regencies()]
    codes = {r["code"] for r in names}

    @app.middleware("http")
    async def guard(request: Request, call_next):  # noqa: ANN001, ANN202 - Starlette's middleware signature
        if request.method not in SAFE_METHODS and not same_origin(request):
            response: Response = JSONResponse({"detail": "cross-origin request refused"}, status_code=403)
        else:
            response = await call_next(request)
        protect_headers(response, request)
        return response

    # Added last, so it runs first: a foreign Host is refused before anything else looks at the request.
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(access.allowed_hosts), www_redirect=False)

    def login_form(message: str, status: int) -> HTMLResponse:
        body = login_page.replace("<!--message-->", f'<p class="error">{html.escape(message)}</p>' if message else "")
        return HTMLResponse(body, status_code=status)

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_get(request: Request) -> Response:
        if access.session(request) is not None:
            return RedirectResponse("/", status_code=303)
        return login_form("", 200)

    @app.post("/login", include_in_schema=False)
    async def login_post(request: Request) -> Response:
        raw = await request.body()
        if len(raw) > MAX_LOGIN_BODY:
            return login_form("the form is too large", 413)
        form = parse_qs(raw.decode(errors="replace"), max_num_fields=10)
        user = (form.get("username") or [""])[0].strip().lower()
        password = (form.get("password") or [""])[0]
        address = request.client.host if request.client else "unknown"
        wait = access.limiter.retry_after(user, address)
        if wait is not None:
            response = login_form(f"too many failed logins; try again in {wait} s", 429)
            response.headers["Retry-After"] = str(wait)
            return response
        account = await run_in_threadpool(access.accounts.authenticate, user, password)
        if account is None:
            access.limiter.failed(user, address)
            return login_form("wrong user name or password", 401)
        access.limiter.succeeded(user)
        cookie, session = await run_in_threadpool(access.sessions.start, account)
        response = RedirectResponse("/", status_code=303)
        set_session_cookie(response, request, cookie, session.expires_at)
        return response

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request) -> Response:
        session = require_change(access, request, operator=False)
        access.sessions.end(session)
        response = JSONResponse({"logged_out": session.account.name})
        clear_session_cookie(response, request)
        return response

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index(request: Request) -> Response:
        if access.session(request) is None:
            return RedirectResponse("/login", status_code=303)
        return HTMLResponse(page)

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        if name not in assets:
            raise HTTPException(status_code=404)
        return Response(assets[name], media_type=STATIC[name])

    @app.get("/api/session")
    def whoami(request: Request) -> dict[str, Any]:
        session = require_session(access, request)
        return {"user": session.account.name, "role": session.account.role, "csrf_token": session.csrf,
                "expires_at": session.expires_at.isoformat()}

    @app.get("/api/overview")
    def overview(request: Request) -> dict[str, Any]:
        require_session(access, request)
        return {**state.snapshot(), "regencies": names}

    @app.get("/api/dlq")
    def dlq_records(request: Request, limit: int = 100, regency: str | None = None) -> list[dict[str, Any]]:
        require_session(access, request)
        limit = min(max(limit, 1), 1000)
        if regency is None:
            return [{**r.model_dump(mode="json"), "id": r.id} for r in dlq.latest(limit)]
        if regency not in codes:
            raise HTTPException(status_code=422, detail="regency: not one of the 35 regency codes")
        rows = [r for r in dlq.latest(DLQ_SCAN) if dlq.ingress.get(r.source_topic) == regency]
        return [{**r.model_dump(mode="json"), "id": r.id} for r in rows[:limit]]

    @app.get("/api/audit")
    def audit_entries(request: Request, limit: int = 100) -> list[dict[str, Any]]:
        require_session(access, request)
        return access.audit.recent(min(max(limit, 1), 1000))

    @app.post("/api/dlq/replay")
    def replay(request: Request, body: ReplayRequest) -> list[dict[str, Any]]:
        session = require_change(access, request, operator=True)
        results = []
        try:
            for item in body.records:
                results.append(audited_replay(dlq, access.audit, actor=session.account.name,
                                              role=session.account.role, partition=item.partition,
                                              offset=item.offset, fixed=item.fixed))
        except ReplayError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from exc
        finally:
            _publish(access)
        return results

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        if not access.metrics_allowed(request):
            return JSONResponse({"detail": "send Authorization: Bearer <metrics token> (`simpul secrets show`)"},
                                status_code=401, headers={"WWW-Authenticate": "Bearer"})
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def validation_problems(exc: RequestValidationError) -> list[dict[str, str]]:
    """Each problem as its location and pydantic's message; pydantic's messages name limits, not the input."""
    return [{"field": ".".join(str(part) for part in e.get("loc", ())) or "<request>",
             "reason": str(e.get("msg", "invalid"))} for e in exc.errors()]


def _publish(access: OpsAccess) -> None:
    """Send the new audit entries now; if the broker does not take them, the next collection round retries."""
    try:
        access.audit.publish_pending()
    except AuditPublishError as exc:
        log.warning("%s", exc)
