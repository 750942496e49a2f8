"""Markdown building blocks of docs/contract.md: tables, code blocks, anchors, and Avro fields as people read them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from schemas.catalog import EventSchema


def cell(text: object) -> str:
    """One table cell: on one line, with its pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    """A Markdown table and the blank line after it."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return lines + [""]


def code_block(language: str, text: str) -> list[str]:
    """A fenced code block and the blank line after it."""
    return [f"```{language}", text.rstrip("\n"), "```", ""]


def anchor(title: str) -> str:
    """The anchor GitHub gives a heading."""
    return "".join(ch for ch in title.lower().replace(" ", "-") if ch.isalnum() or ch in "-_")


def _named_types(schema: Any, found: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    if isinstance(schema, list):
        for branch in schema:
            _named_types(branch, found)
    elif isinstance(schema, dict):
        if schema.get("type") in ("enum", "record", "fixed") and "name" in schema:
            found.setdefault(schema["name"], schema)
        for key in ("fields",):
            for f in schema.get(key, []):
                _named_types(f["type"], found)
        for key in ("items", "values"):
            if key in schema:
                _named_types(schema[key], found)
    return found


def type_text(avro: Any) -> str:
    """`string (uuid)`, `long (timestamp-millis)`, `enum ServiceChannel`, `string or null`, `array of string`."""
    if isinstance(avro, str):
        return avro
    if isinstance(avro, list):
        others = [b for b in avro if b != "null"]
        text = " or ".join(type_text(b) for b in others)
        return f"{text} or null" if len(others) < len(avro) else text
    kind = avro.get("type")
    if "logicalType" in avro:
        return f"{type_text(kind)} ({avro['logicalType']})"
    if kind in ("enum", "record", "fixed"):
        return f"{kind} {avro['name']}"
    if kind == "array":
        return f"array of {type_text(avro['items'])}"
    if kind == "map":
        return f"map of {type_text(avro['values'])}"
    return type_text(kind)


def _enums_of(avro: Any, named: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(avro, str):
        found = named.get(avro.rsplit(".", 1)[-1])
        return [found] if found and found.get("type") == "enum" else []
    if isinstance(avro, list):
        return [e for b in avro for e in _enums_of(b, named)]
    if isinstance(avro, dict) and avro.get("type") == "enum":
        return [avro]
    if isinstance(avro, dict) and avro.get("type") == "array":
        return _enums_of(avro["items"], named)
    return []


def _requirement(field: dict[str, Any]) -> str:
    if "default" not in field:
        return "required"
    if field["default"] is None:
        return "optional (null)"
    return f"optional (default `{json.dumps(field['default'], ensure_ascii=False)}`)"


_REFERENCES = {
    "regencies": "one of the 35 regency codes",
    "services": "a service code of the standards catalog",
    "commodities": "a commodity code",
}


def _field_doc(field: dict[str, Any], named: dict[str, dict[str, Any]]) -> str:
    parts: list[str] = []
    if field.get("simpul.pii") == "nik":
        nullable = isinstance(field["type"], list) and "null" in field["type"]
        parts.append(f"**Personal data (NIK): a clear 16-digit NIK{' or null' if nullable else ''} on ingress, "
                     "nothing else (a token-shaped value is rejected as `invalid_event`); the gatekeeper replaces it "
                     "with a keyed token `nik:<43 characters>` before any canonical topic.**")
    parts.append(str(field.get("doc", "")).strip())
    for enum in _enums_of(field["type"], named):
        symbols = ", ".join(f"`{s}`" for s in enum["symbols"])
        default = f" (readers' default `{enum['default']}`)" if "default" in enum else ""
        parts.append(f"Values: {symbols}{default}.")
    rules: list[str] = []
    if "simpul.reference" in field:
        rules.append(_REFERENCES.get(field["simpul.reference"], f"reference {field['simpul.reference']}"))
    if "simpul.unit" in field:
        rules.append(f"unit {field['simpul.unit']}")
    if "simpul.minimum" in field:
        rules.append(f"minimum {field['simpul.minimum']}")
    if "simpul.maximum" in field:
        rules.append(f"maximum {field['simpul.maximum']}")
    if "simpul.minLength" in field:
        rules.append(f"at least {field['simpul.minLength']} character(s)")
    if "simpul.pattern" in field:
        rules.append(f"pattern `{field['simpul.pattern']}`")
    if rules:
        parts.append("Rules: " + "; ".join(rules) + ".")
    return " ".join(p for p in parts if p)


def field_rows(schema: EventSchema, *, skip: int = 0) -> list[list[str]]:
    """One table row per field: name, type, required/default, documentation (with enum values and rules)."""
    named = _named_types(schema.definition, {})
    return [[f"`{f['name']}`", type_text(f["type"]), _requirement(f), _field_doc(f, named)]
            for f in schema.fields[skip:]]
