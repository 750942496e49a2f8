"""API keys are bound to one regency and stored hashed; outcomes keep the first answer for an event_id."""

from __future__ import annotations

from pathlib import Path

import pytest

from producers.gateway.store import ApiKeyError, GatewayStore, Outcome


@pytest.fixture
def store(tmp_path: Path) -> GatewayStore:
    return GatewayStore(f"sqlite:///{tmp_path / 'gw.sqlite'}")


def test_key_is_bound_to_its_regency_and_stored_hashed(store: GatewayStore, tmp_path: Path) -> None:
    issued = store.create_key("3374", label="siak")
    assert issued.secret.startswith("smp_3374_")
    assert store.regency_of(issued.secret) == "3374"
    assert issued.secret.split("_", 3)[3].encode() not in (tmp_path / "gw.sqlite").read_bytes()
    forged = issued.secret.replace("smp_3374_", "smp_3301_")
    assert store.regency_of(forged) is None
    assert store.regency_of(issued.secret[:-1] + ("A" if issued.secret[-1] != "A" else "B")) is None
    assert store.regency_of("garbage") is None


def test_revoked_key_stops_working(store: GatewayStore) -> None:
    issued = store.create_key("3301")
    store.revoke_key(issued.key_id)
    assert store.regency_of(issued.secret) is None
    with pytest.raises(ApiKeyError, match="no active key"):
        store.revoke_key(issued.key_id)


def test_unknown_regency_is_refused(store: GatewayStore) -> None:
    with pytest.raises(ApiKeyError, match="not one of the 35"):
        store.create_key("3171")


def test_first_outcome_wins(store: GatewayStore) -> None:
    first = Outcome("e1", "3374", "d1", "jateng.ingress.3374", 0, 10)
    store.record([first])
    store.record([Outcome("e1", "3374", "d1", "jateng.ingress.3374", 2, 99)])
    assert store.outcomes_for(["e1", "e2"]) == {"e1": first}
