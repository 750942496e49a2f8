"""`simpul schemas`: put the contract into the registry, and check a change against it before it ships."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from schemas.catalog import AVRO_DIR, Catalog
from schemas.codec import register_all, registry_client
from schemas.compatibility import check_catalog
from simpul.cli.output import EXIT_ERROR, console, emit, fail_on

app = typer.Typer(help="Avro schemas: register them with their compatibility rules, check changes.", no_args_is_help=True)

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
