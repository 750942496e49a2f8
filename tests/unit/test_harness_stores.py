"""Dropping a run's PostgreSQL database waits out sessions the owner may not end (an autovacuum worker)."""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy as sa

from harness import stores
from simpul.settings import Settings


def _refused() -> sa.exc.ProgrammingError:
    return sa.exc.ProgrammingError("DROP DATABASE", {}, psycopg.errors.InsufficientPrivilege(
        "must be a member of the role whose process is being terminated or member of pg_signal_backend"))


def test_a_drop_refused_for_another_roles_session_is_tried_again(monkeypatch: pytest.MonkeyPatch) -> None:
    tries: list[str] = []

    def as_owner(settings: Settings, statement: str) -> None:
        tries.append(statement)
        if len(tries) < 3:
            raise _refused()

    monkeypatch.setattr(stores, "_as_owner", as_owner)
    monkeypatch.setattr(stores.time, "sleep", lambda s: None)
    stores.drop_pg_database(Settings.model_construct(), "simpul_x")
    assert tries == ['DROP DATABASE IF EXISTS "simpul_x" WITH (FORCE)'] * 3


def test_a_drop_still_refused_after_its_patience_names_the_sessions(monkeypatch: pytest.MonkeyPatch) -> None:
    def as_owner(settings: Settings, statement: str) -> None:
        raise _refused()

    monkeypatch.setattr(stores, "_as_owner", as_owner)
    monkeypatch.setattr(stores, "_sessions_on", lambda settings, name: [("autovacuum worker", None, None)])
    with pytest.raises(sa.exc.ProgrammingError) as refused:
        stores.drop_pg_database(Settings.model_construct(), "simpul_x", patience_s=0.0)
    assert "sessions still on simpul_x: [('autovacuum worker', None, None)]" in refused.value.__notes__


def test_other_errors_are_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    tries: list[str] = []

    def as_owner(settings: Settings, statement: str) -> None:
        tries.append(statement)
        raise sa.exc.ProgrammingError("DROP DATABASE", {}, psycopg.errors.SyntaxError("syntax error"))

    monkeypatch.setattr(stores, "_as_owner", as_owner)
    with pytest.raises(sa.exc.ProgrammingError):
        stores.drop_pg_database(Settings.model_construct(), "simpul_x")
    assert len(tries) == 1
