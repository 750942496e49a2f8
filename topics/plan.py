"""The difference between the catalog and the cluster, as a list of typed changes.

`plan` is a pure function (desired topics + observed topics -> changes) so that every rule about what may be
changed, and what is refused as destructive, is unit-tested without a broker. `topics.admin` only observes the
cluster and executes what this module decided.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from topics.catalog import TopicSet, TopicSpec

# Configs whose value is a comma-separated list in any order: "delete,compact" equals "compact,delete".
_LIST_CONFIGS = frozenset({"cleanup.policy"})


class ObservedTopic(BaseModel):
    """A topic as the cluster reports it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    partitions: int
    replication_factor: int
    config: dict[str, str] = Field(default_factory=dict)
    messages: int | None = Field(
        default=None, description="records between the low and high watermarks; None when not measured"
    )

    @property
    def holds_data(self) -> bool:
        """Unknown counts as holding data: we only ever err towards refusing a deletion."""
        return self.messages is None or self.messages > 0


class _ChangeBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    topic: str
    destructive: bool = False
    refused: bool = False

    def describe(self) -> str:
        """One line for a person; the JSON form carries the same facts as fields."""
        raise NotImplementedError

    def _suffix(self) -> str:
        if self.refused:
            return " [REFUSED: destructive; rerun with --allow-destructive]"
        return " [destructive]" if self.destructive else ""


class CreateTopic(_ChangeBase):
    kind: Literal["create"] = "create"
    partitions: int
    replication_factor: int
    config: dict[str, str]

    def describe(self) -> str:
        return (
            f"create {self.topic}: {self.partitions} partition(s), replication {self.replication_factor}, "
            + ", ".join(f"{k}={v}" for k, v in self.config.items())
        )


class ConfigUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str
    current: str | None
    desired: str


class AlterConfig(_ChangeBase):
    kind: Literal["alter-config"] = "alter-config"
    updates: list[ConfigUpdate]

    def describe(self) -> str:
        parts = ", ".join(f"{u.key}: {u.current if u.current is not None else '(unset)'} -> {u.desired}"
                          for u in self.updates)
        return f"alter {self.topic}: {parts}"


class AddPartitions(_ChangeBase):
    kind: Literal["add-partitions"] = "add-partitions"
    current: int
    desired: int

    def describe(self) -> str:
        return (
            f"add partitions to {self.topic}: {self.current} -> {self.desired} "
            "(keys written from now on may land on a different partition than before)"
        )


class _Recreate(_ChangeBase):
    """A change Kafka cannot make in place: the topic is deleted and created again, losing its records."""

    destructive: bool = True
    messages: int | None
    partitions: int
    replication_factor: int
    config: dict[str, str]

    def _loss(self) -> str:
        held = "an unknown number of" if self.messages is None else str(self.messages)
        return f"deleting and recreating it would drop {held} record(s)"


class ReducePartitions(_Recreate):
    kind: Literal["reduce-partitions"] = "reduce-partitions"
    current: int
    desired: int

    def describe(self) -> str:
        return (
            f"reduce partitions of {self.topic}: {self.current} -> {self.desired}; Kafka cannot remove "
            f"partitions, so {self._loss()}{self._suffix()}"
        )


class ChangeReplication(_Recreate):
    kind: Literal["change-replication"] = "change-replication"
    current: int
    desired: int

    def describe(self) -> str:
        return (
            f"change replication factor of {self.topic}: {self.current} -> {self.desired}; apply does this by "
            f"recreating the topic, so {self._loss()} (to keep the data, reassign partitions with "
            f"kafka-reassign-partitions instead){self._suffix()}"
        )


class DeleteTopic(_ChangeBase):
    kind: Literal["delete"] = "delete"
    messages: int | None

    def describe(self) -> str:
        held = "unknown" if self.messages is None else str(self.messages)
        return f"delete {self.topic} (not in the catalog; {held} record(s)){self._suffix()}"


Change = Annotated[
    CreateTopic | AlterConfig | AddPartitions | ReducePartitions | ChangeReplication | DeleteTopic,
    Field(discriminator="kind"),
]
CHANGES = TypeAdapter(list[Change])
"""Serialises a plan to JSON and reads it back: `CHANGES.dump_python(changes, mode="json")`."""


def normalise_config(key: str, value: str | None) -> str | None:
    """The form in which two values of `key` compare equal exactly when Kafka treats them as equal."""
    if value is None:
        return None
    if key in _LIST_CONFIGS:
        return ",".join(sorted(part.strip() for part in value.split(",") if part.strip()))
    return value.strip()


def plan(
    desired: TopicSet,
    observed: Mapping[str, ObservedTopic],
    *,
    allow_destructive: bool = False,
    prune: bool = False,
    namespaces: Collection[str] | None = None,
) -> list[Change]:
    """What must change so that the cluster matches `desired`; `[]` when it already does.

    `observed` may hold any topics of the cluster; only those named in the catalog are compared. With
    `prune`, topics under `<prefix>.` (and, if `namespaces` is given, under `<prefix>.<namespace>`) that the
    catalog does not name are planned for deletion; never any other topic. Destructive changes are always
    listed, and marked `refused` unless `allow_destructive`; a deletion of an empty topic is not destructive.
    """
    changes: list[Change] = []
    for spec in desired:
        current = observed.get(spec.name)
        if current is None:
            changes.append(
                CreateTopic(
                    topic=spec.name,
                    partitions=spec.partitions,
                    replication_factor=spec.replication_factor,
                    config=dict(spec.config),
                )
            )
        else:
            changes.extend(_topic_changes(spec, current, allow_destructive=allow_destructive))
    if prune:
        wanted = set(desired.names)
        for name in sorted(observed):
            if name in wanted or not _prunable(name, desired.prefix, namespaces):
                continue
            topic = observed[name]
            changes.append(
                DeleteTopic(
                    topic=name,
                    messages=topic.messages,
                    destructive=topic.holds_data,
                    refused=topic.holds_data and not allow_destructive,
                )
            )
    return changes


def refused(changes: list[Change]) -> list[Change]:
    """The changes `apply` will not make without `--allow-destructive`."""
    return [change for change in changes if change.refused]


def _topic_changes(spec: TopicSpec, current: ObservedTopic, *, allow_destructive: bool) -> list[Change]:
    if current.partitions > spec.partitions or current.replication_factor != spec.replication_factor:
        # Recreating covers partitions and config too, so no further change is planned for this topic.
        recreate = _Recreate(
            topic=spec.name,
            messages=current.messages,
            partitions=spec.partitions,
            replication_factor=spec.replication_factor,
            config=dict(spec.config),
            refused=not allow_destructive,
        ).model_dump()
        if current.partitions > spec.partitions:
            return [ReducePartitions(current=current.partitions, desired=spec.partitions, **recreate)]
        return [ChangeReplication(current=current.replication_factor, desired=spec.replication_factor, **recreate)]
    changes: list[Change] = []
    updates = [
        ConfigUpdate(key=key, current=current.config.get(key), desired=value)
        for key, value in spec.config.items()
        if normalise_config(key, current.config.get(key)) != normalise_config(key, value)
    ]
    if updates:
        changes.append(AlterConfig(topic=spec.name, updates=updates))
    if current.partitions < spec.partitions:
        changes.append(AddPartitions(topic=spec.name, current=current.partitions, desired=spec.partitions))
    return changes


def _prunable(name: str, prefix: str, namespaces: Collection[str] | None) -> bool:
    if not name.startswith(f"{prefix}."):
        return False
    if namespaces is None:
        return True
    head = name[len(prefix) + 1 :].split(".", 1)[0]
    return head in namespaces
