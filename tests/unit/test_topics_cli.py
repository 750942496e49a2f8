"""CLI manners of `simpul topics` that need no broker: errors a person can act on, on stderr, right exit code."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from simpul.cli.output import EXIT_ERROR
from simpul.cli.topics import app, regency_codes
from simpul.settings import Settings

NOWHERE = Settings(kafka_bootstrap="127.0.0.1:1")  # nothing listens on port 1


def test_regency_codes_are_the_35_of_central_java() -> None:
    codes = regency_codes()
    assert len(codes) == 35 == len(set(codes))
    assert all(code.startswith("33") and len(code) == 4 for code in codes)


def test_unreachable_broker_is_named_on_stderr() -> None:
    result = CliRunner().invoke(app, ["plan", "--json", "--timeout", "2"], obj=NOWHERE)
    assert result.exit_code == EXIT_ERROR
    assert result.stdout == ""  # nothing that a pipe would mistake for a plan
    assert "127.0.0.1:1" in result.stderr and "simpul platform up" in result.stderr


def test_broken_catalog_is_reported_before_the_cluster_is_asked(tmp_path: Path) -> None:
    broken = tmp_path / "topics.yaml"
    broken.write_text("version: 2\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["apply", "--catalog", str(broken)], obj=NOWHERE)
    assert result.exit_code == EXIT_ERROR
    assert str(broken) in result.stderr and "reading topics" not in result.stderr


def test_commands() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "plan" in result.stdout and "apply" in result.stdout
