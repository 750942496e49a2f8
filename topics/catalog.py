"""The topic catalog: topics.yaml read into typed models, and expanded into the concrete topics of one prefix.

The YAML declares templates (`ingress.{regency}`) rather than 35 near-identical entries, so a retention or
partition decision is made once per role. Expansion is a pure function of the catalog, the prefix, the
regency codes and the replication profile; nothing here talks to a broker.
"""

from __future__ import annotations

import functools

import itertools
import re
import string
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from topics.exceptions import TopicCatalogError

DEFAULT_CATALOG = Path(__file__).with_name("topics.yaml")

# Settings that the catalog declares through typed fields; `config:` must not repeat them, or two places
# would disagree about the same value.
TYPED_CONFIG_KEYS = frozenset({"retention.ms", "cleanup.policy", "min.insync.replicas"})

# The dimension the caller supplies: regency codes come from the reference data, not from topics.yaml.
REGENCY = "regency"

PREFIX_PATTERN = re.compile(r"^[a-z][a-z0-9_-]*$")
_LEGAL_NAME = re.compile(r"^[a-zA-Z0-9._-]{1,249}$")
_DURATION = re.compile(r"^(?P<n>\d+)\s*(?P<unit>ms|s|m|h|d|w)$")
_UNIT_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}

CleanupPolicy = Literal["delete", "compact"]


def parse_duration_ms(value: object) -> int:
    """'7d', '12h', '500ms', an integer of milliseconds, or 'forever' (-1, Kafka's "no limit")."""
    if isinstance(value, bool):
        raise ValueError("a duration, not a boolean")
    if isinstance(value, int):
        if value < -1:
            raise ValueError("a duration in milliseconds must be >= -1")
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in {"forever", "infinite", "-1"}:
            return -1
        if text.isdigit():
            return int(text)
        match = _DURATION.match(text)
        if match:
            return int(match["n"]) * _UNIT_MS[match["unit"]]
    raise ValueError(f"{value!r} is not a duration; write e.g. 7d, 12h, 30m, 45s, 500ms, or forever")


def _placeholders(template: str) -> list[str]:
    return [field for _, field, _, _ in string.Formatter().parse(template) if field]


class ReplicationProfile(BaseModel):
    """How many copies of every partition, and how many must acknowledge an acks=all write."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    min_brokers: int = Field(ge=1)
    replication_factor: int = Field(ge=1)
    min_insync_replicas: int = Field(ge=1)

    @model_validator(mode="after")
    def _consistent(self) -> ReplicationProfile:
        if self.min_insync_replicas > self.replication_factor:
            raise ValueError(
                f"profile {self.name!r}: min_insync_replicas ({self.min_insync_replicas}) exceeds "
                f"replication_factor ({self.replication_factor}); no write could ever succeed"
            )
        if self.replication_factor > self.min_brokers:
            raise ValueError(
                f"profile {self.name!r}: replication_factor {self.replication_factor} needs at least that many "
                f"brokers, but min_brokers is {self.min_brokers}"
            )
        return self


class TopicTemplate(BaseModel):
    """One role of the data flow as written in topics.yaml; may expand to many topics."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    description: str = ""
    key: str = ""
    partitions: int = Field(ge=1)
    cleanup_policy: tuple[CleanupPolicy, ...] = Field(min_length=1)
    retention_ms: int = Field(alias="retention")
    config: dict[str, str] = Field(default_factory=dict)

    @field_validator("retention_ms", mode="before")
    @classmethod
    def _duration(cls, value: object) -> int:
        return parse_duration_ms(value)

    @field_validator("cleanup_policy", mode="before")
    @classmethod
    def _policy_list(cls, value: object) -> object:
        return [part.strip() for part in value.split(",")] if isinstance(value, str) else value

    @field_validator("cleanup_policy")
    @classmethod
    def _policy_unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("cleanup_policy lists a policy twice")
        return tuple(sorted(value))

    @field_validator("config", mode="before")
    @classmethod
    def _config_strings(cls, value: object) -> object:
        """Kafka configs are strings on the wire; accept YAML numbers and booleans and render them once here."""
        if not isinstance(value, Mapping):
            return value
        rendered: dict[str, str] = {}
        for key, item in value.items():
            if isinstance(item, bool):
                rendered[str(key)] = "true" if item else "false"
            elif isinstance(item, int | float | str):
                rendered[str(key)] = str(item)
            else:
                raise ValueError(f"config {key!r}: {item!r} is not a scalar")
        return rendered

    @field_validator("config")
    @classmethod
    def _config_not_typed(cls, value: dict[str, str]) -> dict[str, str]:
        clash = sorted(TYPED_CONFIG_KEYS & value.keys())
        if clash:
            raise ValueError(
                f"{', '.join(clash)} must be given through retention / cleanup_policy / the replication "
                "profile, not under config"
            )
        return value

    @property
    def dimensions(self) -> list[str]:
        """The placeholders of the name, in order: the dimensions this template is expanded over."""
        return _placeholders(self.name)


