"""CLI manners: data to stdout, progress and logs to stderr, no colour off a terminal, `--json` everywhere."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console

console = Console(stderr=True, soft_wrap=True)
out = Console()


def emit(data: Any, as_json: bool, human: Callable[[], object]) -> None:
    """Print `data` as JSON on stdout, or call `human` to render it for a person."""
    if as_json:
        sys.stdout.write(json.dumps(data, default=str, indent=2) + "\n")
    else:
        human()


@contextmanager
def fail_on() -> Iterator[None]:
    """Turn our own errors into one line on stderr and exit code 1; anything else is a bug and shows a trace."""
    from simpul.exceptions import SimpulError

    try:
        yield
    except SimpulError as exc:
        from rich.markup import escape

        console.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from None
