"""`simpul dlq list|replay`: the DLQ from the command line (the dashboard offers the same)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from simpul.cli.output import console, emit, fail_on, out

app = typer.Typer(help="Inspect the dead-letter queue and replay its records to their ingress topic.",
                  no_args_is_help=True)


@app.command("list")
def list_records(limit: int = typer.Option(50, "--limit"), json_out: bool = typer.Option(False, "--json")) -> None:
    """The newest rejected records with their reason, source and decoded payload where it decodes (NIKs masked)."""
    from simpul import bootstrap
    from simpul.settings import load_settings

    with fail_on():
        records = bootstrap.dlq_browser(load_settings()).latest(limit)

    def table() -> None:
        from rich.table import Table

        t = Table("id", "reason", "message", "source", "event type", title=f"DLQ ({len(records)} newest)")
        for r in records:
            t.add_row(r.id, r.reason, r.message, f"{r.source_topic}:{r.source_partition}:{r.source_offset}",
                      r.event_type or "(does not decode)")
        out.print(t)

    emit([{**r.model_dump(mode="json"), "id": r.id} for r in records], json_out, table)


@app.command()
def replay(record: str = typer.Argument(..., help="PARTITION:OFFSET of the DLQ record (`simpul dlq list`)"),
           fixed: Path | None = typer.Option(None, "--fixed", exists=True, dir_okay=False,
                                             help="a JSON file with the corrected event (with event_type)"),
           json_out: bool = typer.Option(False, "--json")) -> None:
    """Send one DLQ record back to its ingress topic, as it was or fixed; the gatekeeper screens it again.

    In the fixed event, a NIK field left masked as `simpul dlq list` shows it (or left out) keeps the original NIK."""
    partition, _, offset = record.partition(":")
    if not (partition.isdigit() and offset.isdigit()):
        raise typer.BadParameter("give the record as PARTITION:OFFSET, e.g. 2:1045", param_hint="RECORD")
    with fail_on():
        from monitor.audit import audited_replay
        from simpul import bootstrap
        from simpul.cli.ops_audit import CLI_ROLE, cli_actor, publish_now
        from simpul.settings import load_settings

        settings = load_settings()
        _, audit = bootstrap.ops_records(settings)
        try:  # recorded in the audit trail, whatever the result
            result = audited_replay(bootstrap.dlq_browser(settings), audit, actor=cli_actor(), role=CLI_ROLE, partition=int(partition),
                                    offset=int(offset), fixed=json.loads(fixed.read_text()) if fixed else None)
        finally:
            publish_now(audit)
    emit(result, json_out, lambda: console.print(f"replayed {result['replayed']} to {result['to']} "
                                                 f"(partition {result['partition']}, offset {result['offset']})"))
