"""The gateway's retry digest is keyed (it confirms no guessed NIK without the key), and the retry decision
answers a known event_id as a duplicate unless the same key shows different content."""

from __future__ import annotations

import hashlib
import secrets

import pytest

from producers.gateway.digest import DigestKeyMissing, RetryDigest, plan_retries
from producers.gateway.store import Outcome
from schemas.examples import example

EVENT = example("ServiceRequestSubmitted").model_dump_json()


def test_digest_is_keyed() -> None:
    a, b = RetryDigest(secrets.token_urlsafe(32)), RetryDigest(secrets.token_urlsafe(32))
    assert a.of(EVENT) == a.of(EVENT) and len(a.of(EVENT)) == 64
    assert a.of(EVENT) != b.of(EVENT)
    assert a.key_id != b.key_id and len(a.key_id) == 16
    # what a database thief could compute without the key
    assert a.of(EVENT) != hashlib.sha256(EVENT.encode()).hexdigest()
    guessed = EVENT.replace("3374015502900001", "3374015502900002")
    assert a.of(guessed) != a.of(EVENT)


def test_digest_refuses_an_empty_key() -> None:
    with pytest.raises(DigestKeyMissing, match="SIMPUL_GATEWAY_DIGEST_KEY"):
        RetryDigest("")


def _outcome(event_id: str, digest: str | None, key_id: str | None) -> Outcome:
    return Outcome(event_id, "3374", digest, key_id, "jateng.ingress.3374", 0, 1)


def test_retry_plan() -> None:
    d = RetryDigest(secrets.token_urlsafe(32))
    same, other = d.of(EVENT), d.of(EVENT + " ")
    known = {"same": _outcome("same", same, d.key_id), "changed": _outcome("changed", same, d.key_id),
             "rotated": _outcome("rotated", same, "0" * 16), "legacy": _outcome("legacy", None, None)}
    ids = ["same", "changed", "rotated", "legacy", "new", "new", "twice", "twice"]
    digests = [same, other, other, other, same, same, same, other]
    plan = plan_retries(ids, digests, known, d.key_id)
    assert plan.to_send == [4, 6]
    assert plan.first_in_request == {"new": 4, "twice": 6}
    assert [i for i, _ in plan.conflicts] == [1, 7]
    assert "different content" in plan.conflicts[0][1] and "twice in this request" in plan.conflicts[1][1]
    # a digest made under another key, or none kept (before digests were keyed), cannot be compared: the event_id
    # is taken, so the event is a duplicate (indexes 2 and 3 are neither sent nor refused)
