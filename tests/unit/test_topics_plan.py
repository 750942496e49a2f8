"""The diff between catalog and cluster, without a broker: what is changed, and what is refused."""

from __future__ import annotations

import pytest

from topics.admin import TopicAdmin
from topics.catalog import TopicSet, load_catalog
from topics.connection import KafkaConnection
from topics.exceptions import DestructiveChangeRefused
from topics.plan import (
    CHANGES,
    AddPartitions,
    AlterConfig,
    ChangeReplication,
    CreateTopic,
    DeleteTopic,
    ObservedTopic,
    ReducePartitions,
    plan,
)

CODES = ["3301", "3302", "3374"]


@pytest.fixture(scope="module")
def desired() -> TopicSet:
    return load_catalog().expand(regency_codes=CODES, profile="single", prefix="px")


def observed_as_desired(desired: TopicSet, messages: int = 0) -> dict[str, ObservedTopic]:
    """The cluster after a successful apply, plus the broker defaults Kafka reports beside our overrides."""
    return {
        t.name: ObservedTopic(
            name=t.name,
            partitions=t.partitions,
            replication_factor=t.replication_factor,
            config={**t.config, "max.message.bytes": "1048588", "compression.type": "producer"},
            messages=messages,
        )
        for t in desired
    }


def test_empty_cluster_creates_everything(desired: TopicSet) -> None:
    changes = plan(desired, {})
    assert all(isinstance(c, CreateTopic) for c in changes)
    assert [c.topic for c in changes] == desired.names
    dlq = next(c for c in changes if c.topic == "px.dlq")
    assert isinstance(dlq, CreateTopic)
    assert dlq.config["retention.ms"] == str(30 * 86_400_000)
    assert not any(c.refused or c.destructive for c in changes)


def test_matching_cluster_needs_nothing(desired: TopicSet) -> None:
    assert plan(desired, observed_as_desired(desired, messages=10)) == []


def test_list_configs_compare_as_sets(desired: TopicSet) -> None:
    observed = observed_as_desired(desired)
    name = desired.alerts.name
    observed[name] = observed[name].model_copy(update={"config": {**observed[name].config,
                                                                   "cleanup.policy": "delete, compact"}})
    assert plan(desired, observed) == []


def test_config_drift_is_altered(desired: TopicSet) -> None:
    observed = observed_as_desired(desired)
    name = desired.ingress("3302").name
    drifted = {k: v for k, v in observed[name].config.items() if k != "min.insync.replicas"}
    observed[name] = observed[name].model_copy(update={"config": {**drifted, "retention.ms": "1000"}})
    (change,) = plan(desired, observed)
    assert isinstance(change, AlterConfig)
    assert change.topic == name
    assert {(u.key, u.current, u.desired) for u in change.updates} == {
        ("retention.ms", "1000", str(7 * 86_400_000)),
        ("min.insync.replicas", None, "1"),
    }
    assert not change.refused and not change.destructive


def test_more_partitions_are_added(desired: TopicSet) -> None:
    observed = observed_as_desired(desired)
    name = desired.events("economy").name
    observed[name] = observed[name].model_copy(update={"partitions": 2})
    (change,) = plan(desired, observed)
    assert change == AddPartitions(topic=name, current=2, desired=6)


def test_fewer_partitions_are_refused(desired: TopicSet) -> None:
    observed = observed_as_desired(desired, messages=0)
    name = desired.dlq.name
    observed[name] = observed[name].model_copy(update={"partitions": 9, "messages": 42})
    (change,) = plan(desired, observed)
    assert isinstance(change, ReducePartitions)
    assert (change.current, change.desired, change.messages) == (9, 3, 42)
    assert change.refused and change.destructive
    assert "42 record(s)" in change.describe() and "--allow-destructive" in change.describe()
    (allowed,) = plan(desired, observed, allow_destructive=True)
    assert isinstance(allowed, ReducePartitions) and not allowed.refused and allowed.destructive


def test_other_replication_factor_is_a_refused_recreate(desired: TopicSet) -> None:
    observed = observed_as_desired(desired)
    name = desired.alerts.name
    observed[name] = observed[name].model_copy(update={"replication_factor": 3, "config": {}})
    (change,) = plan(desired, observed)  # the recreate covers the config, so no AlterConfig beside it
    assert isinstance(change, ChangeReplication)
    assert (change.current, change.desired, change.refused) == (3, 1, True)
    assert change.config == desired.alerts.config


def _with_strays(desired: TopicSet) -> dict[str, ObservedTopic]:
    observed = observed_as_desired(desired)
    for name, messages in [
        ("px.ingress.9999", 0),  # a regency that left the catalog, empty
        ("px.events.sport", 5),  # holds data
        ("px.gatekeeper-dedup-changelog", 7),  # Faust's, outside our namespaces
        ("pxy.dlq", 3),  # another prefix that merely starts alike
        ("other.dlq", 3),
    ]:
        observed[name] = ObservedTopic(name=name, partitions=1, replication_factor=1, messages=messages)
    return observed


def test_no_deletion_without_prune(desired: TopicSet) -> None:
    assert plan(desired, _with_strays(desired)) == []


def test_prune_only_touches_our_namespaces(desired: TopicSet) -> None:
    namespaces = load_catalog().namespaces
    changes = plan(desired, _with_strays(desired), prune=True, namespaces=namespaces)
    assert changes == [
        DeleteTopic(topic="px.events.sport", messages=5, destructive=True, refused=True),
        DeleteTopic(topic="px.ingress.9999", messages=0, destructive=False, refused=False),
    ]
    allowed = plan(desired, _with_strays(desired), prune=True, namespaces=namespaces, allow_destructive=True)
    assert [(c.topic, c.refused) for c in allowed] == [("px.events.sport", False), ("px.ingress.9999", False)]


def test_unknown_record_count_counts_as_data(desired: TopicSet) -> None:
    observed = {"px.dlq.old": ObservedTopic(name="px.dlq.old", partitions=1, replication_factor=1)}
    (change,) = [c for c in plan(desired, observed, prune=True) if isinstance(c, DeleteTopic)]
    assert change.refused


def test_changes_round_trip_as_json(desired: TopicSet) -> None:
    observed = _with_strays(desired)
    observed[desired.dlq.name] = observed[desired.dlq.name].model_copy(update={"partitions": 9})
    del observed[desired.alerts.name]
    changes = plan(desired, observed, prune=True)
    dumped = CHANGES.dump_python(changes, mode="json")
    assert {item["kind"] for item in dumped} == {"create", "reduce-partitions", "delete"}
    assert CHANGES.validate_python(dumped) == changes


def test_apply_refuses_before_touching_the_cluster(desired: TopicSet) -> None:
    observed = observed_as_desired(desired)
    observed[desired.dlq.name] = observed[desired.dlq.name].model_copy(update={"partitions": 9})
    changes = plan(desired, {k: v for k, v in observed.items() if k != desired.alerts.name})

    class Untouchable:
        def __getattr__(self, name: str) -> object:
            raise AssertionError(f"the cluster was touched ({name}) although a change was refused")

    admin = TopicAdmin(KafkaConnection(bootstrap="unreached:9092"), client=Untouchable())  # type: ignore[arg-type]
    with pytest.raises(DestructiveChangeRefused, match="nothing was changed") as caught:
        admin.apply(changes)
    assert [c.topic for c in caught.value.refused] == [desired.dlq.name]
    # A plan made with the flag must not slip through an apply without it.
    allowed = plan(desired, observed, allow_destructive=True)
    with pytest.raises(DestructiveChangeRefused):
        admin.apply(allowed)
