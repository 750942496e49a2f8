"""Ops accounts of the dashboard without a broker: password hashing, session cookies (signature, expiry, tamper,
revocation), CSRF tokens, the login rate limit and the Origin check."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from starlette.requests import Request

from monitor.accounts import AccountError, Accounts, hash_password, verify_password
from monitor.dashboard.access import AccessConfigError, OpsAccess, same_origin
from monitor.login_limit import LoginLimiter
from monitor.opsdb import connect, users
from monitor.sessions import SessionSigner, Sessions, derive_key

SECRET = "r3Xo0Q4uQ0f2m2m0Yb8r2nTqgk8mJxV1sWb5Qk9Zc3E"  # shaped like a generated secret (43 characters)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    return connect(f"sqlite:///{tmp_path / 'dashboard.sqlite'}")


# ---- passwords ---------------------------------------------------------------------------------------------------

def test_passwords_are_argon2id_hashes_and_verify() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert verify_password(stored, "correct horse battery")
    assert not verify_password(stored, "correct horse batterY")
    assert not verify_password("not a hash", "correct horse battery")
    assert hash_password("same") != hash_password("same")  # salted


def test_accounts_keep_only_the_hash(engine: sa.Engine) -> None:
    accounts = Accounts(engine)
    created = accounts.create("siti", "operator")
    assert created.generated and len(created.password) >= 32
    with engine.connect() as conn:
        dump = " ".join(str(v) for row in conn.execute(sa.select(users)).all() for v in row)
    assert created.password not in dump and "$argon2id$" in dump
    assert accounts.authenticate("siti", created.password).role == "operator"  # type: ignore[union-attr]
    assert accounts.authenticate("siti", created.password + "x") is None
    assert accounts.authenticate("nobody", created.password) is None


def test_account_rules(engine: sa.Engine) -> None:
    accounts = Accounts(engine)
    with pytest.raises(AccountError, match="role 'admin'"):
        accounts.create("budi", "admin")
    with pytest.raises(AccountError, match="shorter than 12"):
        accounts.create("budi", "viewer", "short")
    with pytest.raises(AccountError, match="not valid"):
        accounts.create("Budi Santoso", "viewer")
    accounts.create("budi", "viewer", "a long enough password")
    with pytest.raises(AccountError, match="already exists"):
        accounts.create("budi", "operator")
    accounts.disable("budi")
    assert accounts.authenticate("budi", "a long enough password") is None
    with pytest.raises(AccountError, match="no enabled user"):
        accounts.disable("budi")
    assert [(a.name, a.enabled) for a in accounts.list_accounts()] == [("budi", False)]


# ---- session cookies and CSRF ------------------------------------------------------------------------------------

def test_cookie_signature_and_expiry() -> None:
    clock = Clock()
    signer = SessionSigner(SECRET, timedelta(hours=10), clock)
    sid, cookie, expires = signer.issue()
    assert signer.session_id(cookie) == sid
    assert expires == clock.now + timedelta(hours=10)
    clock.now += timedelta(hours=9, minutes=59)
    assert signer.session_id(cookie) == sid
    clock.now += timedelta(minutes=1)
    assert signer.session_id(cookie) is None  # expired


@pytest.mark.parametrize("tamper", [
    lambda c: c[:-1] + ("A" if c[-1] != "A" else "B"),              # signature changed
    lambda c: ("x" if c[0] != "x" else "y") + c[1:],                 # session id changed (never to itself)
    lambda c: ".".join([c.split(".")[0], str(int(c.split(".")[1]) + 86400), c.split(".")[2]]),  # expiry pushed
    lambda c: c.rsplit(".", 1)[0],                                   # signature dropped
    lambda c: "",
])
def test_tampered_cookie_is_refused(tamper) -> None:  # noqa: ANN001
    signer = SessionSigner(SECRET, timedelta(hours=1))
    _, cookie, _ = signer.issue()
    assert signer.session_id(tamper(cookie)) is None


def test_cookie_of_another_key_is_refused() -> None:
    _, cookie, _ = SessionSigner(SECRET, timedelta(hours=1)).issue()
    assert SessionSigner(SECRET[::-1], timedelta(hours=1)).session_id(cookie) is None


def test_csrf_token_is_bound_to_the_session() -> None:
    signer = SessionSigner(SECRET, timedelta(hours=1))
    sid, _, _ = signer.issue()
    other, _, _ = signer.issue()
    token = signer.csrf_token(sid)
    assert signer.csrf_ok(sid, token)
    assert not signer.csrf_ok(other, token)
    assert not signer.csrf_ok(sid, None) and not signer.csrf_ok(sid, "")
    assert not signer.csrf_ok(sid, token[:-1])
    assert derive_key(SECRET, "csrf token") != derive_key(SECRET, "session cookie")


def test_sessions_end_on_logout_expiry_and_disable(engine: sa.Engine) -> None:
    clock = Clock()
    accounts = Accounts(engine)
    account = accounts.create("siti", "operator").account
    sessions = Sessions(engine, SessionSigner(SECRET, timedelta(hours=8), clock))

    cookie, session = sessions.start(account)
    resolved = sessions.resolve(cookie)
    assert resolved is not None and resolved.account.name == "siti" and resolved.csrf == session.csrf
    sessions.end(session)
    assert sessions.resolve(cookie) is None  # logged out: the cookie no longer works, even unexpired

    cookie, _ = sessions.start(account)
    clock.now += timedelta(hours=8, seconds=1)
    assert sessions.resolve(cookie) is None  # expired

    clock.now = datetime.now(UTC)
    cookie, _ = sessions.start(account)
    assert sessions.resolve(cookie) is not None
    accounts.disable("siti")
    assert sessions.resolve(cookie) is None  # disabled: ends at once
    assert sessions.resolve(None) is None and sessions.resolve("garbage") is None


def test_the_database_does_not_hold_working_session_ids(engine: sa.Engine) -> None:
    account = Accounts(engine).create("siti", "viewer").account
    cookie, session = Sessions(engine, SessionSigner(SECRET, timedelta(hours=1))).start(account)
    with engine.connect() as conn:
        stored = conn.execute(sa.text("select id_sha256 from dashboard_sessions")).scalar_one()
    assert stored == hashlib.sha256(session.sid.encode()).hexdigest()
    assert session.sid not in stored and cookie.split(".")[0] == session.sid


# ---- login rate limit --------------------------------------------------------------------------------------------

def test_login_limit_per_user_and_per_address() -> None:
    now = [1000.0]
    limiter = LoginLimiter(5, 300, clock=lambda: now[0])
    for _ in range(5):
        assert limiter.retry_after("siti", "10.0.0.1") is None
        limiter.failed("siti", "10.0.0.1")
    wait = limiter.retry_after("siti", "10.0.0.1")
    assert wait is not None and 295 <= wait <= 301
    assert limiter.retry_after("siti", "10.0.0.2") is not None  # the user is limited from any address
    assert limiter.retry_after("budi", "10.0.0.1") is not None  # and the address for any user
    assert limiter.retry_after("budi", "10.0.0.2") is None
    now[0] += 301
    assert limiter.retry_after("siti", "10.0.0.1") is None  # the window slid past


def test_a_success_clears_the_user_but_not_the_address() -> None:
    limiter = LoginLimiter(2, 60)
    limiter.failed("siti", "a")
    limiter.failed("budi", "a")
    limiter.succeeded("siti")
    assert limiter.retry_after("siti", "b") is None
    assert limiter.retry_after("other", "a") is not None


# ---- Host and Origin -----------------------------------------------------------------------------------------------

def _request(method: str, headers: dict[str, str]) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "method": method, "path": "/api/dlq/replay", "headers": raw,
                    "query_string": b"", "scheme": "http", "server": ("127.0.0.1", 18090)})


@pytest.mark.parametrize(("headers", "allowed"), [
    ({"host": "127.0.0.1:18090", "origin": "http://127.0.0.1:18090"}, True),
    ({"host": "127.0.0.1:18090"}, True),  # not a browser: the session and CSRF token still apply
    ({"host": "127.0.0.1:18090", "origin": "http://evil.example"}, False),
    ({"host": "127.0.0.1:18090", "origin": "http://127.0.0.1:18091"}, False),
    ({"host": "127.0.0.1:18090", "origin": "null"}, False),
    ({"host": "127.0.0.1:18090", "referer": "http://evil.example/page"}, False),
    ({"host": "127.0.0.1:18090", "referer": "http://127.0.0.1:18090/"}, True),
])
def test_same_origin(headers: dict[str, str], allowed: bool) -> None:
    assert same_origin(_request("POST", headers)) is allowed


@pytest.mark.parametrize(("hosts", "message"), [((), "is empty"), (("localhost", "*"), "must not contain")])
def test_an_open_host_list_is_refused(engine: sa.Engine, hosts: tuple[str, ...], message: str) -> None:
    with pytest.raises(AccessConfigError, match=message):
        OpsAccess(accounts=Accounts(engine), sessions=Sessions(engine, SessionSigner(SECRET, timedelta(hours=1))),
                  limiter=LoginLimiter(5, 300), audit=None, metrics_token=SECRET,  # type: ignore[arg-type]
                  allowed_hosts=hosts)


def test_audit_details_keep_no_nik() -> None:
    from monitor.audit import MAX_DETAIL, clean_detail

    detail = clean_detail("the fixed event is still invalid:\n applicant_nik 3374015502900001 is not ...")
    assert "3374015502900001" not in detail and "\n" not in detail and detail.startswith("the fixed event")
    assert len(clean_detail("x" * 5000)) == MAX_DETAIL


def test_the_sqlite_database_is_its_owners_alone(tmp_path: Path) -> None:
    path = tmp_path / "state" / "dashboard.sqlite"
    old = os.umask(0o022)
    try:
        Accounts(connect(f"sqlite:///{path}")).create("siti", "viewer")
    finally:
        os.umask(old)
    modes = {p.name: p.stat().st_mode & 0o777 for p in path.parent.iterdir()}
    assert modes["dashboard.sqlite"] == 0o600 and all(m == 0o600 for m in modes.values()), modes
    os.chmod(path, 0o644)
    connect(f"sqlite:///{path}")
    assert path.stat().st_mode & 0o777 == 0o600
