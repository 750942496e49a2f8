"""A batch whose transaction lost a deadlock (or the store went away) is written again, not the end of the sink:
a sink SIGKILLed mid-transaction leaves its server process holding row locks until PostgreSQL notices, and the
restarted sink's merge of the same rows deadlocked with it (the one-hour soak stopped on that). A statement the
store refuses is not retried."""

from __future__ import annotations

from typing import Any

import psycopg
import psycopg.errors
import pytest
import sqlalchemy as sa

from consumers.exceptions import StoreError
from consumers.store import sink as sink_module
from consumers.store.rows import BatchRows
from consumers.store.sink import StoreSink, transient


def _wrapped(orig: Exception, kind: type[sa.exc.DBAPIError]) -> sa.exc.DBAPIError:
    return kind("INSERT ...", {}, orig)


@pytest.mark.parametrize("exc", [psycopg.errors.DeadlockDetected("deadlock detected"),
                                 psycopg.errors.SerializationFailure("could not serialize access"),
                                 psycopg.errors.AdminShutdown("terminating connection"),
                                 psycopg.OperationalError("connection lost")])
def test_a_deadlock_or_a_lost_store_is_transient_raw_or_wrapped(exc: Exception) -> None:
    assert transient(exc)
    assert transient(_wrapped(exc, sa.exc.OperationalError))
    assert transient(_wrapped(exc, sa.exc.DBAPIError))


@pytest.mark.parametrize("exc", [psycopg.errors.UniqueViolation("duplicate key"),
                                 psycopg.errors.UndefinedColumn("column does not exist"),
                                 psycopg.errors.NumericValueOutOfRange("out of range")])
def test_a_refused_statement_is_not(exc: Exception) -> None:
    assert not transient(exc)
    assert not transient(_wrapped(exc, sa.exc.IntegrityError))


def _sink() -> StoreSink:
    return StoreSink(sa.create_engine("sqlite://"), consumer=None, kinds={}, decode=None,  # type: ignore[arg-type]
                     retry_base_s=0.01, retry_max_s=0.01, retry_for_s=5.0)


def test_the_batch_is_written_again_after_a_deadlock(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def write(conn: Any, batch: BatchRows) -> None:  # noqa: ANN401
        calls.append(1)
        if len(calls) < 3:
            raise psycopg.errors.DeadlockDetected("deadlock detected")

    monkeypatch.setattr(sink_module, "write_batch", write)
    sink = _sink()
    sink._write(BatchRows(records=7))
    assert len(calls) == 3 and sink.stats.retries == 2 and sink.stats.recovered == 1


def test_a_refused_statement_stops_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def write(conn: Any, batch: BatchRows) -> None:  # noqa: ANN401
        calls.append(1)
        raise psycopg.errors.UndefinedColumn("column \"x\" does not exist")

    monkeypatch.setattr(sink_module, "write_batch", write)
    with pytest.raises(psycopg.errors.UndefinedColumn):
        _sink()._write(BatchRows(records=1))
    assert len(calls) == 1


def test_a_deadlock_that_never_clears_stops_with_a_store_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def write(conn: Any, batch: BatchRows) -> None:  # noqa: ANN401
        raise psycopg.errors.DeadlockDetected("deadlock detected")

    monkeypatch.setattr(sink_module, "write_batch", write)
    sink = StoreSink(sa.create_engine("sqlite://"), consumer=None, kinds={}, decode=None,  # type: ignore[arg-type]
                     write_retries=3, retry_base_s=0.01, retry_max_s=0.01)
    with pytest.raises(StoreError, match="failed 3 times"):
        sink._write(BatchRows(records=1))
