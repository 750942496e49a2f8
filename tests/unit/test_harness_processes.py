"""The harness's worker processes (chaos, soak) get the store's URL, which carries its role's password, through
the environment: a command line is readable by every user of the host (`ps`)."""

from __future__ import annotations

from pathlib import Path

from harness.processes import Pipeline
from simpul.settings import Settings

URL = "postgresql+psycopg://simpul_owner:s3cret-Pa55word@127.0.0.1:5432/simpul_soak"


def test_the_store_url_goes_through_the_environment_not_the_command_line(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, nik_hmac_key="k" * 32, dlq_key="d" * 32, tlog_signing_key="t" * 32,
                        gateway_digest_key="g" * 32)
    p = Pipeline(settings, "p", tmp_path / "p", store_url=URL, webhook="http://127.0.0.1:1/hook")
    for name in ("sink-store", "sink-alerts", "transparency"):
        command = p.command(name)
        assert not [arg for arg in command if "s3cret" in arg], command
    assert p.env()["SIMPUL_STORE_URL"] == URL
