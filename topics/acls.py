"""Who may do what on the broker: the ACL model of the secured platform, as data derived from the topic catalog.

One principal per regency (`regency-<code>`) may write only its own ingress topic and read only its own receipts
and outcomes topics; each stage of the flow has one principal with the least it needs (gatekeeper, aggregates, alerts, sink-store,
sink-alerts, gateway, monitor, transparency);
`admin` is a super user (topics apply, schema-free operations, the platform itself) and needs no ACL.

Everything here is a pure function of the prefix and the catalog: the secured local platform
(`simpul platform up --secure`) turns it into Kafka ACL bindings, `simpul deploy render k8s` into Strimzi
`KafkaUser` resources, and the unit tests check the isolation properties without a broker.

Group and internal-topic names are the ones the code uses:
- Faust app id (= consumer group) `<prefix>-<processor>` (streams.runtime.app_id); its internal topics (changelogs,
  repartitions, the `-__assignor-__leader` topic) all start with `<prefix>-<processor>-`.
- store sink group `<prefix>-sink-store` (consumers.store.sink.group_id), alert dispatch `<prefix>-sink-alerts`.
- gatekeeper start-up reads (output tails, the dedup changelog restore) use throw-away groups
  `simpul-gatekeeper-recovery-<random>` (streams.gatekeeper.recovery.throwaway_group).
- monitor: `simpul-monitor-reader`, `simpul-dlq-browser`; it describes the groups `<prefix>-…` and is the only
  writer of the audit topic `<prefix>.audit.ops`.
- transparency log stage: group `<prefix>-transparency`; the only writer of `<prefix>.audit.checkpoints` and of the
  receipts topics `<prefix>.receipts.<code>`.
- a regency reading its receipts or outcomes: groups starting `<prefix>-regency-<code>-` (its own, no other
  regency's).
- outcomes `<prefix>.outcomes.<code>`: written only by the gatekeeper; read by their regency and by the gateway
  (group `<prefix>-gateway-outcomes`), which answers GET /v1/events and /v1/rejections from them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict

from topics.catalog import TopicSet, topic_names

ResourceKind = Literal["topic", "group", "cluster"]
PatternKind = Literal["literal", "prefixed"]
Operation = Literal["Read", "Write", "Create", "Describe", "DescribeConfigs", "IdempotentWrite", "All"]

CLUSTER = "kafka-cluster"  # Kafka's one cluster resource name

PROCESSORS = ("gatekeeper", "aggregates", "alerts")
SERVICES = ("gatekeeper", "aggregates", "alerts", "sink-store", "sink-alerts", "gateway", "monitor", "transparency")
ADMIN = "admin"

# The principal running each deployable component (`simpul deploy render k8s` and `simpul platform credentials`).
COMPONENT_PRINCIPAL = {name: name for name in SERVICES}


class Grant(BaseModel):
    """One ALLOW ACL: `operation` on the resource (`kind`, `pattern`, `name`), from any host."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ResourceKind
    pattern: PatternKind
    name: str
    operation: Operation

    def covers(self, kind: ResourceKind, name: str) -> bool:
        """True if this grant's resource pattern matches the concrete resource `kind`/`name`."""
        if kind != self.kind:
            return False
        return name == self.name if self.pattern == "literal" else name.startswith(self.name)

    @property
    def sort_key(self) -> tuple[str, str, str, str]:
        return (self.kind, self.name, self.pattern, self.operation)


class Principal(BaseModel):
    """A SCRAM user and its grants; `super_user` principals bypass ACLs (only `admin`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str
    grants: tuple[Grant, ...] = ()
    super_user: bool = False

    @property
    def kafka_principal(self) -> str:
        return f"User:{self.name}"

    def allows(self, operation: Operation, kind: ResourceKind, name: str) -> bool:
        """What the StandardAuthorizer would answer for this principal (ALLOW-only model; Kafka's implications:
        Read/Write/Delete/Alter imply Describe, AlterConfigs implies DescribeConfigs, All implies everything)."""
        if self.super_user:
            return True
        implied = {operation, "All"}
        if operation == "Describe":
            implied |= {"Read", "Write"}
        if operation == "DescribeConfigs":
            implied |= {"AlterConfigs"}
        return any(g.covers(kind, name) and g.operation in implied for g in self.grants)


class AclModel(BaseModel):
    """Every principal of one topic prefix."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prefix: str
    principals: tuple[Principal, ...]

    def principal(self, name: str) -> Principal:
        for p in self.principals:
            if p.name == name:
                return p
        raise KeyError(f"no principal {name!r}; known: {', '.join(p.name for p in self.principals)}")

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.principals]

    @property
    def super_users(self) -> list[str]:
        return [p.name for p in self.principals if p.super_user]


