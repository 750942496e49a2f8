"""`simpul secrets show|rotate`: this installation's secrets (generated on first start into `<state>/secrets`)."""

from __future__ import annotations

import os

import typer

from simpul import secret_files
from simpul.cli.output import console, emit, fail_on, out
from simpul.secret_files import SecretError
from simpul.settings import load_settings

app = typer.Typer(help="Per-installation secrets: NIK key, DLQ key, webhook secret, session key, metrics token.",
                  no_args_is_help=True)


@app.command()
def show(reveal: bool = typer.Option(False, "--reveal", help="print the values too (mind the screen)"),
         json_out: bool = typer.Option(False, "--json")) -> None:
    """Generate what is missing, then list every secret: where it comes from and whether its file is private."""
    with fail_on():
        folder = load_settings().secrets_folder
        made = secret_files.ensure(folder)
        settings = load_settings()
        unsafe = {str(p) for p in secret_files.unsafe_files(folder)}
        rows = []
        for spec in secret_files.SPECS:
            source = "environment" if spec.env in os.environ else str(folder / spec.filename)
            row = {"name": spec.name, "env": spec.env, "source": source, "protects": spec.protects,
                   "rotation": spec.rotation, "generated_now": spec.name in made,
                   "private": str(folder / spec.filename) not in unsafe}
            if reveal:
                row["value"] = settings.secret(spec.name)
            rows.append(row)
    if made:
        console.print(f"generated {', '.join(made)} into {folder} (0600)")

    def human() -> None:
        for r in rows:
            flag = "" if r["private"] else "  [red]readable by others: chmod 600[/]"
            value = f"\t{r['value']}" if reveal else ""
            out.print(f"{r['env']}\t{r['source']}{value}{flag}", highlight=False, soft_wrap=True)

    emit({"folder": str(folder), "secrets": rows}, json_out, human)


@app.command()
def rotate(name: str = typer.Argument(..., help="one of: " + ", ".join(secret_files.BY_NAME)),
           tokens_change: bool = typer.Option(False, "--tokens-change",
                                              help="rotate the NIK key although every NIK token changes with it"),
           json_out: bool = typer.Option(False, "--json")) -> None:
    """Replace one secret with a new random value; restart the processes that use it afterwards.

    The NIK key is special: tokens minted before and after the rotation differ, so the same citizen no longer
    matches across the boundary (docs/security.md). It needs --tokens-change.
    """
    with fail_on():
        settings = load_settings()
        spec = secret_files.BY_NAME.get(name)
        if spec is None:
            raise SecretError(f"no secret named {name!r}; known: {', '.join(secret_files.BY_NAME)}")
        if spec.env in os.environ:
            raise SecretError(f"{spec.env} is set in the environment, which wins over the secrets folder; rotate it "
                              "where it is set")
        if spec.rotation == "breaks-matching" and not tokens_change:
            raise SecretError("rotating nik_hmac_key changes every NIK token: the double-payment check and any "
                              "per-citizen join stop matching across the rotation. Pass --tokens-change to do it "
                              "anyway (docs/security.md, 'Rotating secrets')")
        secret_files.rotate(settings.secrets_folder, name)
    result = {"rotated": name, "folder": str(settings.secrets_folder), "rotation": spec.rotation,
              "restart": "every Simpul process that reads it"}
    emit(result, json_out, lambda: console.print(f"rotated {name} in {settings.secrets_folder}; restart the "
                                                 "processes that use it"))
