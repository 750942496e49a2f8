"""The local compatibility checker (Apache avro) under each rule."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from schemas.catalog import schema_of
from schemas.compatibility import SubjectReport, compare, same_schema

BASE = schema_of("TourismVisitCount").text


def evolve(change: Callable[[dict[str, Any]], None]) -> str:
    d = json.loads(BASE)
    change(d)
    return json.dumps(d)


def add_optional(d: dict[str, Any]) -> None:
    d["fields"].append({"name": "note", "type": ["null", "string"], "default": None, "doc": "A note."})


def add_required(d: dict[str, Any]) -> None:
    d["fields"].append({"name": "note", "type": "string", "doc": "A note."})


def remove_visitors(d: dict[str, Any]) -> None:  # `visitors` has no default
    d["fields"] = [f for f in d["fields"] if f["name"] != "visitors"]


def retype_visitors(d: dict[str, Any]) -> None:
    next(f for f in d["fields"] if f["name"] == "visitors")["type"] = "string"


def add_enum_symbol(d: dict[str, Any]) -> None:
    next(f for f in d["fields"] if f["name"] == "granularity")["type"]["symbols"].append("YEAR")


@pytest.mark.parametrize("rule", ["BACKWARD", "FULL", "FULL_TRANSITIVE"])
def test_adding_an_optional_field_with_default_passes(rule: str) -> None:
    assert compare(evolve(add_optional), BASE, rule) == []


def test_adding_a_required_field_breaks_backward() -> None:
    problems = compare(evolve(add_required), BASE, "BACKWARD")
    assert [p.direction for p in problems] == ["BACKWARD"]
    assert "note" in problems[0].reason and "no default" in problems[0].reason


def test_removing_a_field_without_default_breaks_forward_hence_full() -> None:
    assert compare(evolve(remove_visitors), BASE, "BACKWARD") == []  # a new reader simply ignores it
    problems = compare(evolve(remove_visitors), BASE, "FULL_TRANSITIVE", against_version=3)
    assert [p.direction for p in problems] == ["FORWARD"]
    p = problems[0]
    assert p.kind == "reader_field_missing_default_value" and "visitors" in p.reason
    assert "/fields/" in p.location and "v3" in str(p)


@pytest.mark.parametrize("rule,directions", [("BACKWARD", ["BACKWARD"]), ("FULL", ["BACKWARD", "FORWARD"])])
def test_changing_a_type_fails(rule: str, directions: list[str]) -> None:
    problems = compare(evolve(retype_visitors), BASE, rule)
    assert [p.direction for p in problems] == directions
    assert all(p.kind == "type_mismatch" and "string" in p.reason for p in problems)


def test_new_enum_symbol_without_enum_default_breaks_forward() -> None:
    problems = compare(evolve(add_enum_symbol), BASE, "FULL")
    assert [p.direction for p in problems] == ["FORWARD"]
    assert "YEAR" in p.reason if (p := problems[0]) else False


def test_same_schema_ignores_registry_reserialisation_but_not_docs() -> None:
    reserialised = json.dumps(json.loads(BASE), indent=1)
    assert same_schema(BASE, reserialised)
    assert not same_schema(BASE, evolve(lambda d: d.update(doc="other")))
    assert not same_schema(BASE, evolve(add_optional))


def test_report_ok_needs_both_verdicts() -> None:
    r = SubjectReport(subject="s", event_type="E", rule="FULL", status="compatible", registry_compatible=False)
    assert not r.ok
    assert SubjectReport(subject="s", event_type="E", rule="FULL", status="new").as_dict()["ok"] is True
