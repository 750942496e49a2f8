"""`simpul gateway`: serve the HTTP ingress gateway."""

from __future__ import annotations

from pathlib import Path

import typer

from producers.gateway.serving import LIMIT_CONCURRENCY, LogLevel
from simpul.cli.output import console, fail_on
from simpul.settings import Settings

HOST, PORT = (Settings.model_fields[name].default for name in ("gateway_host", "gateway_port"))


def gateway(host: str | None = typer.Option(None, "--host", help=f"default SIMPUL_GATEWAY_HOST ({HOST})"),
            port: int | None = typer.Option(None, "--port", help=f"default SIMPUL_GATEWAY_PORT ({PORT})"),
            tls_cert: Path | None = typer.Option(None, "--tls-cert", help="PEM certificate (chain): serve HTTPS; "
                                                 "default SIMPUL_GATEWAY_TLS_CERT"),
            tls_key: Path | None = typer.Option(None, "--tls-key", help="PEM private key of the certificate; "
                                                "default SIMPUL_GATEWAY_TLS_KEY"),
            max_body_bytes: int | None = typer.Option(None, "--max-body-bytes", min=1024, help="the most bytes one "
                                                      "request may carry; default 4,096 per event of the batch "
                                                      "limit (SIMPUL_GATEWAY_MAX_BATCH)"),
            limit_concurrency: int = typer.Option(LIMIT_CONCURRENCY, "--limit-concurrency", min=1,
                                                  help="connections served at once; more are answered 503"),
            log_level: LogLevel = typer.Option(LogLevel.WARNING, "--log-level",
                                               help="`info` adds the access log (method, path, status)")) -> None:
    """Serve POST /v1/events, /healthz, /readyz and /openapi.json (HTTPS with --tls-cert and --tls-key)."""
    import uvicorn

    from producers.gateway.serving import Serving
    from simpul import bootstrap
    from simpul.settings import load_settings

    with fail_on():
        settings = load_settings()
        serving = Serving(host or settings.gateway_host, port or settings.gateway_port,
                          tls_cert or settings.gateway_tls_cert, tls_key or settings.gateway_tls_key,
                          log_level, limit_concurrency)
        options = serving.uvicorn_options()
        app = bootstrap.gateway(settings, max_body_bytes=max_body_bytes)
    console.print(f"gateway on {serving.url} (OpenAPI at /openapi.json, docs at /docs)")
    uvicorn.run(app, **options)

