"""`simpul deploy render k8s` and `simpul deploy validate`: the production manifests (Strimzi) from the topic catalog
and the ACL model, and their check against the schemas of the cluster they target."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from simpul.cli.output import console, emit, fail_on

app = typer.Typer(help="Render and validate the production platform definitions (deploy/k8s/).",
                  no_args_is_help=True, pretty_exceptions_enable=False)

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "generated"


class Target(str, Enum):
    k8s = "k8s"


@app.callback()
def deploy() -> None:
    """Render and validate the production platform definitions."""


@app.command("render")
def render(target: Target = typer.Argument(Target.k8s, help="what to render (k8s: Strimzi + Deployments)"),
           prefix: str = typer.Option(None, "--prefix", help="topic prefix (default: the catalog's, jateng)"),
           out: Path = typer.Option(DEFAULT_OUT, "--out", help="folder to write (replaced file by file)"),
           image: str = typer.Option("ghcr.io/jateng/simpul:latest", "--image", help="the Simpul container image"),
           json_out: bool = typer.Option(False, "--json")) -> None:
    """Write Kafka (3 KRaft nodes), KafkaTopics, KafkaUsers (ACLs), Deployments/Services and a kustomization."""
    from simpul.deploy import k8s

    with fail_on():
        files = k8s.render(prefix, image=image)
        written = k8s.write(files, out)
    counts = {name: len(docs) for name, docs in files.items()}
    emit({"out": str(out), "files": [str(p) for p in written], "resources": counts}, json_out,
         lambda: console.print(f"wrote {sum(counts.values())} resources to {out}: "
                               + ", ".join(f"{n} ({c})" for n, c in counts.items())))


@app.command("validate")
def validate(folder: Path = typer.Argument(DEFAULT_OUT, help="folder of rendered manifests"),
             json_out: bool = typer.Option(False, "--json")) -> None:
    """Check every manifest against the schemas of the cluster it targets: Kubernetes' own kinds with
    kubernetes-validate (strict), Strimzi's against the CRDs of io.strimzi:api (fetched once from Maven Central)."""
    from simpul.settings import load_settings

    try:
        from simpul.deploy import validate as check
    except ImportError as exc:  # kubernetes-validate and jsonschema come with the dev extras, not in the image
        console.print(f"[red]error:[/] {exc.name} is not installed: `pip install -e '.[dev]'` (make setup does)",
                      highlight=False)
        raise typer.Exit(1) from None
    with fail_on():
        report = check.validate_folder(folder, load_settings().state_dir.resolve(),
                                       lambda m: console.print(m, highlight=False))
    against = sorted({a for _, _, a in report.checked})
    emit(report.model_dump(), json_out,
         lambda: console.print(f"{len(report.checked)} resources in {folder} valid against {', '.join(against)}"
                               + (f"; {len(report.skipped)} not API objects" if report.skipped else ""),
                               highlight=False))
