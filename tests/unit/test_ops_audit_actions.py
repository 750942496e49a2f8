"""The ops actions that join the audit trail for the transparency log: API keys issued and revoked, alert rules
changed. Real SQLite databases (the gateway's keys, the dashboard's audit trail); the broker is not needed, since an
entry is recorded first and published after (the integration test covers the topic)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from contract.sources import member_docs
from schemas.audit import AuditAction, AuditEntry
from simpul import bootstrap
from simpul.cli import keys as keys_cli
from simpul.cli import ops_audit
from simpul.settings import Settings
from streams.alerts.rules import load_rules, rules_digest, rules_source
from streams.config import DEFAULT_RULES_FILE
from streams.exceptions import RulesConfigError


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(state_dir=tmp_path / "state")


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Stands in for the broker: how many entries each `publish_now` found unsent (the entries stay unsent)."""
    sent: list[int] = []

    def count_pending(audit) -> None:  # noqa: ANN001
        sent.append(sum(1 for e in audit.recent() if not e["published"]))
        audit.close()

    monkeypatch.setattr(keys_cli, "publish_now", count_pending)
    return sent


def _entries(settings: Settings) -> list[dict]:
    _, audit = bootstrap.ops_records(settings)
    return list(reversed(audit.recent()))  # oldest first


def test_the_new_actions_are_documented_contract_values() -> None:
    assert {AuditAction.API_KEY_CREATE.value, AuditAction.API_KEY_REVOKE.value,
            AuditAction.ALERT_RULES_CHANGE.value} == {"api_key.create", "api_key.revoke", "alert_rules.change"}
    docs = member_docs(AuditAction)
    assert all(docs.get(a.value) for a in AuditAction), "every action says what it means"
    entry = AuditEntry(entry_id="e", at="2026-01-01T00:00:00Z", actor="cli:siti", role="cli",
                       action="api_key.revoke", target="api_key:3374/ab12cd34", result="ok")
    assert AuditEntry.model_validate_json(entry.to_bytes()) == entry
    with pytest.raises(ValueError, match="action"):
        AuditEntry.model_validate({**entry.model_dump(), "action": "api_key.delete"})


def test_issuing_and_revoking_a_key_are_recorded_with_who_and_never_the_key(settings: Settings,
                                                                             published: list[int]) -> None:
    issued = keys_cli.issue_key(settings, "3374", "dinas kominfo")
    regency = keys_cli.revoke_key(settings, issued.key_id)
    assert regency == "3374"
    created, revoked = _entries(settings)
    target = f"api_key:3374/{issued.key_id}"
    assert (created["action"], created["target"], created["result"]) == ("api_key.create", target, "ok")
    assert (revoked["action"], revoked["target"], revoked["result"]) == ("api_key.revoke", target, "ok")
    for entry in (created, revoked):
        assert entry["actor"] == ops_audit.cli_actor() and entry["actor"].startswith("cli:")
        assert entry["role"] == ops_audit.CLI_ROLE and entry["at"]
    assert created["detail"] == "label dinas kominfo"
    text = json.dumps([created, revoked])
    secret = issued.secret.split("_", 3)[3]  # smp_<regency>_<key id>_<secret>
    assert issued.secret not in text and secret not in text
    assert published == [1, 2]  # each command tries to publish at once (here: nothing acknowledges)


def test_a_refused_revocation_records_nothing(settings: Settings, published: list[int]) -> None:
    from producers.gateway.store import ApiKeyError

    with pytest.raises(ApiKeyError, match="no active key"):
        keys_cli.revoke_key(settings, "deadbeef")
    assert _entries(settings) == [] and published == []


def test_alert_rules_are_recorded_when_they_change_and_only_then(settings: Settings, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_bytes(DEFAULT_RULES_FILE.read_bytes())
    load_rules(rules)  # a valid rules file
    first = rules_digest(rules)
    assert first == hashlib.sha256(DEFAULT_RULES_FILE.read_bytes()).hexdigest()
    _, audit = bootstrap.ops_records(settings)

    entry = ops_audit.record_alert_rules(audit, source=str(rules), digest=first)
    assert entry is not None and (entry.before_digest, entry.after_digest) == (None, first)
    assert ops_audit.record_alert_rules(audit, source=str(rules), digest=rules_digest(rules)) is None  # unchanged

    rules.write_text(rules.read_text() + "\n# raise the fee threshold\n")
    second = rules_digest(rules)
    assert second != first
    changed = ops_audit.record_alert_rules(audit, source=str(rules), digest=second)
    assert changed is not None
    assert (changed.action, changed.target, changed.result) == ("alert_rules.change", f"alert_rules:{rules}", "ok")
    assert (changed.before_digest, changed.after_digest) == (first, second)
    assert changed.actor == ops_audit.cli_actor()
    assert ops_audit.last_alert_rules_digest(audit) == second
    assert [e["action"] for e in _entries(settings)] == ["alert_rules.change", "alert_rules.change"]


def test_rules_digest_reads_the_file_load_rules_reads(tmp_path: Path) -> None:
    assert rules_source(None) == DEFAULT_RULES_FILE and rules_source(tmp_path / "r.yaml") == tmp_path / "r.yaml"
    with pytest.raises(RulesConfigError, match="cannot read the alert rules"):
        rules_digest(tmp_path / "missing.yaml")


def test_a_long_rules_path_still_fits_the_trail(settings: Settings) -> None:
    _, audit = bootstrap.ops_records(settings)
    source = "/" + "x" * 400 + "/rules.yaml"
    entry = ops_audit.record_alert_rules(audit, source=source, digest="0" * 64)
    assert entry is not None and len(entry.target) <= ops_audit.MAX_TARGET and entry.target.endswith("/rules.yaml")
