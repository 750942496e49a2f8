"""`simpul topics plan|apply` against a real broker: idempotent apply, drift repair, refusals.

Every test works under its own random prefix, so tests (and other suites) never see each other's topics, and
deletes everything under that prefix afterwards.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
    ResourceType,
)
from typer.testing import CliRunner, Result

from simpul.cli.output import EXIT_ERROR, EXIT_REFUSED
from simpul.cli.topics import app, regency_codes
from simpul.settings import Settings
from topics.catalog import DEFAULT_CATALOG, load_catalog

pytestmark = pytest.mark.integration

WEEK_MS = str(7 * 86_400_000)


@pytest.fixture
def admin(settings: Settings) -> AdminClient:
    return AdminClient(settings.kafka.librdkafka())


@pytest.fixture
def prefix(admin: AdminClient) -> Iterator[str]:
    name = f"t{uuid.uuid4().hex[:10]}"
    yield name
    doomed = [topic for topic in admin.list_topics(timeout=10).topics if topic.startswith(f"{name}.")]
    if doomed:
        for future in admin.delete_topics(doomed, operation_timeout=30).values():
            future.result()


def cli(settings: Settings, *args: str) -> Result:
    result = CliRunner().invoke(app, list(args), obj=settings)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def plan_json(settings: Settings, prefix: str, *extra: str) -> list[dict[str, Any]]:
    result = cli(settings, "plan", "--json", "--prefix", prefix, *extra)
    assert result.exit_code == 0, result.stderr
    changes: list[dict[str, Any]] = json.loads(result.stdout)
    return changes


def apply_ok(settings: Settings, prefix: str, *extra: str) -> list[dict[str, Any]]:
    result = cli(settings, "apply", "--json", "--prefix", prefix, *extra)
    assert result.exit_code == 0, result.stderr
    changes: list[dict[str, Any]] = json.loads(result.stdout)
    return changes


def configs(admin: AdminClient, topic: str) -> dict[str, str]:
    (future,) = admin.describe_configs([ConfigResource(ResourceType.TOPIC, topic)]).values()
    return {key: entry.value for key, entry in future.result().items()}


def partitions(admin: AdminClient, topic: str) -> int:
    return len(admin.list_topics(topic, timeout=10).topics[topic].partitions)


def wait_partitions(admin: AdminClient, topic: str, count: int, timeout_s: float = 30.0) -> None:
    """Until the broker's metadata shows `count` partitions: KRaft answers CreatePartitions once the controller
    committed it, and the broker's metadata follows a moment later (seconds on a loaded host)."""
    deadline = time.monotonic() + timeout_s
    while (seen := partitions(admin, topic)) != count:
        assert time.monotonic() < deadline, f"{topic} still shows {seen} partitions, not {count}, after {timeout_s} s"
        time.sleep(0.2)


def produce(settings: Settings, topic: str, count: int = 1) -> None:
    producer = Producer(settings.kafka.librdkafka())
    for i in range(count):
        producer.produce(topic, key=f"k{i}".encode(), value=b"payload")
    assert producer.flush(30) == 0


def test_apply_creates_everything_and_a_second_apply_changes_nothing(
    settings: Settings, admin: AdminClient, prefix: str
) -> None:
    expected = load_catalog().expand(regency_codes=regency_codes(), profile="single", prefix=prefix)

    first = apply_ok(settings, prefix)
    assert sorted(change["topic"] for change in first) == sorted(expected.names)
    assert {change["kind"] for change in first} == {"create"}

    existing = {t for t in admin.list_topics(timeout=10).topics if t.startswith(f"{prefix}.")}
    assert existing == set(expected.names)
    assert len([t for t in existing if t.startswith(f"{prefix}.ingress.")]) == 35
    for spec in (expected.ingress("3374"), expected.agg("prices"), expected.alerts, expected.dlq):
        assert partitions(admin, spec.name) == spec.partitions
        actual = configs(admin, spec.name)
        for key, value in spec.config.items():
            assert actual[key] == value, (spec.name, key)

    second = cli(settings, "apply", "--prefix", prefix)
    assert second.exit_code == 0, second.stderr
    assert second.stdout == ""
    assert "nothing to do" in second.stderr
    assert plan_json(settings, prefix) == []
    dry = cli(settings, "apply", "--dry-run", "--json", "--prefix", prefix)
    assert (dry.exit_code, json.loads(dry.stdout)) == (0, [])


def test_config_drift_is_planned_and_repaired(settings: Settings, admin: AdminClient, prefix: str) -> None:
    apply_ok(settings, prefix)
    topic = f"{prefix}.ingress.3301"
    drift = ConfigResource(
        ResourceType.TOPIC,
        topic,
        incremental_configs=[ConfigEntry("retention.ms", "1000", incremental_operation=AlterConfigOpType.SET)],
    )
    for future in admin.incremental_alter_configs([drift]).values():
        future.result()

    planned = plan_json(settings, prefix)
    assert planned == [
        {
            "kind": "alter-config",
            "topic": topic,
            "updates": [{"key": "retention.ms", "current": "1000", "desired": WEEK_MS}],
            "destructive": False,
            "refused": False,
        }
    ]
    dry = cli(settings, "apply", "--dry-run", "--json", "--prefix", prefix)
    assert json.loads(dry.stdout) == planned
    assert configs(admin, topic)["retention.ms"] == "1000"  # a dry run changes nothing

    assert apply_ok(settings, prefix) == planned
    assert configs(admin, topic)["retention.ms"] == WEEK_MS
    assert plan_json(settings, prefix) == []


