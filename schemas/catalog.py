"""The event-type catalog: every `.avsc` under schemas/avro/<family>/, parsed and checked once.

An event type is the record's short name (e.g. `ServiceRequestSubmitted`); its registry subject is the full name
(RecordNameStrategy), so several event types can share one `events.<family>` topic.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any, Literal

import fastavro
import yaml

from schemas.exceptions import CatalogError, UnknownEventType

AVRO_DIR = Path(__file__).resolve().parent / "avro"
NAMESPACE = "id.go.jatengprov.simpul"
FAMILIES: tuple[str, ...] = ("governance", "living", "economy", "environment", "society", "branding")
ENVELOPE_FIELDS: tuple[str, ...] = ("event_id", "regency_code", "source_system", "occurred_at", "case_id")

Compatibility = Literal["BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE"]
# "BACKWARD or stricter": every allowed rule includes the backward check.
ALLOWED_RULES: tuple[str, ...] = ("BACKWARD", "BACKWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE")

PII_ATTRIBUTE = "simpul.pii"
REFERENCE_ATTRIBUTE = "simpul.reference"
FAMILY_ATTRIBUTE = "simpul.family"


@dataclass(frozen=True)
class EventSchema:
    """One event type: its Avro definition as written, the parsed form fastavro uses, and catalog metadata."""

    name: str
    family: str
    path: Path
    definition: dict[str, Any]
    compatibility: str

    @property
    def event_type(self) -> str:
        """The event type, i.e. the record's short name."""
        return self.name

    @property
    def full_name(self) -> str:
        """Namespace-qualified record name."""
        return f"{self.definition.get('namespace', NAMESPACE)}.{self.name}"

    @property
    def subject(self) -> str:
        """Registry subject (RecordNameStrategy: the record full name)."""
        return self.full_name

    @cached_property
    def text(self) -> str:
        """The schema as registered: compact JSON of the file, docs and `simpul.*` attributes included."""
        return json.dumps(self.definition, separators=(",", ":"), ensure_ascii=False)

    @cached_property
    def parsed(self) -> dict[str, Any]:
        """fastavro's parsed schema (used as writer and reader schema by the codec)."""
        return fastavro.parse_schema(json.loads(self.text), named_schemas={})  # type: ignore[no-any-return]

    @property
    def fields(self) -> list[dict[str, Any]]:
        """The record's field definitions, envelope first."""
        return list(self.definition["fields"])

    @property
    def doc(self) -> str:
        """The record's documentation."""
        return str(self.definition.get("doc", ""))

    @cached_property
    def nik_fields(self) -> tuple[str, ...]:
        """Fields that hold a NIK (`"simpul.pii": "nik"`); the gatekeeper tokenises these."""
        return tuple(f["name"] for f in self.fields if f.get(PII_ATTRIBUTE) == "nik")


