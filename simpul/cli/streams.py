"""`simpul streams run [gatekeeper|aggregates|alerts|all]`: start the stream processors (the gatekeeper's batch
loop, the Faust workers of aggregates and alerts).

Each processor is one consumer group, `<prefix>-<processor>`: run the same command on several machines (or
with different `--instance` names on one machine) and the instances share the partitions. `all` starts the three
processors as child processes and stops them together. Logs go to stderr; Ctrl-C or SIGTERM stop cleanly.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from enum import Enum
from typing import Annotated

import typer

app = typer.Typer(help="Stream processors: gatekeeper, aggregates, alerts.", no_args_is_help=True,
                  pretty_exceptions_enable=False)


@app.callback()
def streams() -> None:
    """Stream processors: gatekeeper, aggregates, alerts."""


class Processor(str, Enum):
    gatekeeper = "gatekeeper"
    aggregates = "aggregates"
    alerts = "alerts"
    all = "all"


@app.command("run")
def run(
    processor: Annotated[Processor, typer.Argument(help="which processor to run; `all` runs the three")] = Processor.all,
    instance: Annotated[str | None, typer.Option(
        "--instance", help="name of this instance's local state folder (use distinct names for several "
        "instances on one machine); SIMPUL_STREAMS_INSTANCE")] = None,
    loglevel: Annotated[str, typer.Option("--loglevel", help="debug, info, warning, error")] = "info",
) -> None:
    """Start the workers; they run until Ctrl-C or SIGTERM."""
    if instance is not None:
        os.environ["SIMPUL_STREAMS_INSTANCE"] = instance
    logging.basicConfig(stream=sys.stderr, level=loglevel.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if processor is Processor.all:
        raise typer.Exit(_run_children(loglevel))
    from simpul import bootstrap
    from simpul.cli.output import fail_on
    from simpul.settings import load_settings

    for noisy in ("httpx", "httpx2"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if processor is Processor.gatekeeper:
        from streams.gatekeeper.worker import run_until_signalled

        with fail_on():
            run_until_signalled(bootstrap.gatekeeper(load_settings()))
        return
    from streams.faust_app import run_worker

    builders = {Processor.aggregates: bootstrap.aggregates_app, Processor.alerts: bootstrap.alerts_app}
    with fail_on():
        faust_app = builders[processor](load_settings())
    run_worker(faust_app, loglevel=loglevel)


def _run_children(loglevel: str) -> int:
    """The three processors as child processes; a signal to us is passed on; exits when all have stopped."""
    from simpul.cli.output import console

    children = {
        name: subprocess.Popen([sys.executable, "-m", "simpul", "streams", "run", name, "--loglevel", loglevel])
        for name in ("gatekeeper", "aggregates", "alerts")
    }
    stopping = False

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    code = 0
    while any(child.poll() is None for child in children.values()):
        for name, child in children.items():
            rc = child.poll()
            if rc not in (None, 0) and not stopping:
                console.print(f"streams: {name} exited with {rc}; stopping the others", highlight=False)
                code = rc
                forward(signal.SIGTERM, None)
        time.sleep(0.5)
    for name, child in children.items():
        console.print(f"streams: {name} stopped (exit {child.returncode})", highlight=False)
    return code
