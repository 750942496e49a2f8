"""`simpul keys create|list|revoke`: the gateway's API keys, one regency each, stored hashed."""

from __future__ import annotations

import typer

from simpul import bootstrap
from simpul.cli.output import console, emit, fail_on, out
from simpul.settings import load_settings

app = typer.Typer(help="Issue, list and revoke the HTTP gateway's API keys (one regency per key).",
                  no_args_is_help=True)


def _store():  # noqa: ANN202 - GatewayStore
    return bootstrap.gateway_store(load_settings())


@app.command()
def create(regency: str = typer.Option(..., "--regency", help="regency code, e.g. 3374"),
           label: str = typer.Option("", "--label", help="who holds the key, for the list"),
           json_out: bool = typer.Option(False, "--json")) -> None:
    """Issue a key bound to one regency; the key is printed once and only its hash is kept."""
    with fail_on():
        issued = _store().create_key(regency, label)
    emit({"key_id": issued.key_id, "regency_code": issued.regency_code, "api_key": issued.secret}, json_out,
         lambda: (out.print(issued.secret, highlight=False, soft_wrap=True),
                  console.print(f"key {issued.key_id} for regency {regency}: store it now, it is not shown again")))


@app.command("list")
def list_keys(json_out: bool = typer.Option(False, "--json")) -> None:
    """The keys (ids, regencies, labels; never the secrets)."""
    with fail_on():
        rows = _store().list_keys()

    def table() -> None:
        from rich.table import Table

        t = Table("key id", "regency", "label", "created", "revoked")
        for r in rows:
            t.add_row(str(r["key_id"]), str(r["regency_code"]), str(r["label"]), str(r["created_at"]),
                      str(r["revoked_at"] or ""))
        out.print(t)

    emit(rows, json_out, table)


@app.command()
def revoke(key_id: str = typer.Argument(..., help="the key id shown by `simpul keys list`")) -> None:
    """Revoke a key at once: its next request gets 401."""
    with fail_on():
        _store().revoke_key(key_id)
    console.print(f"key {key_id} revoked")
