"""`simpul docs`: generate the contract documents (docs/contract.md, docs/asyncapi.yaml), or check they are current."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated

import typer

import topics
from contract.addresses import Addresses
from simpul.cli.output import console, emit
from simpul.settings import Settings
from topics.catalog import load_catalog

app = typer.Typer(help="Contract documents: docs/contract.md and docs/asyncapi.yaml.", no_args_is_help=True)

REPO_ROOT = Path(topics.__file__).resolve().parents[1]
CONTRACT_MD = Path("docs/contract.md")
ASYNCAPI_YAML = Path("docs/asyncapi.yaml")
EXIT_STALE = 1


@app.callback()
def docs() -> None:
    """Contract documents: docs/contract.md and docs/asyncapi.yaml, generated from the contract."""


@dataclass(frozen=True)
class DocFile:
    """One generated document: where it lives (relative to the repository) and whether it is current."""

    path: str
    status: str  # "current" | "stale" | "missing" | "written"


def local_addresses() -> Addresses:
    """The local platform's addresses as the settings' defaults give them, whatever this process's environment
    says, so that the documents are the same on every machine."""
    defaults = Settings.model_construct()
    return Addresses(kafka_bootstrap=defaults.kafka.bootstrap, registry_url=defaults.registry,
                     gateway_url=f"http://{defaults.gateway_host}:{defaults.gateway_port}")


def rendered(prefix: str | None = None) -> dict[Path, str]:
    """Every generated document by its path relative to the repository root (default: the catalog's prefix)."""
    from contract.asyncapi import render_asyncapi_yaml
    from contract.markdown import render_contract_md

    prefix = load_catalog().default_prefix if prefix is None else prefix
    addresses = local_addresses()
    return {CONTRACT_MD: render_contract_md(prefix, addresses), ASYNCAPI_YAML: render_asyncapi_yaml(prefix, addresses)}


def compare(root: Path | None = None, prefix: str | None = None) -> list[DocFile]:
    """Each document's state on disk compared with what the generator renders now."""
    root = REPO_ROOT if root is None else root
    result = []
    for rel, text in rendered(prefix).items():
        path = root / rel
        if not path.exists():
            status = "missing"
        else:
            status = "current" if path.read_text(encoding="utf-8") == text else "stale"
        result.append(DocFile(str(rel), status))
    return result


def write(root: Path | None = None, prefix: str | None = None) -> list[DocFile]:
    """Write every document that differs; returns what was written and what was already current."""
    root = REPO_ROOT if root is None else root
    result = []
    for rel, text in rendered(prefix).items():
        path = root / rel
        if path.exists() and path.read_text(encoding="utf-8") == text:
            result.append(DocFile(str(rel), "current"))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        result.append(DocFile(str(rel), "written"))
    return result


@app.command()
def generate(
    check: Annotated[bool, typer.Option(
        "--check", help="Write nothing; exit 1 naming each stale or missing file.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON report on stdout.")] = False,
) -> None:
    """Render docs/contract.md and docs/asyncapi.yaml from topics.yaml, the .avsc files and the reference data."""
    files = compare() if check else write()
    stale = [f for f in files if f.status in ("stale", "missing")]

    def human() -> None:
        for f in files:
            typer.echo(f"{f.status}\t{f.path}")
        if stale:
            console.print(f"{', '.join(f.path for f in stale)} out of date; run `simpul docs generate`",
                          highlight=False, markup=False)

    emit({"ok": not stale, "files": [asdict(f) for f in files]}, as_json, human)
    if stale:
        raise typer.Exit(EXIT_STALE)
