"""The catalog expands to exactly the topics of DESIGN's flow, for any prefix and the replication of the cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from simpul.cli.topics import regency_codes
from topics.catalog import Catalog, load_catalog, parse_duration_ms
from topics.exceptions import TopicCatalogError

FAMILIES = ["governance", "living", "economy", "environment", "society", "branding"]
METRICS = ["service_requests", "complaints", "prices", "air_quality", "tourism_visits", "social_aid",
           "school_admissions", "road_reports", "works_progress"]


@pytest.fixture(scope="module")
def codes() -> list[str]:
    return regency_codes()


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def test_one_ingress_topic_per_regency(catalog: Catalog, codes: list[str]) -> None:
    topics = catalog.expand(regency_codes=codes, profile="single")
    ingress = topics.role("ingress")
    assert len(codes) == 35
    assert [t.name for t in ingress] == [f"jateng.ingress.{code}" for code in codes]
    assert topics.ingress("3301").name == "jateng.ingress.3301"
    assert topics.ingress("3374").labels == {"regency": "3374"}


def test_every_topic_of_the_flow(catalog: Catalog, codes: list[str]) -> None:
    topics = catalog.expand(regency_codes=codes, profile="single")
    assert [t.name for t in topics.role("events")] == [f"jateng.events.{f}" for f in FAMILIES]
    assert [t.name for t in topics.role("agg")] == [f"jateng.agg.{m}" for m in METRICS]
    assert topics.alerts.name == "jateng.alerts"
    assert topics.dlq.name == "jateng.dlq"
    assert topics.find("audit").name == "jateng.audit.ops"
    assert topics.find("checkpoints").name == "jateng.audit.checkpoints"
    assert [t.name for t in topics.role("receipts")] == [f"jateng.receipts.{code}" for code in codes]
    assert [t.name for t in topics.role("outcomes")] == [f"jateng.outcomes.{code}" for code in codes]
    assert len(topics) == 35 + 6 + len(METRICS) + 3 + 1 + 35 + 35
    assert len(set(topics.names)) == len(topics)


def test_prefix_is_configurable(catalog: Catalog, codes: list[str]) -> None:
    topics = catalog.expand(regency_codes=codes, profile="single", prefix="t1x")
    assert all(name.startswith("t1x.") for name in topics.names)
    assert topics.events("economy").name == "t1x.events.economy"
    assert catalog.default_prefix == "jateng"


@pytest.mark.parametrize("prefix", ["", "Jateng", "1abc", "a.b", "a b"])
def test_bad_prefix_is_refused(catalog: Catalog, prefix: str) -> None:
    with pytest.raises(TopicCatalogError, match="prefix"):
        catalog.expand(regency_codes=["3301"], profile="single", prefix=prefix)


def test_every_topic_has_the_settings_plan_compares(catalog: Catalog, codes: list[str]) -> None:
    for topic in catalog.expand(regency_codes=codes, profile="single"):
        assert {"retention.ms", "cleanup.policy", "min.insync.replicas"} <= topic.config.keys()
        assert topic.partitions >= 1


def test_settings_per_role(catalog: Catalog) -> None:
    topics = catalog.expand(regency_codes=["3301"], profile="single")
    assert topics.agg("prices").config["cleanup.policy"] == "compact,delete"
    assert topics.alerts.config["cleanup.policy"] == "compact,delete"
    assert int(topics.alerts.config["retention.ms"]) >= 180 * 86_400_000
    assert topics.dlq.config["cleanup.policy"] == "delete"
    assert topics.dlq.config["retention.ms"] == str(30 * 86_400_000)
    assert topics.ingress("3301").config["cleanup.policy"] == "delete"
    audit = topics.find("audit")
    assert (audit.partitions, audit.config["cleanup.policy"], audit.config["retention.ms"]) == (1, "delete", "-1")
    checkpoints = topics.find("checkpoints")
    assert (checkpoints.partitions, checkpoints.config["cleanup.policy"], checkpoints.config["retention.ms"]) == (
        1, "delete", "-1")
    receipts = topics.find("receipts", regency="3301")
    assert (receipts.name, receipts.partitions, receipts.config["retention.ms"]) == (
        "jateng.receipts.3301", 1, str(365 * 86_400_000))


def test_replication_follows_the_cluster(catalog: Catalog) -> None:
    single, cluster = catalog.profile_for(1), catalog.profile_for(3)
    assert (single.replication_factor, single.min_insync_replicas) == (1, 1)
    assert (cluster.replication_factor, cluster.min_insync_replicas) == (3, 2)
    assert catalog.profile_for(2).name == "single"
    assert catalog.profile_for(5).name == "cluster"
    topics = catalog.expand(regency_codes=["3301"], profile=cluster)
    assert all(t.replication_factor == 3 and t.config["min.insync.replicas"] == "2" for t in topics)


def test_unknown_profile(catalog: Catalog) -> None:
    with pytest.raises(TopicCatalogError, match="single"):
        catalog.profile("huge")


@pytest.mark.parametrize(
    ("codes", "message"), [([], "no regency codes"), (["3301", "3301"], "twice"), (["33.01"], "cannot be part")]
)
def test_bad_regency_codes(catalog: Catalog, codes: list[str], message: str) -> None:
    with pytest.raises(TopicCatalogError, match=message):
        catalog.expand(regency_codes=codes, profile="single")


@pytest.mark.parametrize(
    ("text", "ms"),
    [("7d", 604_800_000), ("12h", 43_200_000), ("30m", 1_800_000), ("45s", 45_000), ("500ms", 500),
     (1000, 1000), ("forever", -1), ("2w", 1_209_600_000)],
)
def test_durations(text: object, ms: int) -> None:
    assert parse_duration_ms(text) == ms


def test_bad_duration() -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration_ms("a week")


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "topics.yaml"
    path.write_text(body, encoding="utf-8")
    return path


MINIMAL = """
version: 1
default_prefix: p
profiles: {single: {min_brokers: 1, replication_factor: 1, min_insync_replicas: 1}}
topics:
  - {role: dlq, name: dlq, partitions: 1, cleanup_policy: delete, retention: 1d%s}
"""


def test_minimal_catalog(tmp_path: Path) -> None:
    catalog = load_catalog(_write(tmp_path, MINIMAL % ""))
    topics = catalog.expand(regency_codes=["1"], profile="single")
    assert topics.names == ["p.dlq"]


def test_config_must_not_repeat_typed_settings(tmp_path: Path) -> None:
    with pytest.raises(TopicCatalogError, match=r"retention\.ms must be given"):
        load_catalog(_write(tmp_path, MINIMAL % ", config: {retention.ms: 5}"))


def test_unknown_dimension(tmp_path: Path) -> None:
    body = (MINIMAL % "").replace("name: dlq", "name: 'dlq.{colour}'")
    with pytest.raises(TopicCatalogError, match="unknown dimension"):
        load_catalog(_write(tmp_path, body))


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "version: [1")
    with pytest.raises(TopicCatalogError, match=str(path)):
        load_catalog(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TopicCatalogError, match="does not exist"):
        load_catalog(tmp_path / "nope.yaml")


def test_impossible_profile(tmp_path: Path) -> None:
    body = (MINIMAL % "").replace("min_insync_replicas: 1", "min_insync_replicas: 2")
    with pytest.raises(TopicCatalogError, match="no write could ever succeed"):
        load_catalog(_write(tmp_path, body))
