"""What both documents read from the code: the version, the enums' member docs, the JSON record models, the topic
names with a dimension left open, and values in the form a reader sees them."""

from __future__ import annotations

import ast
import importlib.metadata
import inspect
import tomllib
from collections.abc import Mapping
from datetime import UTC, date, datetime
from enum import Enum
from pathlib import Path
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from schemas import outcomes
from topics.catalog import load_catalog

REPO_ROOT = Path(__file__).resolve().parents[1]


def package_version() -> str:
    """The project's version: pyproject.toml of this checkout, else the installed distribution's metadata."""
    pyproject = REPO_ROOT / "pyproject.toml"
    if pyproject.exists():
        version = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {}).get("version")
        if version:
            return str(version)
    try:
        return importlib.metadata.version("simpul")
    except importlib.metadata.PackageNotFoundError:
        return "0.0.0"


def member_docs(enum_cls: type[Enum]) -> dict[str, str]:
    """The docstring written under each member of an enum (Python keeps none at runtime, so read the source)."""
    tree = ast.parse(inspect.getsource(inspect.getmodule(enum_cls) or outcomes))
    docs: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == enum_cls.__name__:
            body = node.body
            for stmt, nxt in zip(body, body[1:] + [None], strict=True):
                if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
                        and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant)
                        and isinstance(nxt.value.value, str)):
                    member = enum_cls[stmt.targets[0].id]
                    docs[str(member.value)] = " ".join(nxt.value.value.split())
    return docs


def duration_text(ms: int) -> str:
    """7 days, 12 hours, forever: a retention as people read it."""
    if ms < 0:
        return "forever"
    for unit, size in (("day", 86_400_000), ("hour", 3_600_000), ("minute", 60_000), ("second", 1_000)):
        if ms >= size and ms % size == 0:
            n = ms // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{ms} ms"


def topic_pattern(prefix: str, role: str, placeholder: str) -> str:
    """A role's topic name with its dimension left open, e.g. `jateng.ingress.<regency_code>`: the catalog's own
    template, so no document spells a topic name by hand."""
    template = next(t for t in load_catalog().topics if t.role == role)
    return f"{prefix}.{template.name.format(**{d: placeholder for d in template.dimensions})}"


def avro_json_value(value: Any) -> Any:
    """A model value as the Avro datum's JSON form: timestamp-millis as epoch ms, date as days, uuid as text."""
    if isinstance(value, datetime):
        return int(round(value.astimezone(UTC).timestamp() * 1000))
    if isinstance(value, date):
        return (value - date(1970, 1, 1)).days
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {k: avro_json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [avro_json_value(v) for v in value]
    return value


def derived_record_models() -> dict[str, type[BaseModel]]:
    """The pydantic models of the JSON records written on the bus (`Alert`, `Aggregate`, the ops `AuditEntry`), from
    the contract (schemas/records.py, schemas/audit.py), so the document cannot drift from them."""
    from schemas.audit import AuditEntry
    from schemas.records import Aggregate, Alert

    return {"Alert": Alert, "Aggregate": Aggregate, "AuditEntry": AuditEntry}


def record_json_schema(model: type[BaseModel], shared: dict[str, Any]) -> dict[str, Any]:
    """A model's JSON Schema with its nested definitions moved to `shared` (components.schemas)."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in schema.pop("$defs", {}).items():
        shared[name] = definition
    return schema
