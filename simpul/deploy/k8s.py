"""`simpul deploy render k8s`: the production shape on Strimzi, rendered from the topic catalog and topics/acls.py.

Pure functions from (prefix, catalog, ACL model) to Kubernetes manifests, so the cluster, its topics and its users
cannot drift from what the secured local platform enforces:

- `Kafka` + `KafkaNodePool`: three combined broker/controller KRaft nodes, SCRAM-SHA-512 on the client listener,
  the simple authorizer with `admin` as the only super user, replication 3 / min.insync.replicas 2;
- a `KafkaTopic` for every catalog topic with the `cluster` profile (replicas 3, min.insync.replicas 2);
- a `KafkaUser` per principal of topics/acls.py (SCRAM-SHA-512, `simple` authorization, the same ACLs);
- a `Deployment` per component (gateway, gatekeeper, aggregates, alerts, sink-store, sink-alerts, monitor,
  transparency), each connecting as its own principal with the password from the Secret the Strimzi user operator
  creates;
- Services for the gateway and the monitor, and a kustomization.yaml listing it all.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict

from topics.acls import AclModel, Grant, acl_model
from topics.catalog import TopicSet, load_catalog

CLUSTER_NAME = "simpul"
NAMESPACE = "simpul"
KAFKA_VERSION = "4.1.0"
STRIMZI_API = "kafka.strimzi.io/v1beta2"
# What the manifests target, and are validated against (simpul.deploy.validate): Strimzi 0.51 is the newest
# operator that serves kafka.strimzi.io/v1beta2 (1.0 removed it) and runs Kafka 4.1.
STRIMZI_VERSION = "0.51.0"
KUBERNETES_VERSION = "1.35"
BOOTSTRAP = f"{CLUSTER_NAME}-kafka-bootstrap:9092"
CONFIG_SECRET = "simpul-config"  # operator-made: registry-url, store-url, gateway-db-url, dashboard-db-url
INSTALLATION_SECRET = "simpul-secrets"  # operator-made from `simpul secrets show` files: simpul_nik_hmac_key, ...
STATE_DIR = "/var/lib/simpul"
SECRETS_DIR = "/var/run/simpul/secrets"


class Component(BaseModel):
    """One deployable process: its principal, command, replicas, extra env and (optional) HTTP port."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    principal: str
    command: tuple[str, ...]
    replicas: int = 1
    port: int | None = None
    env: tuple[tuple[str, str], ...] = ()
    secret_env: tuple[tuple[str, str], ...] = ()  # (variable, key in CONFIG_SECRET)
    secrets: tuple[str, ...] = ()  # installation secrets (simpul.secret_files) this process reads, and no others


COMPONENTS: tuple[Component, ...] = (
    Component(name="gateway", principal="gateway", replicas=2, port=8000,
              command=("simpul", "gateway", "--host", "0.0.0.0", "--port", "8000"),
              # the store: the receipts of the transparency log (read only by the gateway)
              secret_env=(("SIMPUL_GATEWAY_DB_URL", "gateway-db-url"), ("SIMPUL_STORE_URL", "store-url")),
              secrets=("gateway_digest_key",)),
    Component(name="gatekeeper", principal="gatekeeper", replicas=3,
              command=("simpul", "streams", "run", "gatekeeper"),
              env=(("SIMPUL_STREAMS_REPLICATION", "3"),), secrets=("nik_hmac_key", "dlq_key")),
    Component(name="aggregates", principal="aggregates", replicas=3,
              command=("simpul", "streams", "run", "aggregates"),
              env=(("SIMPUL_STREAMS_REPLICATION", "3"),)),
    Component(name="alerts", principal="alerts", replicas=3,
              command=("simpul", "streams", "run", "alerts"),
              env=(("SIMPUL_STREAMS_REPLICATION", "3"),),
              # a change of the rules goes to the audit trail in the dashboard's database; the monitor publishes it
              secret_env=(("SIMPUL_DASHBOARD_DB_URL", "dashboard-db-url"),)),
    Component(name="sink-store", principal="sink-store", replicas=2,
              command=("simpul", "sink", "store"),
              secret_env=(("SIMPUL_STORE_URL", "store-url"),)),
    Component(name="sink-alerts", principal="sink-alerts", replicas=1,
              command=("simpul", "sink", "alerts"),
              secret_env=(("SIMPUL_STORE_URL", "store-url"),), secrets=("alert_webhook_secret",)),
    Component(name="monitor", principal="monitor", replicas=1, port=8090,
              command=("simpul", "monitor", "--host", "0.0.0.0", "--port", "8090"),
              env=(("SIMPUL_DASHBOARD_ALLOWED_HOSTS", "localhost,simpul-monitor,simpul-monitor.simpul.svc"),),
              secret_env=(("SIMPUL_STORE_URL", "store-url"), ("SIMPUL_DASHBOARD_DB_URL", "dashboard-db-url")),
              secrets=("session_key", "metrics_token", "dlq_key")),
    # One replica: the log has one appender (its consumer group would split the topics between two, and each
    # would sign its own tree).
    Component(name="transparency", principal="transparency", replicas=1,
              command=("simpul", "transparency", "run"),
              secret_env=(("SIMPUL_STORE_URL", "store-url"),), secrets=("tlog_signing_key",)),
)


