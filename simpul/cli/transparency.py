"""`simpul transparency run`: the stage appending every canonical event and ops action to the signed log."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from simpul.cli.output import emit, fail_on, out

app = typer.Typer(help="The transparency log: every accepted event and ops action, signed.", no_args_is_help=True,
                  pretty_exceptions_enable=False)


@app.callback()
def transparency() -> None:
    """The transparency log: every accepted event and ops action, signed."""


@app.command("run")
def run(
    store_url: Annotated[str | None, typer.Option("--store-url", help="SQLAlchemy URL of the store")] = None,
    once: Annotated[bool, typer.Option("--once", help="drain the topics, sign a checkpoint, then exit")] = False,
    group: Annotated[str | None, typer.Option("--group", help="consumer group (default <prefix>-transparency)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    loglevel: Annotated[str, typer.Option("--loglevel")] = "info",
) -> None:
    """Append each canonical event and ops action once; sign a checkpoint every few seconds; publish receipts."""
    from consumers.kafka import Stopper
    from simpul import bootstrap
    from simpul.settings import load_settings

    logging.basicConfig(stream=sys.stderr, level=loglevel.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    import os

    with fail_on():
        settings = load_settings()
        if settings.tlog_nice:
            os.nice(settings.tlog_nice)  # before any thread starts (see Settings.tlog_nice)
        stage = bootstrap.transparency_log(settings, store_url=store_url, group=group)
        stats = stage.run(once=once, stop=Stopper().install())
        data = stats.as_dict()
        emit(data, as_json, lambda: out.print(
            f"{data['appended']} appended ({data['repeated']} already logged, {data['poison']} unreadable); log size "
            f"{data['size']}, {data['checkpoints']} checkpoints signed"))
