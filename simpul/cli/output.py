"""CLI manners: data to stdout, progress and logs to stderr, no colour off a terminal, `--json` everywhere.

Every command prints through `emit` (data: JSON or the human rendering), `out` (data on stdout) and `console`
(progress, notes, errors on stderr), and fails through `fail_on`, which prints our own error as one
`error: <message>` line on stderr. Exit codes, the same for every command:

- 0: done (a check found nothing wrong);
- 1: our error (a `SimpulError`: a bad setting, an unreachable broker, a missing secret), or a check or batch that
  ran and found something wrong (incompatible schemas, stale documents, lines not published);
- 2: usage: a bad option or argument (raise `typer.BadParameter`; click prints it with the command's usage);
- 3: refused: a destructive change asked for without its explicit flag (`topics apply --allow-destructive`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console

console = Console(stderr=True, soft_wrap=True)
out = Console()

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3


def emit(data: Any, as_json: bool, human: Callable[[], object]) -> None:
    """Print `data` as JSON on stdout, or call `human` to render it for a person."""
    if as_json:
        sys.stdout.write(json.dumps(data, default=str, indent=2) + "\n")
    else:
        human()


@contextmanager
def fail_on(refused: Sequence[type[Exception]] = ()) -> Iterator[None]:
    """Turn our own errors into one line on stderr and exit code 1 (3 for the `refused` types); anything else is
    a bug and shows a trace."""
    from simpul.exceptions import SimpulError

    try:
        yield
    except SimpulError as exc:
        from rich.markup import escape

        console.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(EXIT_REFUSED if isinstance(exc, tuple(refused)) else EXIT_ERROR) from None
