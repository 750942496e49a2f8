"""The ACL model (topics/acls.py): regency isolation and each processor's least privilege, without a broker."""

from __future__ import annotations

import pytest

from streams.gatekeeper.recovery import throwaway_group

from topics.acls import ADMIN, SERVICES, acl_model, gateway_outcomes_group, regency_group_prefix, regency_principal
from topics.catalog import topic_names

PREFIX = "jateng"


@pytest.fixture(scope="module")
def model():  # noqa: ANN201
    return acl_model(PREFIX)


@pytest.fixture(scope="module")
def topics():  # noqa: ANN201
    return topic_names(PREFIX)


def test_principals(model, topics) -> None:  # noqa: ANN001
    codes = [t.labels["regency"] for t in topics.role("ingress")]
    assert len(codes) == 35
    assert model.names == [*(regency_principal(c) for c in codes), *SERVICES, ADMIN]
    assert model.super_users == [ADMIN]


def test_a_regency_writes_only_its_own_ingress_topic_and_reads_only_its_own_receipts(model, topics) -> None:  # noqa: ANN001
    for own in topics.role("ingress"):
        code = own.labels["regency"]
        p = model.principal(regency_principal(code))
        receipts = topics.find("receipts", regency=code)
        outcomes = topics.find("outcomes", regency=code)
        assert p.allows("Write", "topic", own.name)
        assert p.allows("Read", "topic", receipts.name) and not p.allows("Write", "topic", receipts.name)
        assert p.allows("Read", "topic", outcomes.name) and not p.allows("Write", "topic", outcomes.name)
        for other in topics:
            if other.name != own.name:
                assert not p.allows("Write", "topic", other.name), (p.name, other.name)
            if other.name not in {own.name, receipts.name, outcomes.name}:
                assert not p.allows("Describe", "topic", other.name), (p.name, other.name)
            if other.name not in {receipts.name, outcomes.name}:
                assert not p.allows("Read", "topic", other.name), (p.name, other.name)
        assert all(g.pattern == "literal" for g in p.grants if g.kind != "group")
        assert {(g.kind, g.operation) for g in p.grants} == {
            ("topic", "Write"), ("topic", "Describe"), ("topic", "Read"), ("cluster", "IdempotentWrite"),
            ("group", "Read"), ("group", "Describe")}
        groups = [g for g in p.grants if g.kind == "group"]
        assert {(g.pattern, g.name) for g in groups} == {("prefixed", regency_group_prefix(PREFIX, code))}
        assert p.allows("Read", "group", f"{PREFIX}-regency-{code}-receipts")


def test_regency_3301_cannot_read_the_receipts_of_3374(model, topics) -> None:  # noqa: ANN001
    p = model.principal("regency-3301")
    theirs = topics.find("receipts", regency="3374").name
    assert theirs == f"{PREFIX}.receipts.3374"
    assert not p.allows("Read", "topic", theirs) and not p.allows("Describe", "topic", theirs)
    assert not any(g.covers("topic", theirs) for g in p.grants)
    assert not p.allows("Read", "group", f"{PREFIX}-regency-3374-receipts")  # nor use 3374's consumer group
    assert p.allows("Read", "topic", topics.find("receipts", regency="3301").name)


def test_receipts_are_readable_by_their_regency_and_the_province_services_only(model, topics) -> None:  # noqa: ANN001
    for t in topics.role("receipts"):
        readers = {p.name for p in model.principals if p.allows("Read", "topic", t.name)}
        assert readers == {regency_principal(t.labels["regency"]), "monitor", ADMIN}, (t.name, readers)


def test_only_the_transparency_stage_writes_receipts_and_checkpoints(model, topics) -> None:  # noqa: ANN001
    for t in [*topics.role("receipts"), topics.find("checkpoints")]:
        writers = [p.name for p in model.principals if p.allows("Write", "topic", t.name)]
        assert writers == ["transparency", ADMIN], (t.name, writers)


