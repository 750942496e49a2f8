"""Every rendered manifest validates against the schemas of the cluster it targets — Kubernetes' own kinds with
kubernetes-validate (strict), Strimzi's against the CRDs of the pinned io.strimzi:api from Maven Central — and a
misspelt field, an unknown one or a bad name is refused, not pruned."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from simpul.deploy import k8s
from simpul.deploy import validate as check
from simpul.settings import load_settings

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "deploy" / "k8s" / "generated"


@pytest.fixture(scope="module")
def state_dir() -> Path:
    """The suite's state folder: the Strimzi jar is fetched once into its lib/ (var/lib under `make test`)."""
    return load_settings().state_dir.resolve()


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    return k8s.render()


def one(rendered: dict[str, list[dict[str, Any]]], kind: str) -> dict[str, Any]:
    return copy.deepcopy(next(d for docs in rendered.values() for d in docs if d["kind"] == kind))


def findings(state_dir: Path, *docs: dict[str, Any]) -> list[str]:
    return [f.line() for f in check.validate([("test.yaml", d) for d in docs], state_dir).findings]


def test_every_committed_manifest_validates(state_dir: Path) -> None:
    report = check.validate_folder(COMMITTED, state_dir)
    kinds = {r.partition("/")[0] for _, r, _ in report.checked}
    assert kinds == {"Namespace", "Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser", "Deployment", "Service"}
    strimzi = [r for _, r, a in report.checked if a == f"Strimzi {k8s.STRIMZI_VERSION}"]
    kubernetes = [r for _, r, a in report.checked if a == f"Kubernetes {k8s.KUBERNETES_VERSION}"]
    assert len(strimzi) + len(kubernetes) == len(report.checked)
    assert {r.partition("/")[0] for r in strimzi} == {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser"}
    assert [r for f, r, _ in report.skipped] == ["Kustomization/None"]
    # and the folder holds what the renderer writes today (test_deploy_k8s checks it byte for byte)
    assert len(report.checked) == sum(len(docs) for docs in k8s.render().values())


def test_a_manifest_rendered_with_another_prefix_validates(state_dir: Path) -> None:
    files = k8s.render("jtgtest")
    report = check.validate([(name, d) for name, docs in files.items() for d in docs], state_dir)
    assert report.ok, "\n".join(f.line() for f in report.findings)


@pytest.mark.parametrize(("kind", "path", "right", "wrong"), [
    ("KafkaTopic", ("spec",), "replicas", "replica"),
    ("Kafka", ("spec", "kafka"), "authorization", "authorisation"),
    ("KafkaNodePool", ("spec",), "roles", "role"),
    ("KafkaUser", ("spec",), "authentication", "authentification"),
])
def test_a_misspelt_strimzi_field_fails(state_dir: Path, rendered, kind: str, path: tuple[str, ...],  # noqa: ANN001
                                         right: str, wrong: str) -> None:
    doc = one(rendered, kind)
    assert not findings(state_dir, doc), "the unchanged resource must pass, or the test proves nothing"
    node = doc
    for key in path:
        node = node[key]
    node[wrong] = node.pop(right)
    lines = findings(state_dir, doc)
    assert any(f"at {'.'.join(path)}: Additional properties are not allowed ('{wrong}' was unexpected)" in line
               and f"Strimzi {k8s.STRIMZI_VERSION} CRD" in line for line in lines), lines


def test_a_misspelt_field_deep_in_a_strimzi_resource_fails(state_dir: Path, rendered) -> None:  # noqa: ANN001
    kafka = one(rendered, "Kafka")
    kafka["spec"]["kafka"]["listeners"][0]["authentication"]["tpye"] = "tls"
    user = one(rendered, "KafkaUser")
    user["spec"]["authorization"]["acls"][0]["resource"]["patternType"] = "prefixed"  # Kafka's word, not Strimzi's
    topic = one(rendered, "KafkaTopic")
    topic["metadata"]["lables"] = topic["metadata"].pop("labels")
    lines = findings(state_dir, kafka, user, topic)
    assert len(lines) == 3, lines  # the metadata check (ObjectMeta) comes last
    assert "Kafka/simpul at spec.kafka.listeners.0.authentication: Additional properties are not allowed ('tpye'" \
        in lines[0]
    assert "at spec.authorization.acls.0.resource.patternType: 'prefixed' is not one of ['literal', 'prefix']" \
        in lines[1]
    assert "at metadata: Additional properties are not allowed ('lables' was unexpected)" in lines[2]
    assert "metadata as ObjectMeta" in lines[2]


def test_free_form_maps_stay_free_and_cel_rules_are_refused(state_dir: Path, rendered) -> None:  # noqa: ANN001
    kafka = one(rendered, "Kafka")
    kafka["spec"]["kafka"]["config"]["any.broker.setting"] = "x"  # `config` preserves unknown fields, as in Strimzi
    assert not findings(state_dir, kafka)
    kafka["spec"]["kafka"]["metricsConfig"] = {"type": "jmxPrometheusExporter"}  # its CRD holds a CEL rule
    (line,) = findings(state_dir, kafka)
    assert "at spec.kafka.metricsConfig: holds a field whose CRD has CEL rules" in line


def test_a_misspelt_kubernetes_field_or_bad_name_fails(state_dir: Path, rendered) -> None:  # noqa: ANN001
    deployment = one(rendered, "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "Always"
    service = one(rendered, "Service")
    service["metadata"]["name"] = "1-simpul"  # a Service's name must start with a letter
    topic = one(rendered, "KafkaTopic")
    topic["metadata"]["name"] = "jateng_ingress"
    lines = findings(state_dir, deployment, service, topic)
    assert len(lines) == 3, lines
    assert "Deployment/simpul-gateway at spec.template.spec.containers.0: Additional properties are not allowed " \
           "('imagePullPolcy' was unexpected)" in lines[0] and f"Kubernetes {k8s.KUBERNETES_VERSION}" in lines[0]
    assert "Service/1-simpul at metadata.name: '1-simpul' is not a DNS-1035 label" in lines[1]
    assert "at metadata.name: 'jateng_ingress' is not a DNS-1123 subdomain" in lines[2]


def test_unknown_kinds_and_api_versions_fail(state_dir: Path, rendered) -> None:  # noqa: ANN001
    topic = one(rendered, "KafkaTopic")
    topic["apiVersion"] = "kafka.strimzi.io/v1beta3"
    deployment = one(rendered, "Deployment")
    deployment["apiVersion"] = "apps/v1beta1"
    lines = findings(state_dir, topic, deployment)
    assert len(lines) == 2, lines
    assert f"Strimzi {k8s.STRIMZI_VERSION} serves no KafkaTopic in kafka.strimzi.io/v1beta3" in lines[0]
    assert "Couldn't find schema for kind Deployment with api version apps/v1beta1" in lines[1]


def test_a_jar_other_than_the_pinned_one_is_refused(state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(check, "STRIMZI_CRDS_SHA1", "0" * 40)
    with pytest.raises(check.SchemasUnavailable, match="but Simpul pins 0000"):
        check.strimzi_jar(state_dir)


def test_the_cli_fails_on_a_misspelt_field_and_passes_the_committed_folder(tmp_path: Path, state_dir: Path) -> None:
    from simpul.cli import app

    env = {"SIMPUL_STATE_DIR": str(state_dir)}
    ok = CliRunner().invoke(app, ["deploy", "validate", str(COMMITTED)], env=env)
    assert ok.exit_code == 0, ok.output
    assert f"valid against Kubernetes {k8s.KUBERNETES_VERSION}, Strimzi {k8s.STRIMZI_VERSION}" in ok.output
    for path in COMMITTED.glob("*.yaml"):
        (tmp_path / path.name).write_text(path.read_text().replace("  partitions: ", "  partitons: ", 1))
    bad = CliRunner().invoke(app, ["deploy", "validate", str(tmp_path)], env=env)
    assert bad.exit_code == 1
    assert "1 problem(s)" in bad.output and "('partitons' was unexpected)" in bad.output, bad.output
