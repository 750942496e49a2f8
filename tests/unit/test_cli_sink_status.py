"""`simpul sink store --status`: the rows per table are data, on stdout (as a table or as JSON)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from simpul.cli import app


def test_store_status_on_stdout(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    env = {"SIMPUL_STATE_DIR": str(tmp_path)}
    as_json = CliRunner().invoke(app, ["sink", "store", "--status", "--store-url", url, "--json"], env=env)
    assert as_json.exit_code == 0, as_json.output
    counts = json.loads(as_json.stdout)
    assert counts["service_requests"] == 0 and counts["alerts"] == 0
    human = CliRunner().invoke(app, ["sink", "store", "--status", "--store-url", url], env=env)
    assert human.exit_code == 0, human.output
    assert [line.split()[0] for line in human.stdout.splitlines()] == list(counts)
