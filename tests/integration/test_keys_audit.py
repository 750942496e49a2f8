"""Ops actions on the audit topic, for the transparency log to take in (issue 18: "a key revocation appears in the
log with who and when"): `simpul keys create|revoke` run as users run them (subprocesses on the running platform),
and the alerts processor starting with changed rules. Each entry is read back from the real audit topic."""

from __future__ import annotations

import getpass
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

import harness as h
from simpul import bootstrap
from simpul.settings import Settings
from streams.config import DEFAULT_RULES_FILE
from topics.catalog import topic_names

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pipe(settings: Settings, tmp_path: Path) -> Iterator[h.Pipeline]:
    p = h.Pipeline(settings, f"kaud{uuid.uuid4().hex[:8]}", tmp_path / "state")
    p.provision()
    try:
        yield p
    finally:
        p.cleanup()


def _cli(p: h.Pipeline, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simpul", *args], env=p.env(), cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def _audit_topic(s: Settings) -> list[dict]:
    """Every entry on the audit topic of `s`'s prefix, from the beginning."""
    topic = topic_names(s.topic_prefix).find("audit").name
    consumer = Consumer(s.kafka.librdkafka(**{"group.id": f"audit-reader-{uuid.uuid4().hex[:8]}",
                                              "enable.auto.commit": False}))
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        consumer.assign([TopicPartition(topic, 0, low)])
        out: list[dict] = []
        while len(out) < high - low:
            msg = consumer.poll(10)
            assert msg is not None, f"{topic} ended early"
            if msg.error() is None:
                out.append(json.loads(msg.value()))
        return out
    finally:
        consumer.close()


def test_a_key_revocation_is_on_the_audit_topic_with_who_and_when(pipe: h.Pipeline) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    created = _cli(pipe, "keys", "create", "--regency", "3374", "--label", "dinas kominfo", "--json")
    assert created.returncode == 0, created.stderr
    issued = json.loads(created.stdout)
    revoked = _cli(pipe, "keys", "revoke", issued["key_id"], "--json")
    assert revoked.returncode == 0, revoked.stderr
    assert json.loads(revoked.stdout) == {"key_id": issued["key_id"], "regency_code": "3374", "revoked": True}
    after = datetime.now(UTC) + timedelta(seconds=1)

    target = f"api_key:3374/{issued['key_id']}"
    on_topic = [e for e in _audit_topic(pipe.settings) if e["target"] == target]
    assert [e["action"] for e in on_topic] == ["api_key.create", "api_key.revoke"]
    revocation = on_topic[1]
    assert revocation["actor"] == f"cli:{getpass.getuser()}" and revocation["role"] == "cli"  # who
    assert before <= datetime.fromisoformat(revocation["at"]) <= after  # when
    assert revocation["result"] == "ok"
    assert issued["api_key"] not in json.dumps(on_topic)
    # published at once, not left for the monitor
    _, audit = bootstrap.ops_records(pipe.settings)
    assert all(e["published"] for e in audit.recent() if e["target"] == target)


def test_changed_alert_rules_are_on_the_audit_topic(pipe: h.Pipeline, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_bytes(DEFAULT_RULES_FILE.read_bytes())
    s = pipe.settings.model_copy(update={"alert_rules_file": rules})
    bootstrap.alerts_app(s)  # first start: the rules it began with
    bootstrap.alerts_app(s)  # same rules: nothing new
    rules.write_text(rules.read_text() + "\n# reviewed\n")
    bootstrap.alerts_app(s)  # changed rules
    entries = [e for e in _audit_topic(s) if e["action"] == "alert_rules.change"]
    assert len(entries) == 2, entries
    first, changed = entries
    assert first["before_digest"] is None and first["after_digest"] == changed["before_digest"]
    assert changed["after_digest"] != changed["before_digest"]
    assert changed["target"] == f"alert_rules:{rules}" and changed["actor"].startswith("cli:")