def test_fewer_partitions_are_refused_unless_allowed(settings: Settings, admin: AdminClient, prefix: str) -> None:
    apply_ok(settings, prefix)
    dlq, alerts = f"{prefix}.dlq", f"{prefix}.alerts"
    for future in admin.create_partitions([NewPartitions(dlq, 5)]).values():
        future.result()
    wait_partitions(admin, dlq, 5)
    produce(settings, dlq, count=4)
    drift = ConfigResource(
        ResourceType.TOPIC,
        alerts,
        incremental_configs=[ConfigEntry("retention.ms", "5000", incremental_operation=AlterConfigOpType.SET)],
    )
    for future in admin.incremental_alter_configs([drift]).values():
        future.result()

    planned = plan_json(settings, prefix)
    reduce = next(change for change in planned if change["kind"] == "reduce-partitions")
    assert (reduce["topic"], reduce["current"], reduce["desired"]) == (dlq, 5, 3)
    assert reduce["refused"] and reduce["destructive"] and reduce["messages"] == 4

    refused = cli(settings, "apply", "--prefix", prefix)
    assert refused.exit_code == EXIT_REFUSED
    assert "--allow-destructive" in refused.stderr and dlq in refused.stderr
    assert partitions(admin, dlq) == 5
    assert configs(admin, alerts)["retention.ms"] == "5000"  # nothing at all was applied

    done = apply_ok(settings, prefix, "--allow-destructive")
    assert {(change["kind"], change["topic"]) for change in done} == {
        ("reduce-partitions", dlq),
        ("alter-config", alerts),
    }
    assert partitions(admin, dlq) == 3
    assert configs(admin, dlq)["retention.ms"] == str(30 * 86_400_000)
    assert plan_json(settings, prefix) == []


def test_partitions_are_added_from_another_catalog(
    settings: Settings, admin: AdminClient, prefix: str, tmp_path: Path
) -> None:
    apply_ok(settings, prefix)
    bigger = tmp_path / "topics.yaml"
    text = DEFAULT_CATALOG.read_text(encoding="utf-8")
    assert "key: original key\n    partitions: 3" in text  # the dlq entry
    bigger.write_text(text.replace("key: original key\n    partitions: 3", "key: original key\n    partitions: 4"))
    planned = plan_json(settings, prefix, "--catalog", str(bigger))
    assert planned == [
        {"kind": "add-partitions", "topic": f"{prefix}.dlq", "current": 3, "desired": 4,
         "destructive": False, "refused": False}
    ]
    apply_ok(settings, prefix, "--catalog", str(bigger))
    assert partitions(admin, f"{prefix}.dlq") == 4
    assert plan_json(settings, prefix, "--catalog", str(bigger)) == []


def test_prune_deletes_only_our_strays_and_spares_data(
    settings: Settings, admin: AdminClient, prefix: str
) -> None:
    apply_ok(settings, prefix)
    strays = [f"{prefix}.events.sport", f"{prefix}.ingress.9999", f"{prefix}.gatekeeper-seen-changelog"]
    for future in admin.create_topics([NewTopic(name, 1, 1) for name in strays]).values():
        future.result()
    produce(settings, f"{prefix}.events.sport")

    assert plan_json(settings, prefix) == []  # without --prune no deletion is ever planned
    planned = plan_json(settings, prefix, "--prune")
    assert [(c["kind"], c["topic"], c["refused"]) for c in planned] == [
        ("delete", f"{prefix}.events.sport", True),
        ("delete", f"{prefix}.ingress.9999", False),
    ]
    refused = cli(settings, "apply", "--prune", "--prefix", prefix)
    assert refused.exit_code == EXIT_REFUSED
    assert f"{prefix}.ingress.9999" in admin.list_topics(timeout=10).topics

    apply_ok(settings, prefix, "--prune", "--allow-destructive")
    remaining = set(admin.list_topics(timeout=10).topics)
    assert f"{prefix}.events.sport" not in remaining and f"{prefix}.ingress.9999" not in remaining
    assert f"{prefix}.gatekeeper-seen-changelog" in remaining  # not a namespace of the catalog: never ours
    assert plan_json(settings, prefix, "--prune") == []


def test_profile_the_cluster_cannot_hold_is_a_clear_error(settings: Settings, admin: AdminClient, prefix: str) -> None:
    if len(admin.list_topics(timeout=10).brokers) >= 3:
        pytest.skip("the cluster can hold replication 3")
    result = cli(settings, "apply", "--prefix", prefix, "--profile", "cluster")
    assert result.exit_code == EXIT_ERROR
    assert "--profile" in result.stderr and "replication factor 3" in result.stderr
