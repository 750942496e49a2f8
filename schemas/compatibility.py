"""Compare local schemas with the registry under each subject's rule, locally (Apache `avro`) and at the registry.

BACKWARD: the new schema, as reader, reads data written with the registered one. FORWARD: the registered schema,
as reader, reads data written with the new one. FULL: both. `_TRANSITIVE`: against every registered version,
not only the latest.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import avro.schema
import httpx
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

from schemas.catalog import Catalog, EventSchema, default_catalog
from schemas.exceptions import RegistryError

Status = Literal["new", "unchanged", "compatible", "incompatible"]


@dataclass(frozen=True)
class Incompatibility:
    """One incompatible change: which check failed, where in the schema, and why."""

    direction: Literal["BACKWARD", "FORWARD"]
    against_version: int | None
    kind: str
    location: str
    reason: str

    def __str__(self) -> str:
        against = f"v{self.against_version}" if self.against_version is not None else "registered"
        return f"{self.direction} vs {against}: {self.kind} at {self.location}: {self.reason}"


@dataclass
class SubjectReport:
    """The verdict for one subject."""

    subject: str
    event_type: str
    rule: str
    status: Status
    latest_version: int | None = None
    registry_rule: str | None = None
    registry_compatible: bool | None = None
    problems: list[Incompatibility] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """False if either the local checker or the registry says the change breaks the rule."""
        return self.status != "incompatible" and self.registry_compatible is not False

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (for `--json`)."""
        d = asdict(self)
        d["ok"] = self.ok
        d["problems"] = [{**asdict(p), "message": str(p)} for p in self.problems]
        return d


def _directions(rule: str) -> tuple[list[str], bool]:
    base = rule.removesuffix("_TRANSITIVE")
    transitive = rule.endswith("_TRANSITIVE")
    if base == "NONE":
        return [], transitive
    return (["BACKWARD", "FORWARD"] if base == "FULL" else [base]), transitive


def compare(new: str, old: str, rule: str, against_version: int | None = None) -> list[Incompatibility]:
    """Incompatibilities of schema text `new` against registered text `old` under `rule` (local, Apache avro)."""
    new_s, old_s = avro.schema.parse(new), avro.schema.parse(old)
    problems: list[Incompatibility] = []
    for direction in _directions(rule)[0]:
        reader, writer = (new_s, old_s) if direction == "BACKWARD" else (old_s, new_s)
        result = ReaderWriterCompatibilityChecker().get_compatibility(reader, writer)
        if result.compatibility is SchemaCompatibilityType.compatible:
            continue
        location = ", ".join(sorted(loc for loc in result.locations if loc != "/")) or "/"
        kinds = ", ".join(sorted({i.value for i in result.incompatibilities})) or "incompatible"
        reason = "; ".join(sorted(result.messages)) or kinds
        if "reader_field_missing_default_value" in kinds:
            role = "new" if direction == "BACKWARD" else "registered"
            reason = f"field(s) {reason} of the {role} schema have no default and are missing from the other"
        problems.append(Incompatibility(direction, against_version, kinds, location, reason))  # type: ignore[arg-type]
    return problems


def same_schema(a: str, b: str) -> bool:
    """True if two schema texts are the same schema (the registry may re-serialise what it stores)."""
    return bool(avro.schema.parse(a).to_json() == avro.schema.parse(b).to_json()) and _props(a) == _props(b)


def _props(text: str) -> Any:
    """Docs and custom attributes, namespace-insensitive; `to_json` alone may drop docs."""
    def strip(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: strip(v) for k, v in x.items() if k != "namespace"}
        if isinstance(x, list):
            return [strip(v) for v in x]
        return x
    return strip(json.loads(text))


class RegistryHttp:
    """The few Confluent-API calls `check` needs, over plain HTTP (so the registry's own verdict is visible)."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base = base_url.rstrip("/")
        self.http = httpx.Client(timeout=timeout)

    def _get(self, path: str) -> Any:
        try:
            r = self.http.get(f"{self.base}/{path}")
        except httpx.HTTPError as exc:
            raise RegistryError(f"cannot reach the registry at {self.base}: {exc}") from exc
        if r.status_code == 404:
            return None
        if r.status_code >= 400:
            raise RegistryError(f"GET {path}: registry answered HTTP {r.status_code}: {r.text[:200]}")
        return r.json()

    def versions(self, subject: str) -> list[int]:
        """Registered versions of a subject (empty if the subject does not exist)."""
        return list(self._get(f"subjects/{subject}/versions") or [])

    def version(self, subject: str, version: int | str) -> dict[str, Any]:
        """One registered version: {subject, version, id, schema}."""
        found = self._get(f"subjects/{subject}/versions/{version}")
        if found is None:
            raise RegistryError(f"{subject} has no version {version}")
        return dict(found)

    def rule(self, subject: str) -> str | None:
        """The subject's configured compatibility level (None if only the global default applies)."""
        found = self._get(f"config/{subject}")
        return None if found is None else str(found.get("compatibilityLevel") or found.get("compatibility"))

    def is_compatible(self, subject: str, schema_text: str, transitive: bool) -> bool:
        """The registry's own verdict for registering `schema_text` under `subject`."""
        path = f"compatibility/subjects/{subject}/versions" + ("" if transitive else "/latest")
        try:
            r = self.http.post(f"{self.base}/{path}", json={"schema": schema_text, "schemaType": "AVRO"})
            if r.status_code in (404, 405) and transitive:  # registry without the all-versions endpoint
                r = self.http.post(f"{self.base}/{path}/latest", json={"schema": schema_text, "schemaType": "AVRO"})
        except httpx.HTTPError as exc:
            raise RegistryError(f"cannot reach the registry at {self.base}: {exc}") from exc
        if r.status_code >= 400:
            raise RegistryError(f"POST {path}: registry answered HTTP {r.status_code}: {r.text[:200]}")
        return bool(r.json().get("is_compatible"))

    def close(self) -> None:
        self.http.close()


def check_schema(registry: RegistryHttp, schema: EventSchema, subject: str | None = None) -> SubjectReport:
    """Compare one local schema with its subject under the subject's rule."""
    subject = subject or schema.subject
    versions = registry.versions(subject)
    report = SubjectReport(subject=subject, event_type=schema.name, rule=schema.compatibility, status="new")
    if not versions:
        return report
    report.registry_rule = registry.rule(subject)
    directions, transitive = _directions(schema.compatibility)
    against = versions if transitive else versions[-1:]
    latest = registry.version(subject, versions[-1])
    report.latest_version = int(latest["version"])
    if same_schema(schema.text, latest["schema"]):
        report.status = "unchanged"
        return report
    for v in against:
        old = latest if v == versions[-1] else registry.version(subject, v)
        report.problems.extend(compare(schema.text, old["schema"], schema.compatibility, int(old["version"])))
    report.status = "incompatible" if report.problems else "compatible"
    report.registry_compatible = registry.is_compatible(subject, schema.text, transitive)
    return report


def check_catalog(registry_url: str, catalog: Catalog | None = None) -> list[SubjectReport]:
    """A report per schema of the catalog (sorted by subject)."""
    registry = RegistryHttp(registry_url)
    try:
        return [check_schema(registry, s) for s in sorted(catalog or default_catalog(), key=lambda s: s.subject)]
    finally:
        registry.close()
