"""Who may use the dashboard, and how a request proves it: the parts `create_app` wires into every route.

- Host: only the configured names (Starlette's TrustedHostMiddleware, 400 otherwise), so a DNS-rebinding page or a
  foreign virtual host is never served.
- Origin: a state-changing request that a browser marks as coming from another origin is refused (403).
- Session: a signed, HttpOnly, SameSite=Strict cookie naming a live server-side session (monitor.sessions).
- CSRF: every state-changing request of a session carries `X-CSRF-Token`, which only the session's own page can read.
- Role: viewers read; operators also replay and edit DLQ records.
- /metrics: `Authorization: Bearer <metrics_token>`.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from fastapi import HTTPException, Request
from fastapi.responses import Response

from monitor.accounts import Accounts
from monitor.audit import AuditLog
from monitor.exceptions import MonitorError
from monitor.login_limit import LoginLimiter
from monitor.sessions import Session, Sessions

COOKIE = "simpul_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


class AccessConfigError(MonitorError):
    """The dashboard's access settings would leave it open."""


@dataclass(frozen=True)
class OpsAccess:
    """Everything the dashboard needs to decide who is asking and what they may do."""

    accounts: Accounts
    sessions: Sessions
    limiter: LoginLimiter
    audit: AuditLog
    metrics_token: str
    allowed_hosts: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.allowed_hosts:
            raise AccessConfigError("SIMPUL_DASHBOARD_ALLOWED_HOSTS is empty; name the hosts the dashboard is "
                                    "reached by, e.g. 127.0.0.1,localhost,monitor.example.go.id")
        if "*" in self.allowed_hosts:
            raise AccessConfigError("SIMPUL_DASHBOARD_ALLOWED_HOSTS must not contain '*': it would serve any Host "
                                    "(DNS rebinding); list the names instead")

    def session(self, request: Request) -> Session | None:
        return self.sessions.resolve(request.cookies.get(COOKIE))

    def metrics_allowed(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), self.metrics_token.encode())


def same_origin(request: Request) -> bool:
    """False when the browser says the request comes from another origin (Origin, else Referer).

    A request with neither header is not a browser's cross-site request; it still needs a session and a CSRF token.
    """
    source = request.headers.get("origin") or request.headers.get("referer")
    if source is None:
        return True
    if source == "null":
        return False
    return urlsplit(source).netloc.lower() == request.headers.get("host", "").lower()


def require_session(access: OpsAccess, request: Request) -> Session:
    """The caller's session, or 401."""
    session = access.session(request)
    if session is None:
        raise HTTPException(status_code=401, detail="log in first (POST /login); the session is missing, expired "
                                                    "or ended", headers={"WWW-Authenticate": "Cookie"})
    return session


def require_change(access: OpsAccess, request: Request, *, operator: bool) -> Session:
    """A session allowed to change something: CSRF token present and right, and the operator role if asked."""
    session = require_session(access, request)
    if not access.sessions.signer.csrf_ok(session.sid, request.headers.get(CSRF_HEADER)):
        raise HTTPException(status_code=403, detail=f"missing or wrong {CSRF_HEADER} header; reload the page")
    if operator and session.account.role != "operator":
        raise HTTPException(status_code=403, detail=f"{session.account.name} is a {session.account.role}; only an "
                                                    "operator may replay or edit DLQ records")
    return session


def set_session_cookie(response: Response, request: Request, cookie: str, expires_at: datetime) -> None:
    response.set_cookie(COOKIE, cookie, max_age=max(0, int((expires_at - datetime.now(UTC)).total_seconds())),
                        path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https")


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https")


def protect_headers(response: Response, request: Request) -> None:
    """Security headers on every answer; nothing but static assets may be cached."""
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    if not request.url.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"
    if request.url.scheme == "https":
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
