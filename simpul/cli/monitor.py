"""`simpul monitor`: serve the ops dashboard (behind ops accounts) and /metrics (behind the metrics token)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import typer

from simpul.cli.output import console, fail_on
from simpul.settings import LOOPBACK


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def monitor(host: str = typer.Option(LOOPBACK, "--host"),
            port: int = typer.Option(18090, "--port", help="dashboard port"),
            interval: float = typer.Option(3.0, "--interval", help="seconds between collection rounds"),
            silent_after: int = typer.Option(3600, "--silent-after",
                                             help="seconds without events before a regency counts as silent"),
            tls_cert: Path | None = typer.Option(None, "--tls-cert", help="PEM certificate: serve HTTPS"),
            tls_key: Path | None = typer.Option(None, "--tls-key", help="PEM private key of --tls-cert")) -> None:
    """The dashboard: overview, 35 regencies, alerts, lag chart, DLQ browser with replay, audit trail; Prometheus at
    /metrics. Log in with an account from `simpul users create`; /metrics takes the metrics token as a bearer token."""
    import uvicorn

    from simpul import bootstrap
    from simpul.settings import load_settings

    if (tls_cert is None) != (tls_key is None):
        raise typer.BadParameter("give both to serve HTTPS, or neither", param_hint="--tls-cert/--tls-key")
    with fail_on():
        settings = load_settings()
        app = bootstrap.dashboard(settings, interval_s=interval, silent_after_s=silent_after)
    scheme = "https" if tls_cert else "http"
    if not tls_cert and not is_loopback(host):
        console.print(f"[yellow]warning:[/] serving the dashboard on {host} without TLS: passwords and session "
                      "cookies cross the network in the clear; give --tls-cert/--tls-key or put a TLS proxy in front")
    console.print(f"dashboard on {scheme}://{host}:{port}/ for hosts {', '.join(settings.dashboard_hosts)} "
                  "(log in with `simpul users create NAME --role operator`; metrics at /metrics with the bearer "
                  "token `simpul secrets show --reveal` lists)")
    uvicorn.run(app, host=host, port=port, log_level="warning", ssl_certfile=tls_cert, ssl_keyfile=tls_key)
