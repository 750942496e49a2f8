"""Schema evolution of the SPMB subjects under their rule (FULL_TRANSITIVE), with the local checker: an optional
field with a default passes; a required field, a removed field without default, a retyped field and a new route
symbol (closed enum, no default) are refused, each naming what breaks."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from schemas.catalog import schema_of
from schemas.compatibility import compare

SUBJECTS = ("SchoolAdmissionApplied", "SchoolAdmissionDecided", "SchoolQuotaPublished")


def evolve(event_type: str, change: Callable[[dict[str, Any]], None]) -> str:
    d = json.loads(schema_of(event_type).text)
    change(d)
    return json.dumps(d)


def field(d: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in d["fields"] if f["name"] == name)


@pytest.mark.parametrize("event_type", SUBJECTS)
def test_the_subject_is_full_transitive_in_the_society_family(event_type: str) -> None:
    s = schema_of(event_type)
    assert (s.compatibility, s.family, s.subject) == ("FULL_TRANSITIVE", "society",
                                                      f"id.go.jatengprov.simpul.{event_type}")


@pytest.mark.parametrize("event_type", SUBJECTS)
def test_an_optional_field_with_a_default_passes(event_type: str) -> None:
    new = evolve(event_type, lambda d: d["fields"].append(
        {"name": "note", "type": ["null", "string"], "default": None, "doc": "A note."}))
    assert compare(new, schema_of(event_type).text, "FULL_TRANSITIVE", against_version=1) == []


@pytest.mark.parametrize("event_type", SUBJECTS)
def test_a_required_field_is_refused(event_type: str) -> None:
    new = evolve(event_type, lambda d: d["fields"].append({"name": "note", "type": "string", "doc": "A note."}))
    problems = compare(new, schema_of(event_type).text, "FULL_TRANSITIVE", against_version=1)
    assert [p.direction for p in problems] == ["BACKWARD"] and "note" in problems[0].reason


@pytest.mark.parametrize(("event_type", "name"), [("SchoolAdmissionApplied", "route"),
                                                  ("SchoolAdmissionDecided", "decided_at"),
                                                  ("SchoolQuotaPublished", "seats_prestasi")])
def test_removing_a_field_without_default_is_refused(event_type: str, name: str) -> None:
    new = evolve(event_type, lambda d: d.update(fields=[f for f in d["fields"] if f["name"] != name]))
    problems = compare(new, schema_of(event_type).text, "FULL_TRANSITIVE", against_version=1)
    assert [p.direction for p in problems] == ["FORWARD"] and name in problems[0].reason


def test_retyping_seats_is_refused_both_ways() -> None:
    new = evolve("SchoolQuotaPublished", lambda d: field(d, "seats_domisili").update(type="string"))
    problems = compare(new, schema_of("SchoolQuotaPublished").text, "FULL_TRANSITIVE", against_version=1)
    assert [p.direction for p in problems] == ["BACKWARD", "FORWARD"]
    assert all(p.kind == "type_mismatch" for p in problems)


def test_a_new_route_symbol_is_refused_since_old_readers_have_no_default() -> None:
    new = evolve("SchoolAdmissionDecided", lambda d: field(d, "route")["type"]["symbols"].append("ANAK_GURU"))
    problems = compare(new, schema_of("SchoolAdmissionDecided").text, "FULL_TRANSITIVE", against_version=1)
    assert [p.direction for p in problems] == ["FORWARD"] and "ANAK_GURU" in problems[0].reason
