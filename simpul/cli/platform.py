"""`simpul platform up|down|status`: the real Kafka, registry and PostgreSQL on one command."""

from __future__ import annotations

import time

import typer

from simpul.cli.output import console, emit, fail_on
from simpul.platform import platform_for
from simpul.platform.endpoints import PlatformStatus
from simpul.settings import load_settings

app = typer.Typer(help="Start, inspect and stop the platform (Kafka, schema registry, PostgreSQL).",
                  no_args_is_help=True)


def _table(status: PlatformStatus) -> None:
    from rich.table import Table

    t = Table(title=f"platform ({status.provider})")
    for col in ("service", "state", "address", "pid", "detail"):
        t.add_column(col, overflow="fold")
    for s in status.services:
        t.add_row(s.name, "[green]running[/]" if s.running else "[dim]stopped[/]", s.address or "",
                  str(s.pid or ""), s.detail)
    console.print(t)


@app.command()
def up(with_postgres: bool = typer.Option(False, "--with-postgres", help="also start our own PostgreSQL"),
       json_out: bool = typer.Option(False, "--json", help="print the status as JSON")) -> None:
    """Start the platform, or report it if it already runs; waits until every service answers."""
    settings = load_settings()
    with fail_on():
        platform = platform_for(settings)
        started = time.monotonic()
        with console.status("starting the platform") as spinner:
            status = platform.up(with_postgres=with_postgres, progress=lambda m: spinner.update(m))
    elapsed = time.monotonic() - started
    emit(status.model_dump() | {"elapsed_s": round(elapsed, 1)}, json_out,
         lambda: (_table(status), console.print(f"ready in {elapsed:.1f} s")))


@app.command()
def down(json_out: bool = typer.Option(False, "--json")) -> None:
    """Stop what `up` started, and nothing else."""
    settings = load_settings()
    with fail_on():
        platform = platform_for(settings)
        stopped = platform.down(progress=lambda m: console.print(m))
    emit({"stopped": stopped}, json_out,
         lambda: console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing of ours was running"))


@app.command()
def status(json_out: bool = typer.Option(False, "--json")) -> None:
    """Say what runs and where it listens."""
    with fail_on():
        st = platform_for(load_settings()).status()
    emit(st.model_dump(), json_out, lambda: _table(st))


@app.command()
def fetch() -> None:
    """Resolve the Kafka and Apicurio artifacts through Maven (cached); `make setup` runs this."""
    from simpul.platform import artifacts

    settings = load_settings()
    with fail_on(), console.status("resolving the Kafka and Apicurio artifacts through Maven"):
        artifacts.ensure_artifacts(settings.state_dir.resolve())
    console.print(f"artifacts ready under {settings.state_dir.resolve() / 'lib'}")
