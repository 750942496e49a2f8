"""`simpul keys create|list|revoke`: the gateway's API keys, one regency each, stored hashed.

Issuing and revoking a key go to the ops audit trail (and from there into the transparency log) with who and when;
the entry names the key's id and regency, never the key."""

from __future__ import annotations

import typer

from simpul import bootstrap
from simpul.cli.ops_audit import CLI_ROLE, api_key_target, cli_actor, publish_now
from simpul.cli.output import console, emit, fail_on, out
from simpul.settings import Settings, load_settings

app = typer.Typer(help="Issue, list and revoke the HTTP gateway's API keys (one regency per key).",
                  no_args_is_help=True)


def _store():  # noqa: ANN202 - GatewayStore
    return bootstrap.gateway_store(load_settings())


def issue_key(settings: Settings, regency: str, label: str = ""):  # noqa: ANN201 - producers.gateway.IssuedKey
    """Issue a key bound to `regency` and record it in the audit trail (published now if the broker answers)."""
    from schemas.audit import AuditAction

    issued = bootstrap.gateway_store(settings).create_key(regency, label)
    _, audit = bootstrap.ops_records(settings)
    audit.record(actor=cli_actor(), role=CLI_ROLE, action=AuditAction.API_KEY_CREATE,
                 target=api_key_target(issued.regency_code, issued.key_id), result="ok",
                 detail=f"label {label}" if label else "")
    publish_now(audit)
    return issued


def revoke_key(settings: Settings, key_id: str) -> str:
    """Revoke key `key_id` and record it in the audit trail; the regency it was bound to."""
    from schemas.audit import AuditAction

    store = bootstrap.gateway_store(settings)
    regency = next((str(r["regency_code"]) for r in store.list_keys() if r["key_id"] == key_id), "?")
    store.revoke_key(key_id)  # raises for an unknown or already revoked key: nothing happened, nothing recorded
    _, audit = bootstrap.ops_records(settings)
    audit.record(actor=cli_actor(), role=CLI_ROLE, action=AuditAction.API_KEY_REVOKE,
                 target=api_key_target(regency, key_id), result="ok")
    publish_now(audit)
    return regency


@app.command()
def create(regency: str = typer.Option(..., "--regency", help="regency code, e.g. 3374"),
           label: str = typer.Option("", "--label", help="who holds the key, for the list"),
           json_out: bool = typer.Option(False, "--json")) -> None:
    """Issue a key bound to one regency; the key is printed once and only its hash is kept."""
    with fail_on():
        issued = issue_key(load_settings(), regency, label)
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
def revoke(key_id: str = typer.Argument(..., help="the key id shown by `simpul keys list`"),
           json_out: bool = typer.Option(False, "--json")) -> None:
    """Revoke a key at once: its next request gets 401. Recorded in the audit trail."""
    with fail_on():
        regency = revoke_key(load_settings(), key_id)
    emit({"key_id": key_id, "regency_code": regency, "revoked": True}, json_out,
         lambda: console.print(f"key {key_id} revoked"))
