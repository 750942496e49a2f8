"""Ops accounts of the dashboard: a name, a role, and an argon2id hash of the password (never the password).

Roles: `viewer` reads everything the dashboard shows; `operator` also replays and edits DLQ records.
"""

from __future__ import annotations

import functools
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, get_args

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from monitor.exceptions import MonitorError
from monitor.opsdb import as_utc, sessions, users

Role = Literal["viewer", "operator"]
ROLES: tuple[str, ...] = get_args(Role)
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # bounds the work one login attempt can cost

# argon2-cffi's defaults are RFC 9106's second recommended option: argon2id, 64 MiB, t=3, p=4.
_hasher = PasswordHasher()


class AccountError(MonitorError):
    """An account operation that cannot be done as asked (bad name, weak password, unknown user)."""


@dataclass(frozen=True)
class Account:
    name: str
    role: Role
    created_at: datetime
    disabled_at: datetime | None

    @property
    def enabled(self) -> bool:
        return self.disabled_at is None

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "role": self.role, "created_at": self.created_at.isoformat(),
                "disabled_at": self.disabled_at.isoformat() if self.disabled_at else None}


@dataclass(frozen=True)
class CreatedAccount:
    """A new account; `password` is what the person logs in with, shown once and never stored."""

    account: Account
    password: str
    generated: bool


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """True when `password` matches; argon2's own comparison is constant-time."""
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def unknown_user_hash() -> str:
    """Verified against when the user is unknown, so an unknown name costs the same time as a wrong password."""
    return _hasher.hash(secrets.token_urlsafe(32))


def generate_password() -> str:
    """24 random bytes, URL-safe: 32 characters, 192 bits."""
    return secrets.token_urlsafe(24)


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise AccountError(f"user name {name!r} is not valid: 2-64 characters, lower-case letters, digits, '.', '_' "
                           "or '-', starting with a letter")
    return name


def check_role(role: str) -> Role:
    if role not in ROLES:
        raise AccountError(f"role {role!r} is not one of {', '.join(ROLES)}")
    return role  # type: ignore[return-value]


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password is shorter than {MIN_PASSWORD_LENGTH} characters; leave it out to get a "
                           "generated one")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"the password is longer than {MAX_PASSWORD_LENGTH} characters")
    return password


def account_from_row(row: sa.RowMapping) -> Account:
    """An account from a row of dashboard_users (or of a join that holds its columns)."""
    return Account(name=row["name"], role=row["role"], created_at=as_utc(row["created_at"]),  # type: ignore[arg-type]
                   disabled_at=as_utc(row["disabled_at"]))


class Accounts:
    """Create, list, disable and authenticate accounts in the dashboard database."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def create(self, name: str, role: str, password: str | None = None) -> CreatedAccount:
        """A new enabled account; a password is generated when none is given."""
        check_name(name)
        chosen = check_role(role)
        generated = password is None
        secret = generate_password() if password is None else check_password(password)
        now = datetime.now(UTC)
        exists = AccountError(f"user {name!r} already exists; `simpul users list` shows the accounts")
        try:
            with self.engine.begin() as conn:
                if conn.execute(sa.select(users.c.name).where(users.c.name == name)).first() is not None:
                    raise exists
                conn.execute(users.insert().values(name=name, role=chosen, password_hash=hash_password(secret),
                                                   created_at=now))
        except sa.exc.IntegrityError:  # created by someone else at the same moment
            raise exists from None
        return CreatedAccount(Account(name, chosen, now, None), secret, generated)

    def disable(self, name: str) -> Account:
        """Disable an account and revoke its sessions; a page still open gets 401 on its next request."""
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            done = conn.execute(users.update().where(users.c.name == name, users.c.disabled_at.is_(None))
                                .values(disabled_at=now)).rowcount
            conn.execute(sessions.update().where(sessions.c.user_name == name, sessions.c.revoked_at.is_(None))
                         .values(revoked_at=now))
        if not done:
            raise AccountError(f"no enabled user {name!r}; `simpul users list` shows the accounts")
        account = self.get(name)
        assert account is not None
        return account

    def get(self, name: str) -> Account | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(users).where(users.c.name == name)).mappings().first()
        return account_from_row(row) if row else None

    def list_accounts(self) -> list[Account]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(users).order_by(users.c.name)).mappings().all()
        return [account_from_row(r) for r in rows]

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(users)).scalar_one())

    def authenticate(self, name: str, password: str) -> Account | None:
        """The enabled account `name` when `password` is its password, else None.

        Unknown names, disabled accounts and wrong passwords take the same argon2 work and give the same answer.
        """
        password = password[:MAX_PASSWORD_LENGTH]
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(users).where(users.c.name == name)).mappings().first()
        matches = verify_password(row["password_hash"] if row else unknown_user_hash(), password)
        if row is None or not matches or row["disabled_at"] is not None:
            return None
        return account_from_row(row)
