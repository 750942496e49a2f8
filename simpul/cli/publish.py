"""`simpul publish FILE.jsonl --regency CODE`: a batch load through the SDK, with progress and a summary."""

from __future__ import annotations

from pathlib import Path

import typer

from simpul.cli.output import console, emit, fail_on


def publish(file: Path = typer.Argument(..., exists=True, dir_okay=False, help="JSON Lines: one event per line"),
            regency: str = typer.Option(..., "--regency", help="the regency whose ingress topic to write"),
            json_out: bool = typer.Option(False, "--json", help="print the summary as JSON")) -> None:
    """Publish every event of a file; invalid lines are reported with their line number and field."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from producers.batch import count_lines, publish_file
    from producers.exceptions import ProducerError
    from simpul import bootstrap
    from simpul.settings import load_settings

    with fail_on():
        settings = load_settings()
        total = count_lines(file)
        with bootstrap.publisher(settings, regency) as producer, \
                Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                         TimeRemainingColumn(), console=console, transient=True) as progress:
            task = progress.add_task(f"publishing to {producer.topic}", total=total)
            summary = publish_file(file, producer, advance=lambda n: progress.advance(task, n))

    def human() -> None:
        console.print(f"{summary.sent} sent, {summary.invalid} invalid, {summary.failed} failed "
                      f"of {summary.lines} lines → {summary.topic}")
        for p in summary.problems:
            console.print(f"  line {p.line}: {p.field}: {p.reason}", markup=False, highlight=False)

    emit(summary.model_dump(), json_out, human)
    with fail_on():
        if not summary.ok:
            raise ProducerError(f"{summary.lines - summary.sent} of {summary.lines} lines were not published (see "
                                "above); fix them and publish the file again: duplicates are dropped downstream")
