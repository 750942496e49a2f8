"""`simpul deploy render k8s`: the Strimzi manifests agree with the topic catalog and topics/acls.py, the committed
deploy/k8s/generated/ is what the renderer writes today, and every Deployment runs a real `simpul` command."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
import yaml

from simpul.deploy import k8s
from topics.acls import acl_model
from topics.catalog import load_catalog, topic_names

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "deploy" / "k8s" / "generated"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict]]:
    out = tmp_path_factory.mktemp("k8s")
    k8s.write(k8s.render(), out)
    return {p.name: [d for d in yaml.safe_load_all(p.read_text()) if d] for p in sorted(out.glob("*.yaml"))}


def kinds(rendered: dict[str, list[dict]], kind: str) -> list[dict]:
    return [d for docs in rendered.values() for d in docs if d["kind"] == kind]


def test_committed_output_is_current(tmp_path: Path) -> None:
    k8s.write(k8s.render(), tmp_path)
    fresh = {p.name: p.read_text() for p in tmp_path.glob("*.yaml")}
    committed = {p.name: p.read_text() for p in COMMITTED.glob("*.yaml")}
    assert committed == fresh, "deploy/k8s/generated is stale: run `simpul deploy render k8s`"


def test_kustomization_lists_every_file(rendered) -> None:  # noqa: ANN001
    (kustomization,) = rendered["kustomization.yaml"]
    assert sorted(kustomization["resources"]) == sorted(n for n in rendered if n != "kustomization.yaml")


def test_kafka_cluster_is_three_kraft_nodes_with_scram(rendered) -> None:  # noqa: ANN001
    (kafka,) = kinds(rendered, "Kafka")
    (pool,) = kinds(rendered, "KafkaNodePool")
    assert kafka["metadata"]["annotations"] == {"strimzi.io/node-pools": "enabled", "strimzi.io/kraft": "enabled"}
    assert pool["spec"]["replicas"] == 3 and sorted(pool["spec"]["roles"]) == ["broker", "controller"]
    assert [lst["authentication"]["type"] for lst in kafka["spec"]["kafka"]["listeners"]] == ["scram-sha-512"]
    assert kafka["spec"]["kafka"]["authorization"] == {"type": "simple", "superUsers": ["admin"]}
    config = kafka["spec"]["kafka"]["config"]
    assert config["min.insync.replicas"] == 2 and config["offsets.topic.replication.factor"] == 3
    assert config["allow.everyone.if.no.acl.found"] is False


def test_every_catalog_topic_has_its_kafka_topic(rendered) -> None:  # noqa: ANN001
    from schemas.reference import regency_codes

    catalog = load_catalog()
    expected = catalog.expand(regency_codes=sorted(regency_codes()), profile="cluster")
    by_name = {t["spec"]["topicName"]: t for t in kinds(rendered, "KafkaTopic")}
    assert sorted(by_name) == sorted(expected.names)
    for spec in expected:
        topic = by_name[spec.name]
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == k8s.CLUSTER_NAME
        assert topic["spec"]["partitions"] == spec.partitions
        assert topic["spec"]["replicas"] == 3
        assert topic["spec"]["config"] == spec.config
        assert topic["spec"]["config"]["min.insync.replicas"] == "2"
        assert set(topic["metadata"]["name"]) <= set("abcdefghijklmnopqrstuvwxyz0123456789.-")


def _acl_set(acls: list[dict]) -> set[tuple[str, str, str, str]]:
    """Strimzi ACLs in the ACL model's terms (Strimzi spells Kafka's `prefixed` pattern type `prefix`)."""
    kafka_pattern = {strimzi: kafka for kafka, strimzi in k8s.STRIMZI_PATTERN.items()}
    return {(a["resource"]["type"], kafka_pattern[a["resource"].get("patternType", "literal")],
             a["resource"].get("name", "kafka-cluster"), op) for a in acls for op in a["operations"]}


def test_every_principal_has_a_user_with_the_model_acls(rendered) -> None:  # noqa: ANN001
    model = acl_model("jateng")
    users = {u["metadata"]["name"]: u for u in kinds(rendered, "KafkaUser")}
    assert sorted(users) == sorted(model.names)
    for p in model.principals:
        spec = users[p.name]["spec"]
        assert spec["authentication"] == {"type": "scram-sha-512"}
        if p.super_user:
            assert "authorization" not in spec
            continue
        assert spec["authorization"]["type"] == "simple"
        assert all(a["host"] == "*" for a in spec["authorization"]["acls"])
        assert _acl_set(spec["authorization"]["acls"]) == {(g.kind, g.pattern, g.name, g.operation) for g in p.grants}


def test_regency_users_only_write_their_own_ingress_and_read_their_own_receipts(rendered) -> None:  # noqa: ANN001
    topics = topic_names("jateng")
    regency_users = [u for u in kinds(rendered, "KafkaUser") if u["metadata"]["name"].startswith("regency-")]
    assert len(regency_users) == 35
    for user in regency_users:
        code = user["metadata"]["name"].removeprefix("regency-")
        receipts = topics.find("receipts", regency=code).name
        outcomes = topics.find("outcomes", regency=code).name
        assert _acl_set(user["spec"]["authorization"]["acls"]) == {
            ("topic", "literal", topics.ingress(code).name, "Write"),
            ("topic", "literal", topics.ingress(code).name, "Describe"),
            ("cluster", "literal", "kafka-cluster", "IdempotentWrite"),
            ("topic", "literal", receipts, "Read"),
            ("topic", "literal", receipts, "Describe"),
            ("topic", "literal", outcomes, "Read"),
            ("topic", "literal", outcomes, "Describe"),
            ("group", "prefixed", f"jateng-regency-{code}-", "Read"),
            ("group", "prefixed", f"jateng-regency-{code}-", "Describe")}


def test_the_transparency_user_alone_writes_receipts_and_checkpoints(rendered) -> None:  # noqa: ANN001
    writes = {(u["metadata"]["name"], a["resource"].get("patternType"), a["resource"].get("name"))
              for u in kinds(rendered, "KafkaUser") for a in u["spec"].get("authorization", {}).get("acls", [])
              if "Write" in a["operations"] and a["resource"]["type"] == "topic"}
    assert {w for w in writes if w[2] in ("jateng.receipts.", "jateng.audit.checkpoints")} == {
        ("transparency", "prefix", "jateng.receipts."), ("transparency", "literal", "jateng.audit.checkpoints")}
    assert not any(w[2].startswith("jateng.receipts.") and w[0] != "transparency" for w in writes)


def _resolve(root: object, argv: list[str]) -> None:
    """Parse `argv` like the `simpul` command would, without running it: every sub-command must exist, and the
    leaf command must accept the arguments and options (unknown ones, or a bad choice, raise)."""
    cmd, args, path = root, list(argv), ["simpul"]
    while hasattr(cmd, "commands"):
        assert args and args[0] in cmd.commands, f"`{' '.join(path)}` has no sub-command {args[:1]}"
        path.append(args.pop(0))
        cmd = cmd.commands[path[-1]]
    cmd.make_context(" ".join(path), args)  # type: ignore[attr-defined]


def test_every_deployment_runs_a_simpul_command(rendered) -> None:  # noqa: ANN001
    from simpul.cli import app

    root = typer.main.get_command(app)
    with pytest.raises(Exception):  # the check does catch a command that does not exist
        _resolve(root, ["streams", "run", "nonsense"])
    deployments = kinds(rendered, "Deployment")
    assert sorted(d["metadata"]["name"] for d in deployments) == sorted(
        f"simpul-{c}" for c in ("gateway", "gatekeeper", "aggregates", "alerts", "sink-store", "sink-alerts", "monitor",
                                "transparency"))
    users = {u["metadata"]["name"] for u in kinds(rendered, "KafkaUser")}
    for d in deployments:
        (container,) = d["spec"]["template"]["spec"]["containers"]
        assert container["command"][0] == "simpul"
        _resolve(root, container["command"][1:])
        env = {e["name"]: e for e in container["env"]}
        assert env["SIMPUL_KAFKA_SECURITY_PROTOCOL"]["value"] == "SASL_PLAINTEXT"
        principal = env["SIMPUL_KAFKA_USERNAME"]["value"]
        assert principal in users and principal != "admin"
        assert env["SIMPUL_KAFKA_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": principal, "key": "password"}
        assert env["SIMPUL_TOPIC_PREFIX"]["value"] == "jateng"
    services = {s["metadata"]["name"] for s in kinds(rendered, "Service")}
    assert services == {"simpul-gateway", "simpul-monitor"}


def test_prefix_option_renames_everything() -> None:
    files = k8s.render("jtgtest")
    names = [d["spec"]["topicName"] for d in files["topics.yaml"]]
    assert names and all(n.startswith("jtgtest.") for n in names)
    acls = [a for u in files["users.yaml"] for a in u["spec"].get("authorization", {}).get("acls", [])]
    assert all(a["resource"].get("name", "jtgtest").startswith(("jtgtest", "simpul-")) for a in acls)


def test_each_process_mounts_only_the_installation_secrets_it_reads(rendered) -> None:  # noqa: ANN001
    from simpul import secret_files

    wanted = {"simpul-gateway": {"gateway_digest_key"}, "simpul-gatekeeper": {"nik_hmac_key", "dlq_key"},
              "simpul-aggregates": set(), "simpul-alerts": set(), "simpul-sink-store": set(),
              "simpul-sink-alerts": {"alert_webhook_secret"},
              "simpul-monitor": {"session_key", "metrics_token", "dlq_key"},
              "simpul-transparency": {"tlog_signing_key"}}
    for d in kinds(rendered, "Deployment"):
        spec = d["spec"]["template"]["spec"]
        (container,) = spec["containers"]
        env = {e["name"]: e for e in container["env"]}
        assert not any(spec_.env in env for spec_ in secret_files.SPECS), "a secret as a plain variable"
        literal = [n for n, e in env.items() if "value" in e and n != "SIMPUL_SECRETS_DIR"
                   and any(w in n for w in ("SECRET", "PASSWORD", "KEY", "TOKEN"))]
        assert not literal, f"{d['metadata']['name']}: {literal} given as literal values"
        volumes = {v["name"]: v for v in spec["volumes"]}
        names = wanted[d["metadata"]["name"]]
        if not names:
            assert "secrets" not in volumes and "SIMPUL_SECRETS_DIR" not in env
            continue
        secret = volumes["secrets"]["secret"]
        assert secret["secretName"] == k8s.INSTALLATION_SECRET and secret["defaultMode"] == 0o400
        assert {i["key"] for i in secret["items"]} == {secret_files.BY_NAME[n].filename for n in names}
        mount = next(m for m in container["volumeMounts"] if m["name"] == "secrets")
        assert mount["readOnly"] and env["SIMPUL_SECRETS_DIR"]["value"] == mount["mountPath"]
        assert container["securityContext"]["runAsNonRoot"] is True
