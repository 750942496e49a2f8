"""Schema evolution of the roads and public works subjects, at the real registry (Apicurio, FULL_TRANSITIVE): a
compatible change (an optional field with a default, a channel symbol behind the enum's default) registers as a
new version; an incompatible one (a required field removed, a type changed, a symbol added to an enum without a
default) is refused by `simpul schemas check` naming the field and by the registry. The subjects live under this
test's own namespace, so the production ones are never touched."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from schema_copies import edit, private_catalog
from typer.testing import CliRunner

from schemas.catalog import NAMESPACE, Catalog, schema_of
from schemas.codec import register_schema, registry_client
from schemas.exceptions import IncompatibleSchema
from simpul.cli.schemas import app
from simpul.settings import Settings

pytestmark = pytest.mark.integration

TYPES = ("RoadDamageReported", "RoadDamageHandled", "PublicWorksProgress")


def _field(d: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in d["fields"] if f["name"] == name)


COMPATIBLE: dict[str, Callable[[dict[str, Any]], None]] = {
    "RoadDamageReported": lambda d: _field(d, "channel")["type"]["symbols"].insert(4, "WHATSAPP"),
    "RoadDamageHandled": lambda d: d["fields"].append(
        {"name": "crew_id", "type": ["null", "string"], "default": None, "doc": "Field crew (BPJ unit) code."}),
    "PublicWorksProgress": lambda d: d["fields"].append(
        {"name": "addendum", "type": ["null", "string"], "default": None, "doc": "Number of the latest addendum."}),
}
INCOMPATIBLE: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {  # the change, what the check names
    "RoadDamageReported": (lambda d: d.update(fields=[f for f in d["fields"] if f["name"] != "latitude"]), "latitude"),
    "RoadDamageHandled": (lambda d: _field(d, "action")["type"]["symbols"].append("INSPECTED"), "INSPECTED"),
    "PublicWorksProgress": (lambda d: _field(d, "payment_pct").update(type="string"),  # named by its position
                            f"/fields/{[f['name'] for f in schema_of('PublicWorksProgress').fields].index('payment_pct')}/type"),
}


def test_infrastructure_subjects_evolve_only_compatibly(settings: Settings, tmp_path: Path, unique: str) -> None:
    runner = CliRunner()
    directory = private_catalog(tmp_path, unique, TYPES)
    base = ["--registry", settings.registry, "--schemas-dir", str(directory)]
    first = runner.invoke(app, ["register", *base, "--json"])
    assert first.exit_code == 0, first.output
    assert sorted(r["subject"] for r in json.loads(first.stdout)) == sorted(f"{NAMESPACE}.t{unique}.{t}" for t in TYPES)
    client = registry_client(settings.registry)
    assert {client.get_compatibility(f"{NAMESPACE}.t{unique}.{t}") for t in TYPES} == {"FULL_TRANSITIVE"}

    for event_type, change in COMPATIBLE.items():
        edit(directory, event_type, change)
    ok = runner.invoke(app, ["check", *base, "--json"])
    assert ok.exit_code == 0, ok.output
    assert {(v["status"], v["registry_compatible"]) for v in json.loads(ok.stdout)["subjects"]} == {("compatible", True)}
    for event_type in TYPES:
        register_schema(client, Catalog.load(directory).get(event_type))
        assert len(client.get_versions(f"{NAMESPACE}.t{unique}.{event_type}")) == 2

    for event_type, (change, name) in INCOMPATIBLE.items():
        path = next(directory.glob(f"*/{event_type}.avsc"))
        saved = path.read_text()
        edit(directory, event_type, change)
        refused = runner.invoke(app, ["check", *base])
        assert refused.exit_code == 1, refused.output
        assert "INCOMPATIBLE" in refused.stdout and f"t{unique}.{event_type}" in refused.stdout
        assert name in refused.stdout, refused.stdout
        with pytest.raises(IncompatibleSchema):
            register_schema(client, Catalog.load(directory).get(event_type))
        assert len(client.get_versions(f"{NAMESPACE}.t{unique}.{event_type}")) == 2
        path.write_text(saved)
