"""`simpul schemas export DIR`: the .avsc files a regency's developers need, from the registry (by default) or from the
installed package, as `<family>/<EventType>.avsc` that read back as the same schemas."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from schemas.catalog import AVRO_DIR, Catalog
from schemas.codec import AvroCodec, registry_client
from simpul.cli import app
from simpul.settings import Settings


def test_export_from_the_registry_writes_its_latest_version_of_every_subject(settings: Settings, tmp_path: Path) -> None:
    AvroCodec.from_url(settings.registry).register_all()  # the package's schemas are registered (as `up` does)
    result = CliRunner().invoke(app, ["schemas", "export", str(tmp_path / "out"), "--registry", settings.registry,
                                      "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    package = Catalog.load(AVRO_DIR)
    assert {r["subject"] for r in report} >= {s.subject for s in package}
    client = registry_client(settings.registry)
    for r in report:
        latest = client.get_latest_version(r["subject"])
        assert (r["source"], r["version"], r["schema_id"]) == ("registry", latest.version, latest.schema_id)
        assert json.loads(Path(r["file"]).read_text()) == json.loads(latest.schema.schema_str)
    for schema in package:
        assert (tmp_path / "out" / schema.family / f"{schema.name}.avsc").is_file()


def test_export_from_the_package_writes_its_files_and_they_load_as_a_catalog(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["schemas", "export", str(tmp_path), "--from-package", "--json"])
    assert result.exit_code == 0, result.output
    package = Catalog.load(AVRO_DIR)
    assert {r["source"] for r in json.loads(result.stdout)} == {"package"}
    exported = Catalog.load(tmp_path)
    assert exported.event_types() == package.event_types()
    for schema in package:
        assert exported.get(schema.name).definition == schema.definition


def test_export_names_an_unreachable_registry(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["schemas", "export", str(tmp_path), "--registry", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "127.0.0.1:9" in result.output and "error:" in result.output