def test_transparency_has_exactly_its_grants(model, topics) -> None:  # noqa: ANN001
    p = model.principal("transparency")
    effective = {(g.kind, g.pattern, g.name, g.operation) for g in p.grants if g.operation != "Describe"}
    assert effective == {
        ("topic", "prefixed", f"{PREFIX}.events.", "Read"),
        ("topic", "literal", f"{PREFIX}.audit.ops", "Read"),
        ("group", "literal", f"{PREFIX}-transparency", "Read"),
        ("topic", "literal", f"{PREFIX}.audit.checkpoints", "Write"),
        ("topic", "prefixed", f"{PREFIX}.receipts.", "Write"),
        ("cluster", "literal", "kafka-cluster", "IdempotentWrite"),
    }
    for t in topics:
        assert p.allows("Read", "topic", t.name) == (t.role in {"events", "audit"}), t.name
        assert p.allows("Write", "topic", t.name) == (t.role in {"checkpoints", "receipts"}), t.name
    assert not p.allows("Read", "group", f"{PREFIX}-gatekeeper")
    assert not p.allows("Create", "topic", f"{PREFIX}.receipts.3374")


def test_regency_3374_has_nothing_on_3301(model, topics) -> None:  # noqa: ANN001
    p = model.principal("regency-3374")
    b = topics.ingress("3301").name
    assert not any(g.covers("topic", b) for g in p.grants)
    assert not any(p.allows("Read", "topic", t.name) for t in topics.role("events"))


def test_gatekeeper(model, topics) -> None:  # noqa: ANN001
    g = model.principal("gatekeeper")
    for t in topics.role("ingress"):
        assert g.allows("Read", "topic", t.name) and not g.allows("Write", "topic", t.name)
    for t in topics.role("events"):
        assert g.allows("Write", "topic", t.name) and g.allows("Read", "topic", t.name)  # recovery reads the tail
    assert g.allows("Write", "topic", topics.dlq.name)
    for t in [*topics.role("agg"), topics.alerts]:
        assert not g.allows("Write", "topic", t.name) and not g.allows("Read", "topic", t.name)
    assert g.allows("Read", "group", f"{PREFIX}-gatekeeper")
    assert g.allows("Create", "topic", f"{PREFIX}-gatekeeper-dedup-changelog")
    assert g.allows("Read", "group", "simpul-gatekeeper-recovery-1a2b3c4d")
    for _ in range(3):  # the groups start-up really uses: output tails and the dedup changelog restore
        assert g.allows("Read", "group", throwaway_group()) and g.allows("Describe", "group", throwaway_group())
    assert not g.allows("Read", "group", f"{PREFIX}-aggregates")
    assert not g.allows("Create", "topic", f"{PREFIX}.events.governance")


@pytest.mark.parametrize(("name", "writes"), [("aggregates", "agg"), ("alerts", "alerts")])
def test_aggregates_and_alerts(model, topics, name, writes) -> None:  # noqa: ANN001
    p = model.principal(name)
    for t in topics.role("events"):
        assert p.allows("Read", "topic", t.name) and not p.allows("Write", "topic", t.name)
    for t in topics:
        assert p.allows("Write", "topic", t.name) == (t.role == writes), t.name
    for t in topics.role("ingress"):
        assert not p.allows("Read", "topic", t.name)
    assert p.allows("Read", "group", f"{PREFIX}-{name}")
    assert p.allows("Write", "topic", f"{PREFIX}-{name}-windows-changelog")
    assert p.allows("Create", "topic", f"{PREFIX}-{name}-__assignor-__leader")
    assert not p.allows("Write", "topic", f"{PREFIX}-gatekeeper-dedup-changelog")


