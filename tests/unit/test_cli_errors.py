"""One error style and one exit-code convention for every command (simpul.cli.output)."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from simpul.cli import app
from simpul.cli.output import EXIT_ERROR, EXIT_REFUSED, EXIT_USAGE, fail_on
from simpul.exceptions import SimpulError
from topics.exceptions import DestructiveChangeRefused


def test_our_error_is_one_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as ended, fail_on():
        raise SimpulError("the broker at [x] does not answer")
    assert ended.value.exit_code == EXIT_ERROR == 1
    assert capsys.readouterr().err == "error: the broker at [x] does not answer\n"


def test_a_refused_destructive_change_exits_3() -> None:
    with pytest.raises(typer.Exit) as ended, fail_on(refused=(DestructiveChangeRefused,)):
        raise DestructiveChangeRefused([])
    assert ended.value.exit_code == EXIT_REFUSED == 3


def test_anything_else_is_a_bug_and_keeps_its_trace() -> None:
    with pytest.raises(KeyError), fail_on():
        raise KeyError("bug")


def test_a_bad_dlq_record_argument_is_a_usage_error(tmp_path) -> None:  # noqa: ANN001
    result = CliRunner().invoke(app, ["dlq", "replay", "2-1045"], env={"SIMPUL_STATE_DIR": str(tmp_path)})
    assert result.exit_code == EXIT_USAGE == 2, result.output
    assert "PARTITION:OFFSET" in result.stderr and "Usage:" in result.stderr and result.stdout == ""
