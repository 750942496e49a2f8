"""`simpul run` (what `make run` starts) asks for PostgreSQL only with --with-postgres, or when the store is on
PostgreSQL; the embedded default store is SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from simpul.cli import app
from simpul.cli import run as run_module
from simpul.platform.endpoints import PlatformStatus
from simpul.platform.exceptions import PlatformError
from simpul.platform.local import LocalPlatform
from simpul.settings import Settings, load_settings


class Asked(PlatformError):
    pass


def asked_for_postgres(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> bool:
    """What `simpul run ARGS` asks the platform to start; the platform then stops the command."""
    asked: list[bool] = []

    class Recorder(LocalPlatform):
        def status(self) -> PlatformStatus:
            return PlatformStatus(provider="local", services=[])

        def up(self, with_postgres: bool = False, progress=None, **mode: object) -> PlatformStatus:  # noqa: ANN001
            asked.append(with_postgres)
            raise Asked("stopped before starting anything")

    monkeypatch.setenv("SIMPUL_STATE_DIR", str(tmp_path))
    monkeypatch.setattr(run_module, "platform_for", lambda settings: Recorder(Settings(state_dir=tmp_path)))
    result = CliRunner().invoke(app, ["run", *args])
    assert result.exit_code == 1 and "stopped before starting anything" in result.output, result.output
    return asked[0]


def test_run_stores_to_sqlite_without_postgres_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIMPUL_STORE_URL", raising=False)
    assert asked_for_postgres(tmp_path, monkeypatch) is False
    assert asked_for_postgres(tmp_path, monkeypatch, "--insecure") is False
    assert load_settings(state_dir=tmp_path).store.startswith("sqlite:///")


def test_with_postgres_starts_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIMPUL_STORE_URL", raising=False)
    assert asked_for_postgres(tmp_path, monkeypatch, "--with-postgres") is True


@pytest.mark.parametrize("url,wanted", [("postgresql+psycopg://simpul_app@127.0.0.1:15432/simpul", True),
                                        ("postgresql://db.example/simpul", True),
                                        ("sqlite:////tmp/elsewhere.sqlite", False)])
def test_a_store_url_on_postgresql_implies_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str,
                                              wanted: bool) -> None:
    monkeypatch.setenv("SIMPUL_STORE_URL", url)
    assert asked_for_postgres(tmp_path, monkeypatch) is wanted
