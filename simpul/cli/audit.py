"""`simpul audit verify|prove|key|checkpoints`: check the transparency log, prove an entry, show the public key."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from simpul.cli.output import EXIT_ERROR, console, emit, fail_on, out

app = typer.Typer(help="Check the signed transparency log and prove what it holds.", no_args_is_help=True,
                  pretty_exceptions_enable=False)

StoreUrl = Annotated[str | None, typer.Option("--store-url", help="SQLAlchemy URL of the store (default: settings)")]
AsJson = Annotated[bool, typer.Option("--json", help="machine-readable output")]


@app.command("verify")
def verify(
    store_url: StoreUrl = None,
    key: Annotated[list[str] | None, typer.Option("--key", help="a trusted verifier key (repeatable; default: this "
                                                  "installation's)")] = None,
    complete: Annotated[bool, typer.Option("--complete", help="a stored event not yet in the log is a failure "
                                           "(after the pipeline has drained)")] = False,
    no_ops: Annotated[bool, typer.Option("--no-ops", help="skip the ops actions' check against the dashboard "
                                         "database")] = False,
    as_json: AsJson = False,
) -> None:
    """Recompute the log from the store, check every signed checkpoint, and name the first entry that is wrong."""
    from monitor.opsdb import connect as ops_connect
    from simpul import bootstrap
    from simpul.settings import load_settings
    from transparency.verify import verify as run_verify

    with fail_on():
        settings = load_settings()
        keys = list(key) if key else [bootstrap.log_signer(settings).verifier_key]
        ops = None if no_ops else ops_connect(settings.dashboard_db)
        report = run_verify(bootstrap.store_engine(settings, store_url), keys, ops_engine=ops, complete=complete)
    data = report.model_dump(mode="json")

    def human() -> None:
        if report.ok:
            out.print(f"[green]OK[/]: {report.size} entries ({report.events_checked} events, {report.ops_checked} ops "
                      f"actions), {report.checkpoints} signed checkpoints, all consistent"
                      + (f"; {report.not_yet_logged} stored events not yet logged" if report.not_yet_logged else ""))
            return
        first = report.problems[0]
        out.print(f"[red]FAILED[/]: {first.detail}", highlight=False)
        if len(report.problems) > 1:
            out.print(f"and {len(report.problems) - 1} more problem(s); --json lists them all")

    emit(data, as_json, human)
    if not report.ok:
        raise typer.Exit(EXIT_ERROR)


@app.command("prove")
def prove(
    ref_id: Annotated[str, typer.Argument(help="an event id (or an ops audit entry id)")],
    from_size: Annotated[int | None, typer.Option("--from", help="also prove the latest checkpoint extends this "
                                                  "earlier one (its tree size)")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write the proof JSON here")] = None,
    store_url: StoreUrl = None,
    as_json: AsJson = False,
) -> None:
    """Print the inclusion proof of one entry in the latest signed checkpoint (docs/audit.md checks it)."""
    from simpul import bootstrap
    from simpul.settings import load_settings
    from transparency.prove import prove as make_proof

    with fail_on():
        proof = make_proof(bootstrap.store_engine(load_settings(), store_url), ref_id, from_size=from_size)
    text = proof.model_dump_json(indent=2)
    if output is not None:
        output.write_text(text + "\n", encoding="utf-8")
        console.print(f"proof of {ref_id} (leaf {proof.log_index} of {proof.tree_size}) written to {output}")
        if as_json:
            out.print_json(text)
    else:  # the proof is JSON already: --json and the plain form print the same document
        import sys

        sys.stdout.write(text + "\n")


@app.command("key")
def key(as_json: AsJson = False) -> None:
    """The province's verifier key: what anyone needs to check a checkpoint, a proof or a receipt."""
    from simpul import bootstrap
    from simpul.settings import load_settings

    with fail_on():
        signer = bootstrap.log_signer(load_settings())
    data = {"origin": signer.origin, "verifier_key": signer.verifier_key}
    emit(data, as_json, lambda: out.print(signer.verifier_key, highlight=False, soft_wrap=True))


@app.command("checkpoints")
def checkpoints(store_url: StoreUrl = None, limit: Annotated[int, typer.Option("--limit", min=1)] = 20,
                as_json: AsJson = False) -> None:
    """The newest signed checkpoints (size, root, time)."""
    from simpul import bootstrap
    from simpul.settings import load_settings
    from transparency import log_store

    with fail_on():
        cps = log_store.checkpoints(bootstrap.store_engine(load_settings(), store_url))[-limit:]
    data = [{"size": c.size, "root_hash": c.root_hash, "signed_at": c.signed_at.isoformat()} for c in cps]
    emit(data, as_json, lambda: [out.print(f"{c['size']:>10}  {c['root_hash']}  {c['signed_at']}") for c in data])