def k8s_name(topic: str) -> str:
    """A topic name as a Kubernetes resource name (lower-case, '-' for '_'); `spec.topicName` keeps the real one."""
    return topic.lower().replace("_", "-")


def _labels(**extra: str) -> dict[str, str]:
    return {"app.kubernetes.io/part-of": "simpul", **extra}


def kafka_cluster(replicas: int = 3) -> list[dict[str, Any]]:
    pool = {
        "apiVersion": STRIMZI_API, "kind": "KafkaNodePool",
        "metadata": {"name": "dual-role", "namespace": NAMESPACE, "labels": {"strimzi.io/cluster": CLUSTER_NAME}},
        "spec": {"replicas": replicas, "roles": ["controller", "broker"],
                 "storage": {"type": "jbod", "volumes": [{"id": 0, "type": "persistent-claim", "size": "100Gi",
                                                          "deleteClaim": False, "kraftMetadata": "shared"}]}},
    }
    kafka = {
        "apiVersion": STRIMZI_API, "kind": "Kafka",
        "metadata": {"name": CLUSTER_NAME, "namespace": NAMESPACE,
                     "annotations": {"strimzi.io/node-pools": "enabled", "strimzi.io/kraft": "enabled"}},
        "spec": {
            "kafka": {
                "version": KAFKA_VERSION,
                "listeners": [{"name": "scram", "port": 9092, "type": "internal", "tls": False,
                               "authentication": {"type": "scram-sha-512"}}],
                "authorization": {"type": "simple", "superUsers": ["admin"]},
                "config": {
                    "auto.create.topics.enable": False,
                    "default.replication.factor": 3,
                    "min.insync.replicas": 2,
                    "offsets.topic.replication.factor": 3,
                    "transaction.state.log.replication.factor": 3,
                    "transaction.state.log.min.isr": 2,
                    "share.coordinator.state.topic.replication.factor": 3,
                    "share.coordinator.state.topic.min.isr": 2,
                    "allow.everyone.if.no.acl.found": False,
                },
            },
            "entityOperator": {"topicOperator": {}, "userOperator": {}},
        },
    }
    return [kafka, pool]


def kafka_topics(topics: TopicSet) -> list[dict[str, Any]]:
    return [{
        "apiVersion": STRIMZI_API, "kind": "KafkaTopic",
        "metadata": {"name": k8s_name(t.name), "namespace": NAMESPACE,
                     "labels": {"strimzi.io/cluster": CLUSTER_NAME, "simpul.jateng.go.id/role": t.role}},
        "spec": {"topicName": t.name, "partitions": t.partitions, "replicas": t.replication_factor,
                 "config": dict(t.config)},
    } for t in topics]


# Kafka's resource pattern types as Strimzi's KafkaUser spells them (`prefix`, where Kafka says PREFIXED).
STRIMZI_PATTERN = {"literal": "literal", "prefixed": "prefix"}


def strimzi_acls(grants: Iterable[Grant]) -> list[dict[str, Any]]:
    """Grants grouped per resource, in Strimzi's `simple` authorization format."""
    by_resource: dict[tuple[str, str, str], list[str]] = {}
    for g in grants:
        by_resource.setdefault((g.kind, g.pattern, g.name), []).append(g.operation)
    acls = []
    for (kind, pattern, name), ops in sorted(by_resource.items()):
        resource: dict[str, Any] = {"type": kind}
        if kind != "cluster":
            resource |= {"name": name, "patternType": STRIMZI_PATTERN[pattern]}
        acls.append({"resource": resource, "operations": sorted(ops), "host": "*"})
    return acls


def kafka_users(model: AclModel) -> list[dict[str, Any]]:
    users = []
    for p in model.principals:
        spec: dict[str, Any] = {"authentication": {"type": "scram-sha-512"}}
        if not p.super_user:
            spec["authorization"] = {"type": "simple", "acls": strimzi_acls(p.grants)}
        users.append({
            "apiVersion": STRIMZI_API, "kind": "KafkaUser",
            "metadata": {"name": p.name, "namespace": NAMESPACE, "labels": {"strimzi.io/cluster": CLUSTER_NAME},
                         "annotations": {"simpul.jateng.go.id/description": p.description}},
            "spec": spec,
        })
    return users


