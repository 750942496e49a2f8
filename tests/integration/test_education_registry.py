"""The SPMB subjects at a real registry (Apicurio): they register under FULL_TRANSITIVE and round-trip; a
compatible change (an optional field with a default) is accepted as a new version, an incompatible one (a seat
count removed, a new route symbol old readers cannot read) is refused by `simpul schemas check` and at the
registry. Each test works under its own namespace, never on the production subjects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from schema_copies import edit, private_catalog
from typer.testing import CliRunner

from schemas.catalog import NAMESPACE, Catalog
from schemas.codec import AvroCodec, register_all, register_schema, registry_client
from schemas.examples import example
from schemas.exceptions import IncompatibleSchema
from simpul.cli.schemas import app
from simpul.settings import Settings

pytestmark = pytest.mark.integration

SUBJECTS = ("SchoolAdmissionApplied", "SchoolAdmissionDecided", "SchoolQuotaPublished")


def test_spmb_subjects_register_round_trip_and_evolve_only_compatibly(settings: Settings, tmp_path: Path,
                                                                      unique: str) -> None:
    runner = CliRunner()
    directory = private_catalog(tmp_path, unique, SUBJECTS)
    client = registry_client(settings.registry)
    catalog = Catalog.load(directory)
    regs = register_all(client, catalog)
    assert sorted(r.event_type for r in regs) == sorted(SUBJECTS)
    assert {client.get_compatibility(r.subject) for r in regs} == {"FULL_TRANSITIVE"}
    codec = AvroCodec(client, catalog)
    for event_type in SUBJECTS:
        event = codec.models[event_type].model_validate(example(event_type).model_dump())
        assert codec.decode(codec.encode(event)) == event
    base = ["--registry", settings.registry, "--schemas-dir", str(directory)]

    # compatible: an optional field with a default, on every subject
    for event_type in SUBJECTS:
        edit(directory, event_type, lambda d: d["fields"].append(
            {"name": "operator_note", "type": ["null", "string"], "default": None, "doc": "A note of the operator."}))
    ok = runner.invoke(app, ["check", *base, "--json"])
    assert ok.exit_code == 0, ok.output
    assert {(v["status"], v["registry_compatible"]) for v in json.loads(ok.stdout)["subjects"]} == {
        ("compatible", True)}
    for event_type in SUBJECTS:
        register_schema(client, Catalog.load(directory).get(event_type))
        assert len(client.get_versions(f"{NAMESPACE}.t{unique}.{event_type}")) == 2

    # incompatible: a seat count removed (old readers need it), a route symbol added (closed enum)
    edit(directory, "SchoolQuotaPublished",
         lambda d: d.update(fields=[f for f in d["fields"] if f["name"] != "seats_mutasi"]))
    edit(directory, "SchoolAdmissionDecided",
         lambda d: next(f for f in d["fields"] if f["name"] == "route")["type"]["symbols"].append("ANAK_GURU"))
    refused = runner.invoke(app, ["check", *base, "--json"])
    assert refused.exit_code == 1, refused.output
    verdicts = {v["event_type"]: v for v in json.loads(refused.stdout)["subjects"]}
    assert not verdicts["SchoolQuotaPublished"]["ok"] and not verdicts["SchoolAdmissionDecided"]["ok"]
    assert verdicts["SchoolAdmissionApplied"]["ok"]
    assert any("seats_mutasi" in p["reason"] for p in verdicts["SchoolQuotaPublished"]["problems"])
    assert any("ANAK_GURU" in p["reason"] for p in verdicts["SchoolAdmissionDecided"]["problems"])
    changed = Catalog.load(directory)
    for event_type in ("SchoolQuotaPublished", "SchoolAdmissionDecided"):
        with pytest.raises(IncompatibleSchema):
            register_schema(client, changed.get(event_type))
        assert len(client.get_versions(f"{NAMESPACE}.t{unique}.{event_type}")) == 2