def regency_principal(code: str) -> str:
    return f"regency-{code}"


def gateway_outcomes_group(prefix: str) -> str:
    """The consumer group of the gateway's follower of the outcome topics (one group per gateway database)."""
    return f"{prefix}-gateway-outcomes"


def regency_group_prefix(prefix: str, code: str) -> str:
    """The consumer groups a regency may use to read its receipts topic: `<prefix>-regency-<code>-…`.

    The trailing '-' keeps one regency's prefix from covering another's (codes are fixed-width, but this does not
    rely on it)."""
    return f"{prefix}-{regency_principal(code)}-"


def _topic(pattern: PatternKind, name: str, *ops: Operation) -> list[Grant]:
    return [Grant(kind="topic", pattern=pattern, name=name, operation=op) for op in ops]


def _group(pattern: PatternKind, name: str, *ops: Operation) -> list[Grant]:
    return [Grant(kind="group", pattern=pattern, name=name, operation=op) for op in ops]


def _idempotent() -> list[Grant]:
    # Implied by Write on any topic since Kafka 2.8 (KIP-679); granted explicitly for older clients.
    return [Grant(kind="cluster", pattern="literal", name=CLUSTER, operation="IdempotentWrite")]


def _processor(prefix: str, processor: str) -> list[Grant]:
    """A Faust processor's own group and internal topics (changelogs, repartitions, leader topic)."""
    app = f"{prefix}-{processor}"
    return [
        *_group("literal", app, "Read", "Describe"),
        *_topic("prefixed", f"{app}-", "Create", "Read", "Write", "Describe", "DescribeConfigs"),
        *_idempotent(),
    ]