class TopicSpec(BaseModel):
    """One concrete topic as the cluster should have it; what `plan` compares and `apply` creates."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    role: str
    partitions: int
    replication_factor: int
    config: dict[str, str]
    key: str = ""
    description: str = ""
    labels: dict[str, str] = Field(default_factory=dict)


class TopicSet(BaseModel):
    """The expanded catalog of one prefix, with lookups by role and dimension so callers never format names."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prefix: str
    profile: ReplicationProfile
    topics: tuple[TopicSpec, ...]

    def __iter__(self) -> Iterator[TopicSpec]:  # type: ignore[override]
        return iter(self.topics)

    def __len__(self) -> int:
        return len(self.topics)

    @property
    def names(self) -> list[str]:
        return [topic.name for topic in self.topics]

    def by_name(self, name: str) -> TopicSpec:
        for topic in self.topics:
            if topic.name == name:
                return topic
        raise TopicCatalogError(f"topic {name!r} is not in the catalog for prefix {self.prefix!r}")

    def role(self, role: str) -> list[TopicSpec]:
        """All topics of one role (e.g. every `ingress` topic), in catalog order."""
        return [topic for topic in self.topics if topic.role == role]

    def find(self, role: str, **labels: str) -> TopicSpec:
        """The one topic of `role` whose labels match, e.g. `find("ingress", regency="3301")`."""
        for topic in self.topics:
            if topic.role == role and all(topic.labels.get(k) == v for k, v in labels.items()):
                return topic
        wanted = ", ".join(f"{k}={v}" for k, v in labels.items())
        raise TopicCatalogError(f"no {role!r} topic with {wanted or 'no labels'} in the catalog for {self.prefix!r}")

    def ingress(self, regency_code: str) -> TopicSpec:
        return self.find("ingress", regency=regency_code)

    def events(self, family: str) -> TopicSpec:
        return self.find("events", family=family)

    def agg(self, metric: str) -> TopicSpec:
        return self.find("agg", metric=metric)

    @property
    def alerts(self) -> TopicSpec:
        return self.find("alerts")

    @property
    def dlq(self) -> TopicSpec:
        return self.find("dlq")


