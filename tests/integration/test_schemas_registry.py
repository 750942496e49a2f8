"""The contract against a real Confluent-compatible registry (Apicurio in the local platform).

Subjects that tests change live under a per-test namespace (`id.go.jatengprov.simpul.t<unique>`), so tests never
touch each other's subjects nor the production ones.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

import avro.io
import avro.schema
import httpx
import pytest
from schema_copies import edit, private_catalog
from typer.testing import CliRunner

from schemas.catalog import NAMESPACE, Catalog, event_types
from schemas.codec import AvroCodec, register_all, register_schema, registry_client, unframe
from schemas.compatibility import check_catalog
from schemas.examples import example, examples
from schemas.exceptions import IncompatibleSchema, SchemaNotRegistered
from simpul.cli.schemas import app
from simpul.settings import Settings

pytestmark = pytest.mark.integration


def test_every_schema_registers_and_round_trips(settings: Settings) -> None:
    client = registry_client(settings.registry)
    regs = register_all(client)  # the production subjects; idempotent
    assert sorted(r.event_type for r in regs) == event_types()
    assert {client.get_compatibility(r.subject) for r in regs} == {"FULL_TRANSITIVE"}
    producer, consumer = AvroCodec(client), AvroCodec(registry_client(settings.registry))
    for event_type, event in examples().items():
        data = producer.encode(event)
        assert unframe(data)[0] == next(r.schema_id for r in regs if r.event_type == event_type)
        assert consumer.decode(data) == event
    # registering again changes nothing
    assert [r.schema_id for r in register_all(client)] == [r.schema_id for r in regs]


def test_apache_avro_reads_what_simpul_wrote(settings: Settings) -> None:
    codec = AvroCodec.from_url(settings.registry)
    codec.register_all()
    for event in (example("TourismVisitCount"), example("ServiceRequestCompleted"), example("DisasterReported")):
        data = codec.encode(event)
        schema_id, body = unframe(data)
        writer_text = httpx.get(f"{settings.registry}/schemas/ids/{schema_id}", timeout=10).json()["schema"]
        writer = avro.schema.parse(writer_text)
        record = avro.io.DatumReader(writer).read(avro.io.BinaryDecoder(io.BytesIO(body)))
        expected = event.to_avro()
        assert set(record) == set(expected)
        for name, value in expected.items():
            got = record[name]
            if isinstance(value, datetime):
                assert got.astimezone(UTC) == value, name
            elif isinstance(value, date):
                assert got == value, name
            elif name == "event_id":
                assert str(got) == str(value)
            else:
                assert got == value, name


def test_auto_register_off_refuses_unknown_subjects(settings: Settings, tmp_path: Path, unique: str) -> None:
    catalog = Catalog.load(private_catalog(tmp_path, unique, only=("AirQualityReading",)))
    codec = AvroCodec(registry_client(settings.registry), catalog)
    event = codec.models["AirQualityReading"].model_validate(example("AirQualityReading").model_dump())
    with pytest.raises(SchemaNotRegistered, match="simpul schemas register"):
        codec.encode(event)
    auto = AvroCodec(registry_client(settings.registry), catalog, auto_register=True)
    assert codec.decode(auto.encode(event)) == event


def test_schema_evolution_in_check_and_at_the_registry(settings: Settings, tmp_path: Path, unique: str) -> None:
    runner = CliRunner()
    directory = private_catalog(tmp_path, unique, only=("TourismVisitCount",))
    subject = f"{NAMESPACE}.t{unique}.TourismVisitCount"
    base = ["--registry", settings.registry, "--schemas-dir", str(directory)]

    first = runner.invoke(app, ["register", *base, "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)[0]["subject"] == subject

    # 1. adding an optional field with a default passes, in check and at the registry
    edit(directory, "TourismVisitCount", lambda d: d["fields"].append(
        {"name": "source_note", "type": ["null", "string"], "default": None, "doc": "Where the count comes from."}))
    ok = runner.invoke(app, ["check", *base, "--json"])
    assert ok.exit_code == 0, ok.output
    verdict = json.loads(ok.stdout)["subjects"][0]
    assert (verdict["status"], verdict["registry_compatible"], verdict["ok"]) == ("compatible", True, True)
    client = registry_client(settings.registry)
    v2 = register_schema(client, Catalog.load(directory).get("TourismVisitCount"))
    assert len(client.get_versions(subject)) == 2

    # 2. removing a field without a default fails in check (naming it) and at the registry
    saved = next(directory.glob("*/TourismVisitCount.avsc")).read_text()
    edit(directory, "TourismVisitCount", lambda d: d.update(fields=[f for f in d["fields"] if f["name"] != "visitors"]))
    removed = runner.invoke(app, ["check", *base])
    assert removed.exit_code == 1, removed.output
    assert "INCOMPATIBLE" in removed.stdout and subject in removed.stdout and "visitors" in removed.stdout
    report = check_catalog(settings.registry, Catalog.load(directory))[0]
    assert report.status == "incompatible" and report.registry_compatible is False
    with pytest.raises(IncompatibleSchema, match="visitors"):
        register_schema(client, Catalog.load(directory).get("TourismVisitCount"))

    # 3. changing a type fails in check and at the registry
    next(directory.glob("*/TourismVisitCount.avsc")).write_text(saved)
    edit(directory, "TourismVisitCount", lambda d: next(f for f in d["fields"] if f["name"] == "visitors").update(type="string"))
    retyped = runner.invoke(app, ["check", *base, "--json"])
    assert retyped.exit_code == 1
    verdict = json.loads(retyped.stdout)["subjects"][0]
    assert verdict["registry_compatible"] is False
    assert {p["kind"] for p in verdict["problems"]} == {"type_mismatch"}
    assert any("visitors" in p["location"] or "/fields/" in p["location"] for p in verdict["problems"])
    with pytest.raises(IncompatibleSchema):
        register_schema(client, Catalog.load(directory).get("TourismVisitCount"))
    assert len(client.get_versions(subject)) == 2 and v2.schema_id


def test_check_reports_new_and_unchanged_subjects(settings: Settings, tmp_path: Path, unique: str) -> None:
    directory = private_catalog(tmp_path, unique, only=("ComplaintFiled", "HealthFacilityVisit"))
    catalog = Catalog.load(directory)
    assert {r.status for r in check_catalog(settings.registry, catalog)} == {"new"}
    register_all(registry_client(settings.registry), catalog)
    reports = check_catalog(settings.registry, catalog)
    assert {r.status for r in reports} == {"unchanged"} and all(r.ok for r in reports)
    assert {r.registry_rule for r in reports} == {"FULL_TRANSITIVE"}
