"""`simpul monitor`: serve the ops dashboard and /metrics."""

from __future__ import annotations

import typer

from simpul.cli.output import console, fail_on


def monitor(host: str = typer.Option("127.0.0.1", "--host"),
            port: int = typer.Option(18090, "--port", help="dashboard port"),
            interval: float = typer.Option(3.0, "--interval", help="seconds between collection rounds"),
            silent_after: int = typer.Option(3600, "--silent-after",
                                             help="seconds without events before a regency counts as silent")) -> None:
    """The dashboard: overview, 35 regencies, alerts, lag chart, DLQ browser with replay; Prometheus at /metrics."""
    import uvicorn

    from simpul import bootstrap
    from simpul.settings import load_settings

    settings = load_settings()
    with fail_on():
        app = bootstrap.dashboard(settings, interval_s=interval, silent_after_s=silent_after)
    console.print(f"dashboard on http://{host}:{port}/ (metrics at /metrics)")
    uvicorn.run(app, host=host, port=port, log_level="warning")
