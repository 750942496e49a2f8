"""`make run` tells how to log in: a first operator shown once on a new installation, the command afterwards."""

from __future__ import annotations

from pathlib import Path

from simpul import secret_files
from simpul.cli.run import dashboard_login
from simpul.bootstrap import ops_records
from simpul.settings import load_settings


def test_first_run_creates_an_operator_and_later_runs_show_the_command(tmp_path: Path) -> None:
    secret_files.ensure(secret_files.default_dir(tmp_path))
    settings = load_settings(state_dir=tmp_path)
    first = dashboard_login(settings)
    assert first["user"] == "operator" and first["password"] and len(first["password"]) >= 16
    assert first["password"] in first["message"]
    accounts, _ = ops_records(settings)
    assert accounts.authenticate("operator", first["password"]) is not None  # the password shown is the one kept
    assert accounts.authenticate("operator", first["password"] + "x") is None
    assert accounts.get("operator").role == "operator"

    again = dashboard_login(settings)
    assert again["user"] is None and again["password"] is None
    assert "simpul users create" in again["message"]
