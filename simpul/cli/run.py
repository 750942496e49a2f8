"""`simpul run`: the whole platform on the embedded defaults, as `make run` starts it."""

from __future__ import annotations

import typer

from simpul.cli.output import console, emit, fail_on
from simpul.cli.platform import _table
from simpul.platform import platform_for
from simpul.settings import load_settings


def run(json_out: bool = typer.Option(False, "--json", help="print what runs as JSON")) -> None:
    """Start the platform (Kafka, registry, PostgreSQL), provision topics and schemas, and say what runs where."""
    from simpul import bootstrap

    settings = load_settings()
    with fail_on():
        platform = platform_for(settings)
        with console.status("starting the platform") as spinner:
            status = platform.up(with_postgres=True, progress=lambda m: spinner.update(m))
            spinner.update("provisioning topics and schemas")
            wired = settings.model_copy(update={"kafka_bootstrap": status.kafka_bootstrap,
                                                "registry_url": status.registry_url})
            provisioned = bootstrap.provision(wired)
    console.print(f"topics: {provisioned['topic_changes']} change(s) applied; schemas: {provisioned['schemas']} "
                  "registered")
    emit(status.model_dump(), json_out, lambda: (
        _table(status),
        console.print("stop it with [bold]simpul platform down[/] (or `.venv/bin/simpul platform down`)"),
    ))
