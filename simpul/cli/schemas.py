"""`simpul schemas`: put the contract into the registry, check a change against it before it ships, and hand the
.avsc files to a regency's developers (`export`, from the registry they will be checked against)."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from schemas.catalog import AVRO_DIR, FAMILY_ATTRIBUTE, NAMESPACE, Catalog
from schemas.codec import register_all, registry_client
from schemas.compatibility import check_catalog
from schemas.exceptions import RegistryError
from simpul.cli.output import EXIT_ERROR, console, emit, fail_on

app = typer.Typer(help="Avro schemas: register them with their compatibility rules, check changes, export the "
                       ".avsc files.", no_args_is_help=True)

RegistryOption = Annotated[
    str | None, typer.Option("--registry", help="Confluent-compatible registry URL (default: SIMPUL_* settings).")
]
DirOption = Annotated[
    Path, typer.Option("--schemas-dir", help="Folder with Envelope.avsc and <family>/*.avsc.", exists=True, file_okay=False)
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print a JSON report on stdout.")]


def _registry_url(explicit: str | None) -> str:
    if explicit:
        return explicit
    from simpul.settings import load_settings  # the composition root, read only when no URL is given

    return load_settings().registry


@app.command()
def register(registry: RegistryOption = None, schemas_dir: DirOption = AVRO_DIR, as_json: JsonOption = False) -> None:
    """Register every schema under its record-name subject and set the subject's compatibility rule."""
    with fail_on():
        catalog = Catalog.load(schemas_dir)
        regs = register_all(registry_client(_registry_url(registry)), catalog)

    def human() -> None:
        for r in regs:
            typer.echo(f"{r.subject}\tid={r.schema_id}\t{r.compatibility}")
        console.print(f"registered {len(regs)} schemas", highlight=False)

    emit([r.__dict__ for r in regs], as_json, human)


@app.command()
def check(registry: RegistryOption = None, schemas_dir: DirOption = AVRO_DIR, as_json: JsonOption = False) -> None:
    """Compare local schemas with the registry under each subject's rule; exit 1 naming each incompatible change,
    or with the reason when the check could not run (registry unreachable, broken schema files)."""
    with fail_on():
        reports = check_catalog(_registry_url(registry), Catalog.load(schemas_dir))

    failed = [r for r in reports if not r.ok]
    def human() -> None:
        for r in reports:
            verdict = "OK" if r.ok else "INCOMPATIBLE"
            typer.echo(f"{verdict}\t{r.subject}\t{r.status}\trule={r.rule}")
            for p in r.problems:
                typer.echo(f"  {r.subject}: {p}")
            if r.registry_compatible is False:
                typer.echo(f"  {r.subject}: the registry also refuses this change under its rule {r.registry_rule}")
            elif r.status == "incompatible":
                typer.echo(f"  {r.subject}: the registry would accept it (its rule: {r.registry_rule}); ours is {r.rule}")
            if r.registry_rule and r.registry_rule != r.rule:
                console.print(f"warning: {r.subject} has rule {r.registry_rule} in the registry, {r.rule} here; "
                              "run `simpul schemas register`", highlight=False, markup=False)
        console.print(f"{len(reports) - len(failed)} ok, {len(failed)} incompatible", highlight=False)

    emit({"ok": not failed, "subjects": [r.as_dict() for r in reports]}, as_json, human)
    if failed:
        raise typer.Exit(EXIT_ERROR)


_SUBJECT = re.compile(re.escape(NAMESPACE) + r"\.([A-Z][A-Za-z0-9_]*)")
_FAMILY = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class Exported:
    """One schema written by `export`: where from (`registry` with its version and id, or `package`), and where to."""

    subject: str
    file: str
    source: str
    version: int | None = None
    schema_id: int | None = None


def export_schemas(directory: Path, registry: str | None) -> list[Exported]:
    """Write every event schema as `<directory>/<family>/<EventType>.avsc` (indented JSON): the latest version of
    each subject of our namespace in the registry at `registry`, or, with None, the files of the installed
    package. Files of other names in `directory` are left alone; a file of the same name is replaced."""
    written: list[Exported] = []
    if registry is None:
        for schema in Catalog.load(AVRO_DIR):
            target = _write(directory, schema.family, schema.name, schema.definition)
            written.append(Exported(schema.subject, str(target), "package"))
        return written
    client = registry_client(registry)
    try:
        subjects = sorted(s for s in client.get_subjects() if _SUBJECT.fullmatch(s))
    except Exception as exc:  # noqa: BLE001 - the client raises several kinds; all mean "no answer"
        raise RegistryError(f"listing the subjects of {registry} failed: {exc}") from None
    for subject in subjects:
        try:
            latest = client.get_latest_version(subject)
        except Exception as exc:  # noqa: BLE001
            raise RegistryError(f"reading the latest version of {subject} from {registry} failed: {exc}") from None
        if (latest.schema.schema_type or "AVRO") != "AVRO":
            continue
        definition: dict[str, Any] = json.loads(latest.schema.schema_str)
        name, family = str(definition.get("name", "")), str(definition.get(FAMILY_ATTRIBUTE, ""))
        if definition.get("type") != "record" or name != _SUBJECT.fullmatch(subject).group(1):  # type: ignore[union-attr]
            continue
        if not _FAMILY.fullmatch(family):
            console.print(f"warning: skipped {subject} (version {latest.version}): no \"{FAMILY_ATTRIBUTE}\", so "
                          "not one of Simpul's event schemas", highlight=False, markup=False)
            continue
        target = _write(directory, family, name, definition)
        written.append(Exported(subject, str(target), "registry", latest.version, latest.schema_id))
    if not written:
        raise RegistryError(f"{registry} holds no schema of namespace {NAMESPACE}; run `simpul schemas register` "
                            "there, or export the package's with --from-package")
    return written


def _write(directory: Path, family: str, name: str, definition: dict[str, Any]) -> Path:
    target = directory / family / f"{name}.avsc"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(definition, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return target


@app.command()
def export(directory: Annotated[Path, typer.Argument(help="Folder to write <family>/<EventType>.avsc into "
                                                      "(created if missing).", file_okay=False)],
           registry: RegistryOption = None,
           from_package: Annotated[bool, typer.Option("--from-package", help="Write the schemas of this "
                                                      "installation's package instead of the registry's.")] = False,
           as_json: JsonOption = False) -> None:
    """Write every event schema as an .avsc file for a regency's developers: by default the latest version of each
    subject in the registry (what the gatekeeper decodes against), or the package's own files."""
    with fail_on():
        if from_package and registry:
            raise typer.BadParameter("--registry and --from-package exclude each other")
        written = export_schemas(directory, None if from_package else _registry_url(registry))

    def human() -> None:
        for e in written:
            typer.echo(f"{e.file}\t{e.subject}\t" + (f"version={e.version} id={e.schema_id}" if e.version else e.source))
        console.print(f"exported {len(written)} schemas to {directory}", highlight=False)

    emit([asdict(e) for e in written], as_json, human)