def deployments(prefix: str, image: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for c in COMPONENTS:
        labels = _labels(**{"app.kubernetes.io/name": c.name})
        env: list[dict[str, Any]] = [
            {"name": "SIMPUL_PROVIDER", "value": "external"},
            {"name": "SIMPUL_STATE_DIR", "value": STATE_DIR},
            {"name": "SIMPUL_TOPIC_PREFIX", "value": prefix},
            {"name": "SIMPUL_KAFKA_BOOTSTRAP", "value": BOOTSTRAP},
            {"name": "SIMPUL_KAFKA_SECURITY_PROTOCOL", "value": "SASL_PLAINTEXT"},
            {"name": "SIMPUL_KAFKA_USERNAME", "value": c.principal},
            {"name": "SIMPUL_KAFKA_PASSWORD",  # the Secret the Strimzi user operator creates for the KafkaUser
             "valueFrom": {"secretKeyRef": {"name": c.principal, "key": "password"}}},
            {"name": "SIMPUL_REGISTRY_URL", "valueFrom": {"secretKeyRef": {"name": CONFIG_SECRET, "key": "registry-url"}}},
            *({"name": k, "value": v} for k, v in c.env),
            *({"name": k, "valueFrom": {"secretKeyRef": {"name": CONFIG_SECRET, "key": key}}} for k, key in c.secret_env),
            *([{"name": "SIMPUL_SECRETS_DIR", "value": SECRETS_DIR}] if c.secrets else []),
        ]
        mounts = [{"name": "state", "mountPath": STATE_DIR}]
        volumes: list[dict[str, Any]] = [{"name": "state", "emptyDir": {}}]
        if c.secrets:  # a folder with only this process's secrets, files 0400, the layout Settings reads
            mounts.append({"name": "secrets", "mountPath": SECRETS_DIR, "readOnly": True})
            volumes.append({"name": "secrets", "secret": {
                "secretName": INSTALLATION_SECRET, "defaultMode": 0o400,
                "items": [{"key": f"simpul_{n}", "path": f"simpul_{n}"} for n in c.secrets]}})
        container: dict[str, Any] = {
            "name": c.name, "image": image, "command": list(c.command), "env": env,
            "volumeMounts": mounts,
            "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
            "securityContext": {"runAsNonRoot": True, "allowPrivilegeEscalation": False,
                                "capabilities": {"drop": ["ALL"]}},
        }
        if c.port is not None:
            container["ports"] = [{"name": "http", "containerPort": c.port}]
            container["readinessProbe"] = {"httpGet": {"path": "/readyz" if c.name == "gateway" else "/healthz",
                                                       "port": "http"}, "periodSeconds": 10}
            if c.name == "monitor":  # the dashboard answers only its allowed hosts; the kubelet sends the pod IP
                container["readinessProbe"]["httpGet"]["httpHeaders"] = [{"name": "Host", "value": "localhost"}]
        out.append({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": f"simpul-{c.name}", "namespace": NAMESPACE, "labels": labels},
            "spec": {"replicas": c.replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  # state: Faust's RocksDB tables and SQLite scratch, rebuilt from changelogs
                                  "spec": {"containers": [container], "volumes": volumes}}},
        })
        if c.port is not None:
            out.append({
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": f"simpul-{c.name}", "namespace": NAMESPACE, "labels": labels},
                "spec": {"selector": labels, "ports": [{"name": "http", "port": c.port, "targetPort": "http"}]},
            })
    return out


def render(prefix: str | None = None, image: str = "ghcr.io/jateng/simpul:latest") -> dict[str, list[dict[str, Any]]]:
    """file name -> manifests, for `prefix` (default: the catalog's)."""
    from schemas.reference import regency_codes

    catalog = load_catalog()
    topics = catalog.expand(regency_codes=sorted(regency_codes()), profile="cluster", prefix=prefix)
    model = acl_model(topics.prefix, topics)
    namespace = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE, "labels": _labels()}}]
    return {
        "namespace.yaml": namespace,
        "kafka.yaml": kafka_cluster(),
        "topics.yaml": kafka_topics(topics),
        "users.yaml": kafka_users(model),
        "apps.yaml": deployments(topics.prefix, image),
    }


class _Dumper(yaml.SafeDumper):
    """Plain YAML: no anchors/aliases for repeated label maps."""

    def ignore_aliases(self, data: Any) -> bool:  # noqa: ARG002
        return True


HEADER = "# Generated by `simpul deploy render k8s` from topics/topics.yaml and topics/acls.py; do not edit.\n"


def write(files: dict[str, list[dict[str, Any]]], out: Path) -> list[Path]:
    """Write every file (multi-document YAML) and a kustomization.yaml; returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, docs in files.items():
        path = out / name
        path.write_text(HEADER + yaml.dump_all(docs, Dumper=_Dumper, sort_keys=False, width=120))
        written.append(path)
    kustomization = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                     "namespace": NAMESPACE, "resources": list(files)}
    path = out / "kustomization.yaml"
    path.write_text(HEADER + yaml.dump(kustomization, Dumper=_Dumper, sort_keys=False))
    written.append(path)
    return written
