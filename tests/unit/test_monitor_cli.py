"""`simpul monitor` refuses to start without its secrets and warns when it would serve logins in the clear."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner

from simpul import bootstrap
from simpul.cli import app
from simpul.cli.monitor import is_loopback


@pytest.fixture
def no_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in ("SESSION_KEY", "METRICS_TOKEN", "SECRETS_DIR", "STATE_DIR"):
        monkeypatch.delenv(f"SIMPUL_{name}", raising=False)
    (tmp_path / "secrets").mkdir()
    return {"SIMPUL_STATE_DIR": str(tmp_path / "state"), "SIMPUL_SECRETS_DIR": str(tmp_path / "secrets")}


def test_refuses_to_start_without_the_session_key(no_secrets: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["monitor", "--port", "1"], env=no_secrets)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "SIMPUL_SESSION_KEY is not set" in lines[0]


def test_refuses_to_start_without_the_metrics_token(no_secrets: dict[str, str]) -> None:
    env = {**no_secrets, "SIMPUL_SESSION_KEY": "k" * 43}
    result = CliRunner().invoke(app, ["monitor", "--port", "1"], env=env)
    assert result.exit_code == 1 and "SIMPUL_METRICS_TOKEN is not set" in result.stderr


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(bootstrap, "dashboard", lambda *a, **k: object())
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))
    return calls


def test_warns_when_serving_beyond_loopback_without_tls(served: list[dict[str, Any]]) -> None:
    outside = CliRunner().invoke(app, ["monitor", "--host", "0.0.0.0"])
    assert outside.exit_code == 0 and "without TLS" in outside.stderr
    local = CliRunner().invoke(app, ["monitor", "--host", "127.0.0.1"])
    assert local.exit_code == 0 and "without TLS" not in local.stderr
    tls = CliRunner().invoke(app, ["monitor", "--host", "0.0.0.0", "--tls-cert", "c.pem", "--tls-key", "k.pem"])
    assert tls.exit_code == 0 and "without TLS" not in tls.stderr and "https://" in tls.stderr
    assert served[-1]["ssl_certfile"] == Path("c.pem") and served[-1]["ssl_keyfile"] == Path("k.pem")
    half = CliRunner().invoke(app, ["monitor", "--tls-cert", "c.pem"])
    assert half.exit_code == 2 and len(served) == 3


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                                ("0.0.0.0", False), ("10.1.2.3", False), ("monitor.example", False)])
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
