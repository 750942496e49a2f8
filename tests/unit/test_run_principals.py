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