class Catalog(BaseModel):
    """topics.yaml as written: templates, the dimensions they expand over, and replication profiles."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1]
    default_prefix: str = Field(pattern=PREFIX_PATTERN.pattern)
    profiles: dict[str, ReplicationProfile]
    dimensions: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    topics: tuple[TopicTemplate, ...] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _profile_names(cls, data: Any) -> Any:
        """Profiles are keyed by name in YAML; copy the key into each model so a profile knows its name."""
        if isinstance(data, dict) and isinstance(data.get("profiles"), dict):
            data = dict(data)
            data["profiles"] = {
                name: {"name": name, **body} if isinstance(body, dict) else body
                for name, body in data["profiles"].items()
            }
        return data

    @model_validator(mode="after")
    def _coherent(self) -> Catalog:
        if not self.profiles:
            raise ValueError("at least one replication profile is needed")
        if REGENCY in self.dimensions:
            raise ValueError(f"dimension {REGENCY!r} is supplied by the caller from the reference data; remove it")
        roles = [template.role for template in self.topics]
        duplicates = sorted({role for role in roles if roles.count(role) > 1})
        if duplicates:
            raise ValueError(f"role(s) declared twice: {', '.join(duplicates)}")
        known = set(self.dimensions) | {REGENCY}
        for template in self.topics:
            unknown = [d for d in template.dimensions if d not in known]
            if unknown:
                raise ValueError(
                    f"topic {template.name!r} uses unknown dimension(s) {unknown}; known: {sorted(known)}"
                )
        return self

    def profile(self, name: str) -> ReplicationProfile:
        try:
            return self.profiles[name]
        except KeyError:
            raise TopicCatalogError(
                f"no replication profile {name!r}; topics.yaml declares {', '.join(sorted(self.profiles))}"
            ) from None

    def profile_for(self, broker_count: int) -> ReplicationProfile:
        """The most replicated profile this many brokers can hold: 1 broker -> single, 3 or more -> cluster."""
        fitting = [p for p in self.profiles.values() if p.min_brokers <= broker_count]
        if not fitting:
            smallest = min(p.min_brokers for p in self.profiles.values())
            raise TopicCatalogError(
                f"the cluster has {broker_count} broker(s) but every profile needs at least {smallest}"
            )
        return max(fitting, key=lambda p: (p.min_brokers, p.replication_factor))

    def expand(
        self,
        *,
        regency_codes: Sequence[str],
        profile: ReplicationProfile | str,
        prefix: str | None = None,
    ) -> TopicSet:
        """Every concrete topic for `prefix` (default: the catalog's), one ingress topic per regency code."""
        prefix = self.default_prefix if prefix is None else prefix
        if not PREFIX_PATTERN.match(prefix):
            raise TopicCatalogError(
                f"topic prefix {prefix!r} is not valid: use lower-case letters, digits, '_' or '-', "
                "starting with a letter"
            )
        chosen = self.profile(profile) if isinstance(profile, str) else profile
        values = {**self.dimensions, REGENCY: _checked_codes(regency_codes)}
        specs: list[TopicSpec] = []
        for template in self.topics:
            dims = template.dimensions
            for combo in itertools.product(*(values[d] for d in dims)):
                labels = dict(zip(dims, combo, strict=True))
                name = f"{prefix}.{template.name.format(**labels)}"
                if not _LEGAL_NAME.match(name):
                    raise TopicCatalogError(f"{name!r} is not a legal Kafka topic name (letters, digits, . _ -, <=249)")
                specs.append(_spec(template, name, labels, chosen))
        names = [spec.name for spec in specs]
        clashes = sorted({n for n in names if names.count(n) > 1})
        if clashes:
            raise TopicCatalogError(f"the catalog expands to duplicate topic names: {', '.join(clashes)}")
        return TopicSet(prefix=prefix, profile=chosen, topics=tuple(specs))

    @property
    def namespaces(self) -> frozenset[str]:
        """First name segment of every role (`ingress`, `events`, `agg`, `alerts`, `dlq`).

        Pruning only ever considers topics in these namespaces under our prefix, so topics that other tools
        create under the same prefix (Faust changelogs, registry storage) are never candidates for deletion.
        """
        return frozenset(template.name.split(".", 1)[0].split("{", 1)[0] for template in self.topics)


def _checked_codes(codes: Sequence[str]) -> tuple[str, ...]:
    cleaned = tuple(str(code).strip() for code in codes)
    if not cleaned:
        raise TopicCatalogError("no regency codes were given; the ingress topics need the 35 codes of regencies.csv")
    bad = [code for code in cleaned if not re.fullmatch(r"[A-Za-z0-9_-]+", code)]
    if bad:
        raise TopicCatalogError(f"regency code(s) {bad} cannot be part of a topic name")
    duplicates = sorted({code for code in cleaned if cleaned.count(code) > 1})
    if duplicates:
        raise TopicCatalogError(f"regency code(s) given twice: {', '.join(duplicates)}")
    return cleaned


def _spec(template: TopicTemplate, name: str, labels: dict[str, str], profile: ReplicationProfile) -> TopicSpec:
    config = {
        "cleanup.policy": ",".join(template.cleanup_policy),
        "retention.ms": str(template.retention_ms),
        "min.insync.replicas": str(profile.min_insync_replicas),
        **template.config,
    }
    return TopicSpec(
        name=name,
        role=template.role,
        partitions=template.partitions,
        replication_factor=profile.replication_factor,
        config=dict(sorted(config.items())),
        key=template.key,
        description=" ".join(template.description.split()),
        labels=labels,
    )


def load_catalog(path: Path | str | None = None) -> Catalog:
    """Read and validate topics.yaml (the packaged one unless a path is given)."""
    source = Path(path) if path is not None else DEFAULT_CATALOG
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TopicCatalogError(f"topic catalog {source} does not exist") from None
    except yaml.YAMLError as exc:
        raise TopicCatalogError(f"topic catalog {source} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise TopicCatalogError(f"topic catalog {source} must be a mapping at the top level")
    try:
        return Catalog.model_validate(raw)
    except ValidationError as exc:
        problems = "\n".join(
            f"  {'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}" for err in exc.errors()
        )
        raise TopicCatalogError(f"topic catalog {source} is invalid:\n{problems}") from None


@functools.lru_cache(maxsize=16)
def topic_names(prefix: str) -> TopicSet:
    """The catalog expanded for `prefix` over the 35 regencies: how every stage looks a topic name up.

    Names do not depend on the replication profile; `single` is used only to expand.
    """
    from schemas.reference import regency_codes

    return load_catalog().expand(regency_codes=sorted(regency_codes()), profile="single", prefix=prefix)