def acl_model(prefix: str, topics: TopicSet | None = None) -> AclModel:
    """The principals and grants for `prefix`, derived from the catalog's topics of that prefix."""
    topics = topics or topic_names(prefix)
    p = topics.prefix
    ingress, events, agg, receipts = f"{p}.ingress.", f"{p}.events.", f"{p}.agg.", f"{p}.receipts."
    outcomes = f"{p}.outcomes."
    alerts, dlq, audit = topics.alerts.name, topics.dlq.name, topics.find("audit").name
    checkpoints = topics.find("checkpoints").name
    _check_prefix_roles(topics, {"ingress": ingress, "events": events, "agg": agg, "receipts": receipts,
                                 "outcomes": outcomes})
    principals: list[Principal] = []
    for spec in topics.role("ingress"):
        code = spec.labels["regency"]
        own_receipts = topics.find("receipts", regency=code).name
        own_outcomes = topics.find("outcomes", regency=code).name
        principals.append(Principal(
            name=regency_principal(code),
            description=(f"regency {code}: writes its own ingress topic {spec.name} and reads its own receipts "
                         f"{own_receipts} and outcomes {own_outcomes}, nothing else"),
            grants=_sorted([
                *_topic("literal", spec.name, "Write", "Describe"),
                *_idempotent(),
                *_topic("literal", own_receipts, "Read", "Describe"),
                *_topic("literal", own_outcomes, "Read", "Describe"),
                *_group("prefixed", regency_group_prefix(p, code), "Read", "Describe"),
            ]),
        ))
    principals += [
        Principal(name="gatekeeper", description=(
            "reads every ingress topic, writes the canonical topics, the DLQ and every regency's outcomes, reads "
            "the tail of the first two at start-up"),
            grants=_sorted([
                *_topic("prefixed", ingress, "Read", "Describe"),
                *_topic("prefixed", events, "Read", "Write", "Describe"),
                *_topic("prefixed", outcomes, "Write", "Describe"),
                *_topic("literal", dlq, "Read", "Write", "Describe"),
                *_group("prefixed", "simpul-gatekeeper-recovery-", "Read", "Describe"),
                *_processor(p, "gatekeeper"),
            ])),
        Principal(name="aggregates", description="reads the canonical topics, writes the aggregate topics",
                  grants=_sorted([
                      *_topic("prefixed", events, "Read", "Describe"),
                      *_topic("prefixed", agg, "Write", "Describe"),
                      *_processor(p, "aggregates"),
                  ])),
        Principal(name="alerts", description="reads the canonical topics, writes the alerts topic",
                  grants=_sorted([
                      *_topic("prefixed", events, "Read", "Describe"),
                      *_topic("literal", alerts, "Write", "Describe"),
                      *_processor(p, "alerts"),
                  ])),
        Principal(name="sink-store", description="reads canonical events, aggregates and alerts into the store",
                  grants=_sorted([
                      *_topic("prefixed", events, "Read", "Describe"),
                      *_topic("prefixed", agg, "Read", "Describe"),
                      *_topic("literal", alerts, "Read", "Describe"),
                      *_group("literal", f"{p}-sink-store", "Read", "Describe"),
                  ])),
        Principal(name="sink-alerts", description="reads the alerts topic and dispatches webhooks",
                  grants=_sorted([
                      *_topic("literal", alerts, "Read", "Describe"),
                      *_group("literal", f"{p}-sink-alerts", "Read", "Describe"),
                  ])),
        Principal(name="gateway", description=(
            "the HTTP gateway writes the ingress topic of the regency its API key is bound to (checked per request) "
            "and reads every regency's outcomes, answering each key with its own regency's only"),
            grants=_sorted([
                *_topic("prefixed", ingress, "Write", "Describe"),
                *_idempotent(),
                *_topic("prefixed", outcomes, "Read", "Describe"),
                *_group("literal", gateway_outcomes_group(p), "Read", "Describe"),
            ])),
        Principal(name="monitor", description=(
            "reads every topic of the prefix (lag, freshness, DLQ browser), describes the pipeline's groups; "
            "the DLQ replay writes a record back to its ingress topic; writes the ops audit trail"),
            grants=_sorted([
                *_topic("prefixed", f"{p}.", "Read", "Describe"),
                *_topic("prefixed", ingress, "Write"),
                *_topic("literal", audit, "Write"),
                *_group("prefixed", f"{p}-", "Describe"),
                *_group("literal", "simpul-monitor-reader", "Read", "Describe"),
                *_group("literal", "simpul-dlq-browser", "Read", "Describe"),
                *_idempotent(),
            ])),
        Principal(name="transparency", description=(
            "the transparency log: reads the canonical topics and the ops audit trail, writes the signed "
            "checkpoints and every regency's receipts"),
            grants=_sorted([
                *_topic("prefixed", events, "Read", "Describe"),
                *_topic("literal", audit, "Read", "Describe"),
                *_group("literal", f"{p}-transparency", "Read", "Describe"),
                *_topic("literal", checkpoints, "Write", "Describe"),
                *_topic("prefixed", receipts, "Write", "Describe"),
                *_idempotent(),
            ])),
        Principal(name=ADMIN, description="operators and the platform itself: super user (topics apply, ACLs)",
                  super_user=True),
    ]
    return AclModel(prefix=p, principals=tuple(principals))


def _sorted(grants: Iterable[Grant]) -> tuple[Grant, ...]:
    return tuple(sorted(set(grants), key=lambda g: g.sort_key))


def _check_prefix_roles(topics: TopicSet, prefixes: dict[str, str]) -> None:
    """A prefixed grant must cover exactly its role's topics, or the model would silently over-grant."""
    for role, prefix in prefixes.items():
        covered = {t.name for t in topics if t.name.startswith(prefix)}
        wanted = {t.name for t in topics.role(role)}
        if covered != wanted:
            raise ValueError(f"prefix {prefix!r} covers {sorted(covered ^ wanted)} outside role {role!r}")


def principal_names(prefix: str) -> list[str]:
    return acl_model(prefix).names
