"""Dashboard sessions: a signed cookie naming a server-side session, and a CSRF token bound to it.

The cookie is `<session id>.<expiry, epoch seconds>.<HMAC-SHA256>`; the key is derived (HKDF) from the
installation's `session_key`. The database keeps only a SHA-256 of each session id, with its user, expiry and
revocation; every request checks that the session is live and its user still enabled, so logging out or disabling
a user ends the session at once. The CSRF token is an HMAC of the session id under a second derived key: a page of
this session can send it, another site cannot learn it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from monitor.accounts import Account, account_from_row
from monitor.opsdb import as_utc, sessions, users

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


def derive_key(secret: str, purpose: str) -> bytes:
    """A 32-byte key for one purpose, from an installation secret (HKDF-SHA256)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=f"simpul dashboard {purpose}".encode()).derive(secret.encode())


def _mac(key: bytes, text: str) -> str:
    digest = hmac.new(key, text.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class SessionSigner:
    """Signs and checks session cookies and CSRF tokens; pure, no database."""

    def __init__(self, secret: str, lifetime: timedelta, clock: Clock = _now) -> None:
        self.cookie_key, self.csrf_key = derive_key(secret, "session cookie"), derive_key(secret, "csrf token")
        self.lifetime, self.clock = lifetime, clock

    def issue(self) -> tuple[str, str, datetime]:
        """A new session: its id, its cookie value and when it expires."""
        sid = secrets.token_urlsafe(32)
        expires = (self.clock() + self.lifetime).replace(microsecond=0)
        body = f"{sid}.{int(expires.timestamp())}"
        return sid, f"{body}.{_mac(self.cookie_key, body)}", expires

    def session_id(self, cookie: str) -> str | None:
        """The session id of a cookie whose signature holds and whose expiry has not passed; else None."""
        parts = cookie.split(".")
        if len(parts) != 3 or not parts[1].isdigit():
            return None
        sid, expires, mac = parts
        if not hmac.compare_digest(mac, _mac(self.cookie_key, f"{sid}.{expires}")):
            return None
        if int(expires) <= self.clock().timestamp():
            return None
        return sid

    def csrf_token(self, sid: str) -> str:
        return _mac(self.csrf_key, sid)

    def csrf_ok(self, sid: str, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(token.encode(), self.csrf_token(sid).encode())  # type: ignore[union-attr]


@dataclass(frozen=True)
class Session:
    """A live session: whose it is, and the CSRF token its page sends with every change."""

    sid: str
    account: Account
    csrf: str
    expires_at: datetime


class Sessions:
    """Server-side sessions in the dashboard database."""

    def __init__(self, engine: sa.Engine, signer: SessionSigner) -> None:
        self.engine, self.signer = engine, signer

    def start(self, account: Account) -> tuple[str, Session]:
        """Open a session for `account`; returns the cookie value and the session."""
        sid, cookie, expires = self.signer.issue()
        with self.engine.begin() as conn:
            conn.execute(sessions.insert().values(id_sha256=_sha256(sid), user_name=account.name,
                                                  created_at=self.signer.clock(), expires_at=expires))
        return cookie, Session(sid, account, self.signer.csrf_token(sid), expires)

    def resolve(self, cookie: str | None) -> Session | None:
        """The live session of a cookie: signed, unexpired, not revoked, its user enabled. None otherwise."""
        sid = self.signer.session_id(cookie) if cookie else None
        if sid is None:
            return None
        query = (sa.select(users, sessions.c.expires_at)
                 .join(sessions, sessions.c.user_name == users.c.name)
                 .where(sessions.c.id_sha256 == _sha256(sid), sessions.c.revoked_at.is_(None),
                        users.c.disabled_at.is_(None)))
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            return None
        expires = as_utc(row["expires_at"])
        assert expires is not None
        if expires <= self.signer.clock():
            return None
        return Session(sid, account_from_row(row), self.signer.csrf_token(sid), expires)

    def end(self, session: Session) -> None:
        with self.engine.begin() as conn:
            conn.execute(sessions.update().where(sessions.c.id_sha256 == _sha256(session.sid))
                         .values(revoked_at=self.signer.clock()))
