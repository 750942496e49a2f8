"""`simpul run` gives each child its own Kafka principal on a secured platform, and none on a plain one."""

from __future__ import annotations

from pathlib import Path

import pytest

from simpul.cli.run import _principals
from simpul.platform import security
from simpul.platform.endpoints import PlatformStatus
from simpul.platform.exceptions import PlatformError


def status(kafka_security: str) -> PlatformStatus:
    return PlatformStatus(provider="local", services=[], kafka_bootstrap="127.0.0.1:1",
                          registry_url="http://127.0.0.1:2", kafka_security=kafka_security)


def test_secured_platform_gives_every_stage_its_own_user(tmp_path: Path) -> None:
    creds = security.ensure_credentials(tmp_path, ["gatekeeper", "sink-store"])
    principal = _principals(status("SASL_PLAINTEXT"), tmp_path)
    gk, sink = principal("gatekeeper"), principal("sink-store")
    assert gk["SIMPUL_KAFKA_USERNAME"] == "gatekeeper" and sink["SIMPUL_KAFKA_USERNAME"] == "sink-store"
    assert gk["SIMPUL_KAFKA_PASSWORD"] == creds.password("gatekeeper") != sink["SIMPUL_KAFKA_PASSWORD"]
    assert gk["SIMPUL_KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"


def test_plain_platform_adds_no_credentials(tmp_path: Path) -> None:
    assert _principals(status("PLAINTEXT"), tmp_path)("gatekeeper") == {}


def test_secured_platform_without_credentials_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PlatformError, match="credentials.json"):
        _principals(status("SASL_PLAINTEXT"), tmp_path)


# -- secure by default --------------------------------------------------------------------------------------------

class StopHere(PlatformError):
    pass


def _run_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[dict[str, object], str]:
    """`simpul run ARGS` up to the platform's start, which records what it was asked and stops the command."""
    from typer.testing import CliRunner

    from simpul.cli import app
    from simpul.cli import run as run_module
    from simpul.platform.local import LocalPlatform
    from simpul.settings import Settings

    asked: dict[str, object] = {}

    class Recorder(LocalPlatform):
        def status(self) -> PlatformStatus:
            return PlatformStatus(provider="local", services=[])

        def up(self, with_postgres: bool = False, progress=None, **mode: object) -> PlatformStatus:  # noqa: ANN001
            asked.update(mode, with_postgres=with_postgres)
            raise StopHere("stopped before starting anything")

    monkeypatch.setenv("SIMPUL_STATE_DIR", str(tmp_path))
    monkeypatch.setattr(run_module, "platform_for", lambda settings: Recorder(Settings(state_dir=tmp_path)))
    result = CliRunner().invoke(app, ["run", *args])
    assert result.exit_code == 1 and "stopped before starting anything" in result.output, result.output
    return asked, result.output


def test_run_asks_for_the_secured_platform_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    asked, output = _run_cli(tmp_path, monkeypatch)
    assert asked == {"secure": True, "with_postgres": False}  # the embedded default stores to SQLite
    assert "--insecure" not in output


def test_insecure_runs_plaintext_with_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    asked, output = _run_cli(tmp_path, monkeypatch, "--insecure")
    assert asked == {"secure": False, "with_postgres": False}
    assert "warning: --insecure" in output and "PLAINTEXT" in output


def test_the_simulator_writes_every_ingress_topic_and_nothing_else() -> None:
    from topics.catalog import topic_names

    model = security.local_model("jateng")
    simulator = model.principal(security.SIMULATOR)
    assert not simulator.super_user
    for topic in topic_names("jateng"):
        assert simulator.allows("Write", "topic", topic.name) == (topic.role == "ingress"), topic.name
        assert not simulator.allows("Read", "topic", topic.name), topic.name
    assert not simulator.allows("Read", "group", "jateng-gatekeeper")
    assert [p.name for p in model.principals if p.name != security.SIMULATOR] == \
        [p.name for p in security.acl_model("jateng").principals]


def test_run_connects_as_admin_only_to_provision(tmp_path: Path) -> None:
    from simpul.cli.run import as_admin
    from simpul.settings import Settings

    creds = security.ensure_credentials(tmp_path, ["simulator"])
    admin = as_admin(Settings(), status("SASL_PLAINTEXT"), tmp_path)
    assert admin.kafka.username == "admin" and admin.kafka.security_protocol == "SASL_PLAINTEXT"
    assert admin.kafka.password is not None and admin.kafka.password.get_secret_value() == creds.password("admin")
    assert as_admin(Settings(), status("PLAINTEXT"), tmp_path).kafka.username is None
