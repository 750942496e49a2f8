"""The `simpul` command: one entry point, a sub-command per stage of the flow."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(help="Simpul, the event integration bus of Jawa Tengah.", no_args_is_help=True,
                  pretty_exceptions_enable=False)

# name -> module holding a typer `app`; a stage's commands live with the stage's CLI module.
SUBCOMMANDS = {
    "platform": "simpul.cli.platform",
    "topics": "simpul.cli.topics",
    "schemas": "simpul.cli.schemas",
    "streams": "simpul.cli.streams",
    "keys": "simpul.cli.keys",
    "docs": "simpul.cli.docs",
    "dlq": "simpul.cli.dlq",
    "sink": "simpul.cli.sink",
    "deploy": "simpul.cli.deploy",
    "secrets": "simpul.cli.secrets",
    "users": "simpul.cli.users",
    "site": "simpul.cli.site",
    "transparency": "simpul.cli.transparency",
    "audit": "simpul.cli.audit",
}

for _name, _module in SUBCOMMANDS.items():
    try:
        app.add_typer(importlib.import_module(_module).app, name=_name)
    except ModuleNotFoundError as exc:
        if exc.name != _module:
            raise


def _mount_commands() -> None:
    from simpul.cli.gateway import gateway
    from simpul.cli.monitor import monitor
    from simpul.cli.publish import publish
    from simpul.cli.report import report
    from simpul.cli.run import run
    from simpul.cli.simulate import simulate_command
    from simpul.cli.status import status

    app.command(name="run")(run)
    app.command(name="gateway")(gateway)
    app.command(name="publish")(publish)
    app.command(name="status")(status)
    app.command(name="monitor")(monitor)
    app.command(name="simulate")(simulate_command)
    app.command(name="report")(report)


_mount_commands()


def main() -> None:
    """Run the CLI; an error of our own (a bad setting, say) ends as one line on stderr and exit code 1."""
    from simpul.cli.output import fail_on

    try:
        with fail_on():
            app()
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
