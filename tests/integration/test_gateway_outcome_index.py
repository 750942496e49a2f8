"""The gateway's index of the outcome topics (producers.gateway.outcomes.OutcomeIndex) on SQLite and PostgreSQL:
writing a record twice keeps one, positions only move forward, every query is one regency's, rejections page
without loss at equal times, and records older than the topics keep them are pruned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from producers.gateway.outcomes import OutcomeIndex
from schemas.feedback import OutcomeProblem, OutcomeStatus, RegencyOutcome
from schemas.outcomes import RejectReason

AT = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)


def outcome(regency: str, offset: int, status: OutcomeStatus, event_id: str | None, at: datetime = AT,
            ) -> RegencyOutcome:
    rejected = status is OutcomeStatus.REJECTED
    return RegencyOutcome(
        regency_code=regency, event_id=event_id, event_type="ServiceRequestSubmitted", case_id=f"SR-{offset}",
        status=status, reason=RejectReason.INVALID_EVENT if rejected else None,
        field="fee_charged_idr" if rejected else None,
        problems=[OutcomeProblem(field="fee_charged_idr", reason="must be at least 0")] if rejected else [],
        message="fee_charged_idr: must be at least 0" if rejected else "", source=f"p.ingress.{regency}:0:{offset}",
        at=at)


def test_index(store_url: str) -> None:
    engine = sa.create_engine(store_url)
    index = OutcomeIndex(engine)
    eid = "0b6f9a3e-2f55-4a39-9a0b-5d1c5f3a0001"
    mine = [outcome("3374", 1, OutcomeStatus.ROUTED, eid), outcome("3374", 2, OutcomeStatus.DUPLICATE, eid),
            *(outcome("3374", 10 + i, OutcomeStatus.REJECTED, None) for i in range(5)),
            outcome("3374", 20, OutcomeStatus.REJECTED, None, AT - timedelta(days=40))]
    theirs = [outcome("3301", 1, OutcomeStatus.REJECTED, eid)]
    index.write(mine[:4], {("p.outcomes.3374", 0): 4})
    index.write([*mine, *theirs], {("p.outcomes.3374", 0): 9, ("p.outcomes.3301", 0): 2})  # again: at least once
    index.write([], {("p.outcomes.3374", 0): 3})  # an older position never moves it back
    assert index.positions() == {("p.outcomes.3374", 0): 9, ("p.outcomes.3301", 0): 2}

    assert [o.status for o in index.event("3374", eid)] == [OutcomeStatus.ROUTED, OutcomeStatus.DUPLICATE]
    assert index.event("3374", eid)[0] == mine[0]
    assert [o.regency_code for o in index.event("3301", eid)] == ["3301"]
    assert index.event("3302", eid) == []

    since = AT - timedelta(days=1)
    every = index.rejections("3374", since, None, 100)
    assert [o.source for o in every] == [f"p.ingress.3374:0:{10 + i}" for i in range(5)]  # one time: source order
    paged, after = [], None
    while page := index.rejections("3374", since if after is None else page[-1].at, after, 2):
        paged += page
        after = page[-1].source
    assert paged == every
    assert index.rejections("3301", since, None, 100) == theirs
    assert len(index.rejections("3374", AT - timedelta(days=60), None, 100)) == 6

    assert index.prune(now=AT) == 1
    assert len(index.rejections("3374", AT - timedelta(days=60), None, 100)) == 5
    engine.dispose()
