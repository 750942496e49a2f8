"""`simpul gateway`: serve the HTTP ingress gateway."""

from __future__ import annotations

import typer

from simpul.cli.output import console, fail_on
from simpul.settings import load_settings


def gateway(host: str | None = typer.Option(None, "--host", help="default SIMPUL_GATEWAY_HOST (127.0.0.1)"),
            port: int | None = typer.Option(None, "--port", help="default SIMPUL_GATEWAY_PORT (18000)")) -> None:
    """Serve POST /v1/events, /healthz, /readyz and /openapi.json."""
    import uvicorn

    from simpul import bootstrap

    settings = load_settings()
    with fail_on():
        app = bootstrap.gateway(settings)
    bind_host, bind_port = host or settings.gateway_host, port or settings.gateway_port
    console.print(f"gateway on http://{bind_host}:{bind_port} (OpenAPI at /openapi.json, docs at /docs)")
    uvicorn.run(app, host=bind_host, port=bind_port, log_level="warning")
