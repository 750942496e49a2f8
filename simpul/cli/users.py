"""`simpul users create|list|disable`: the ops accounts of the dashboard (`simpul monitor`).

Viewers read everything the dashboard shows; operators also replay and edit DLQ records. Passwords are stored as
argon2id hashes; a generated password is printed once. Creating and disabling an account goes to the audit trail.
"""

from __future__ import annotations

import sys

import typer

from simpul import bootstrap
from simpul.cli.ops_audit import CLI_ROLE, cli_actor, publish_now
from simpul.cli.output import console, emit, fail_on, out
from simpul.settings import Settings, load_settings

app = typer.Typer(help="Ops accounts of the dashboard: viewers read, operators also replay and edit DLQ records.",
                  no_args_is_help=True)

FIRST_OPERATOR = "operator"


def create_user(settings: Settings, name: str, role: str, password: str | None = None, *,
                publish: bool = True):  # noqa: ANN201 - monitor.accounts.CreatedAccount
    """Create a dashboard account (password generated when None) and record it in the audit trail."""
    from schemas.audit import AuditAction

    accounts, audit = bootstrap.ops_records(settings)
    created = accounts.create(name, role, password)
    audit.record(actor=cli_actor(), role=CLI_ROLE, action=AuditAction.USER_CREATE, target=f"user:{name}",
                 result="ok", detail=f"role {created.account.role}")
    if publish:
        publish_now(audit)
    return created


def disable_user(settings: Settings, name: str, *, publish: bool = True):  # noqa: ANN201 - monitor.accounts.Account
    """Disable a dashboard account (its sessions end at once) and record it in the audit trail."""
    from schemas.audit import AuditAction

    accounts, audit = bootstrap.ops_records(settings)
    account = accounts.disable(name)
    audit.record(actor=cli_actor(), role=CLI_ROLE, action=AuditAction.USER_DISABLE, target=f"user:{name}",
                 result="ok")
    if publish:
        publish_now(audit)
    return account


def first_operator(settings: Settings, name: str = FIRST_OPERATOR):  # noqa: ANN201 - CreatedAccount | None
    """On an installation without any dashboard account, create operator `name` with a generated password and return
    it (its `.password` is to be shown once); None when accounts exist already. The audit entry goes to the topic
    with the dashboard's next collection round."""
    accounts, _ = bootstrap.ops_records(settings)
    if accounts.count():
        return None
    return create_user(settings, name, "operator", publish=False)


@app.command()
def create(name: str = typer.Argument(..., help="the login name: lower-case letters, digits, . _ -"),
           role: str = typer.Option(..., "--role", help="viewer (reads) or operator (also replays DLQ records)"),
           password_stdin: bool = typer.Option(False, "--password-stdin",
                                               help="read the password from the first line of stdin instead of "
                                                    "generating one"),
           json_out: bool = typer.Option(False, "--json")) -> None:
    """Create an account; a generated password is printed once (stdout) and only its argon2id hash is kept."""
    with fail_on():
        password = None
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        created = create_user(load_settings(), name, role, password)
    data = {**created.account.as_dict(), **({"password": created.password} if created.generated else {})}

    def human() -> None:
        if created.generated:
            out.print(created.password, highlight=False, soft_wrap=True)
            console.print(f"user {name} ({created.account.role}) created: the password above is shown only now")
        else:
            console.print(f"user {name} ({created.account.role}) created")

    emit(data, json_out, human)


@app.command("list")
def list_users(json_out: bool = typer.Option(False, "--json")) -> None:
    """The accounts: names, roles, when created and disabled (never passwords or hashes)."""
    with fail_on():
        accounts, _ = bootstrap.ops_records(load_settings())
        rows = [a.as_dict() for a in accounts.list_accounts()]

    def table() -> None:
        from rich.table import Table

        t = Table("name", "role", "created", "disabled")
        for r in rows:
            t.add_row(str(r["name"]), str(r["role"]), str(r["created_at"]), str(r["disabled_at"] or ""))
        out.print(t)

    emit(rows, json_out, table)


@app.command()
def disable(name: str = typer.Argument(..., help="the account to disable"),
            json_out: bool = typer.Option(False, "--json")) -> None:
    """Disable an account at once: its open sessions get 401 on their next request."""
    with fail_on():
        account = disable_user(load_settings(), name)
    emit(account.as_dict(), json_out, lambda: console.print(f"user {name} disabled; its sessions have ended"))