def test_sinks_only_read(model, topics) -> None:  # noqa: ANN001
    store, alerts = model.principal("sink-store"), model.principal("sink-alerts")
    for t in topics:
        assert not store.allows("Write", "topic", t.name) and not alerts.allows("Write", "topic", t.name)
        assert store.allows("Read", "topic", t.name) == (t.role in {"events", "agg", "alerts"}), t.name
        assert alerts.allows("Read", "topic", t.name) == (t.role == "alerts"), t.name
    assert store.allows("Read", "group", f"{PREFIX}-sink-store") and not store.allows("Read", "group", f"{PREFIX}-sink-alerts")
    assert alerts.allows("Read", "group", f"{PREFIX}-sink-alerts")


def test_gateway_writes_ingress_only_and_reads_outcomes_only(model, topics) -> None:  # noqa: ANN001
    g = model.principal("gateway")
    for t in topics:
        assert g.allows("Write", "topic", t.name) == (t.role == "ingress"), t.name
        assert g.allows("Read", "topic", t.name) == (t.role == "outcomes"), t.name
    assert {(x.pattern, x.name) for x in g.grants if x.kind == "group"} == {("literal", gateway_outcomes_group(PREFIX))}


def test_monitor_reads_and_replays(model, topics) -> None:  # noqa: ANN001
    m = model.principal("monitor")
    for t in topics:
        assert m.allows("Read", "topic", t.name)
        assert m.allows("Write", "topic", t.name) == (t.role in {"ingress", "audit"}), t.name  # DLQ replay, audit
    assert not m.allows("Write", "topic", f"{PREFIX}.audit.checkpoints")
    assert m.allows("Describe", "group", f"{PREFIX}-gatekeeper")
    assert not m.allows("Read", "group", f"{PREFIX}-gatekeeper")  # describes lag, never joins a pipeline group


def test_only_the_monitor_writes_the_audit_trail(model, topics) -> None:  # noqa: ANN001
    audit = topics.find("audit").name
    writers = [p.name for p in model.principals if p.allows("Write", "topic", audit)]
    assert writers == ["monitor", ADMIN]


def test_no_grant_reaches_another_prefix(topics) -> None:  # noqa: ANN001
    other = topic_names("other")
    model = acl_model(PREFIX)
    for p in model.principals:
        if p.super_user:
            continue
        for t in other:
            assert not any(p.allows(op, "topic", t.name) for op in ("Read", "Write", "Describe")), (p.name, t.name)


def test_model_is_deterministic() -> None:
    assert acl_model(PREFIX) == acl_model(PREFIX)
    grants = acl_model("zz").principal("regency-3374").grants
    assert [g.name for g in grants if g.kind == "topic"] == (
        ["zz.ingress.3374"] * 2 + ["zz.outcomes.3374"] * 2 + ["zz.receipts.3374"] * 2)


def test_regency_3301_cannot_read_the_outcomes_of_3374(model, topics) -> None:  # noqa: ANN001
    p = model.principal("regency-3301")
    theirs = topics.find("outcomes", regency="3374").name
    assert theirs == f"{PREFIX}.outcomes.3374"
    assert not p.allows("Read", "topic", theirs) and not p.allows("Describe", "topic", theirs)
    assert not any(g.covers("topic", theirs) for g in p.grants)
    assert not p.allows("Read", "group", f"{PREFIX}-regency-3374-outcomes")
    assert p.allows("Read", "topic", topics.find("outcomes", regency="3301").name)
    assert p.allows("Read", "group", f"{PREFIX}-regency-3301-outcomes")


def test_outcomes_are_readable_by_their_regency_the_gateway_and_the_monitor_only(model, topics) -> None:  # noqa: ANN001
    for t in topics.role("outcomes"):
        readers = {p.name for p in model.principals if p.allows("Read", "topic", t.name)}
        assert readers == {regency_principal(t.labels["regency"]), "gateway", "monitor", ADMIN}, (t.name, readers)


def test_only_the_gatekeeper_writes_outcomes(model, topics) -> None:  # noqa: ANN001
    for t in topics.role("outcomes"):
        writers = [p.name for p in model.principals if p.allows("Write", "topic", t.name)]
        assert writers == ["gatekeeper", ADMIN], (t.name, writers)