def _load_rules(directory: Path) -> tuple[str, dict[str, str]]:
    path = directory / "compatibility.yaml"
    if not path.exists():
        return "FULL_TRANSITIVE", {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    default = str(data.get("default", "FULL_TRANSITIVE")).upper()
    subjects = {str(k): str(v).upper() for k, v in (data.get("subjects") or {}).items()}
    for where, rule in [("default", default), *subjects.items()]:
        if rule not in ALLOWED_RULES:
            raise CatalogError(f"{path}: {where} has rule {rule!r}; use one of {', '.join(ALLOWED_RULES)} (BACKWARD or stricter)")
    return default, subjects


def _check_field_docs(schema: Any, where: str) -> None:
    """Every record field and named type must say what it means."""
    if isinstance(schema, list):
        for branch in schema:
            _check_field_docs(branch, where)
    elif isinstance(schema, dict):
        kind = schema.get("type")
        if kind == "record":
            for f in schema["fields"]:
                if not str(f.get("doc", "")).strip():
                    raise CatalogError(f"{where}: field {f['name']!r} has no `doc`; document every field")
                _check_field_docs(f["type"], f"{where}.{f['name']}")
        elif kind in ("array",):
            _check_field_docs(schema["items"], where)
        elif kind in ("map",):
            _check_field_docs(schema["values"], where)


class Catalog:
    """All event schemas of one schema directory, by event type."""

    def __init__(self, schemas: list[EventSchema], envelope: dict[str, Any] | None = None) -> None:
        self._by_name: dict[str, EventSchema] = {}
        for s in schemas:
            if s.name in self._by_name:
                raise CatalogError(f"event type {s.name} is defined twice: {self._by_name[s.name].path} and {s.path}")
            self._by_name[s.name] = s
        self._by_full = {s.full_name: s for s in schemas}
        self.envelope = envelope

    @classmethod
    def load(cls, directory: Path | str = AVRO_DIR) -> Catalog:
        """Read `<directory>/Envelope.avsc` and `<directory>/<family>/*.avsc`, and check the catalog rules."""
        directory = Path(directory)
        envelope_path = directory / "Envelope.avsc"
        envelope = _read_json(envelope_path) if envelope_path.exists() else None
        default_rule, rules = _load_rules(directory)
        schemas: list[EventSchema] = []
        for path in sorted(directory.glob("*/*.avsc")):
            family = path.parent.name
            definition = _read_json(path)
            schemas.append(_check(path, family, definition, envelope, rules.get(_full(definition), default_rule)))
        if not schemas:
            raise CatalogError(f"no schemas under {directory}/<family>/*.avsc")
        return cls(schemas, envelope)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def __contains__(self, event_type: object) -> bool:
        return event_type in self._by_name or event_type in self._by_full

    def event_types(self) -> list[str]:
        """Every event type, sorted."""
        return sorted(self._by_name)

    def get(self, event_type: str) -> EventSchema:
        """The schema of an event type, by short or full name."""
        found = self._by_name.get(event_type) or self._by_full.get(event_type)
        if found is None:
            raise UnknownEventType(event_type, self.event_types())
        return found

    def by_family(self) -> dict[str, list[str]]:
        """Event types per family (every family present, possibly empty)."""
        out: dict[str, list[str]] = {f: [] for f in FAMILIES}
        for s in self:
            out.setdefault(s.family, []).append(s.name)
        return {f: sorted(v) for f, v in out.items()}


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CatalogError(f"cannot read Avro schema {path}: {exc}") from exc
    if not isinstance(data, dict) or data.get("type") != "record":
        raise CatalogError(f"{path}: an event schema must be one Avro record")
    return data


def _full(definition: dict[str, Any]) -> str:
    return f"{definition.get('namespace', '')}.{definition.get('name', '')}"


def _check(path: Path, family: str, definition: dict[str, Any], envelope: dict[str, Any] | None, rule: str) -> EventSchema:
    name = definition.get("name", "")
    if path.stem != name:
        raise CatalogError(f"{path}: file name must be the record name ({name}.avsc)")
    ns = str(definition.get("namespace", ""))
    if ns != NAMESPACE and not ns.startswith(NAMESPACE + "."):
        raise CatalogError(f"{path}: namespace {ns!r} is outside the root namespace {NAMESPACE}")
    if family not in FAMILIES:
        raise CatalogError(f"{path}: folder {family!r} is not a family; use one of {', '.join(FAMILIES)}")
    if definition.get(FAMILY_ATTRIBUTE) != family:
        raise CatalogError(f"{path}: record must carry \"{FAMILY_ATTRIBUTE}\": \"{family}\" (its folder)")
    if not str(definition.get("doc", "")).strip():
        raise CatalogError(f"{path}: record {name} has no `doc`")
    _check_field_docs(definition, name)
    fields = [f["name"] for f in definition["fields"]]
    if tuple(fields[: len(ENVELOPE_FIELDS)]) != ENVELOPE_FIELDS:
        raise CatalogError(f"{path}: the first fields must be the envelope {', '.join(ENVELOPE_FIELDS)}; found {fields[:5]}")
    if envelope is not None:
        for expected, actual in zip(envelope["fields"], definition["fields"], strict=False):
            if expected != actual:
                raise CatalogError(
                    f"{path}: envelope field {expected['name']!r} differs from schemas/avro/Envelope.avsc; copy it exactly"
                )
    schema = EventSchema(name=name, family=family, path=path, definition=definition, compatibility=rule)
    try:
        schema.parsed  # noqa: B018 - parse now so a broken file fails at load, not at first use
    except Exception as exc:  # fastavro raises several types (SchemaParseException, ValueError, KeyError)
        raise CatalogError(f"{path}: not a valid Avro schema: {exc}") from exc
    return schema


@cache
def default_catalog() -> Catalog:
    """The catalog shipped in this package (loaded once)."""
    return Catalog.load(AVRO_DIR)


def event_types() -> list[str]:
    """Every event type of the shipped catalog."""
    return default_catalog().event_types()


def schema_of(event_type: str) -> EventSchema:
    """The schema of an event type (short or full name)."""
    return default_catalog().get(event_type)


def family_of(event_type: str) -> str:
    """The family of an event type; events route to `events.<family>`."""
    return schema_of(event_type).family


def event_types_by_family() -> dict[str, list[str]]:
    """Event types per family, every family present."""
    return default_catalog().by_family()


def nik_fields(event_type: str) -> tuple[str, ...]:
    """Names of the fields holding a NIK in this event type (possibly empty)."""
    return schema_of(event_type).nik_fields


def subject_of(event_type: str) -> str:
    """Registry subject of an event type."""
    return schema_of(event_type).subject
