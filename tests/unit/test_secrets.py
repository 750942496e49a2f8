"""Installation secrets: generated private, read through Settings, development values refused with one line."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from simpul import secret_files
from simpul.secret_files import SecretError
from simpul.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]
DEV_NIK_KEY = "simpul-local-development-key-change-me"


@pytest.fixture(autouse=True)
def _no_secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for spec in secret_files.SPECS:
        monkeypatch.delenv(spec.env, raising=False)
    monkeypatch.delenv("SIMPUL_SECRETS_DIR", raising=False)


def test_generated_secrets_are_private_random_and_kept(tmp_path: Path) -> None:
    folder = tmp_path / "state" / "secrets"
    made = secret_files.ensure(folder)
    assert made == [s.name for s in secret_files.SPECS]
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    values = {}
    for spec in secret_files.SPECS:
        path = folder / spec.filename
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        values[spec.name] = path.read_text()
        assert secret_files.weakness(values[spec.name]) is None
    assert len(set(values.values())) == len(values)
    assert secret_files.ensure(folder) == []  # a second start keeps them
    assert {s.name: (folder / s.filename).read_text() for s in secret_files.SPECS} == values
    assert secret_files.unsafe_files(folder) == []
    os.chmod(folder / "simpul_dlq_key", 0o644)
    assert secret_files.unsafe_files(folder) == [folder / "simpul_dlq_key"]


def test_settings_read_the_folder_and_the_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path / "state"
    secret_files.ensure(secret_files.default_dir(state))
    s = load_settings(state_dir=state)
    assert s.secret("nik_hmac_key") == (state / "secrets" / "simpul_nik_hmac_key").read_text()
    assert s.secret("nik_hmac_key") not in repr(s) and s.secret("dlq_key") not in s.model_dump_json()
    mine = "x" * 40
    monkeypatch.setenv("SIMPUL_NIK_HMAC_KEY", mine)
    assert load_settings(state_dir=state).secret("nik_hmac_key") == mine


def test_a_missing_secret_says_how_to_make_it(tmp_path: Path) -> None:
    s = load_settings(state_dir=tmp_path / "empty")
    with pytest.raises(SecretError, match=r"SIMPUL_DLQ_KEY is not set .* `simpul secrets show`"):
        s.secret("dlq_key")


@pytest.mark.parametrize("value", [DEV_NIK_KEY, "simpul-local-webhook-secret-change-me", "short-but-random-1"])
def test_development_or_short_values_are_refused_naming_the_setting(tmp_path: Path, value: str,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIMPUL_ALERT_WEBHOOK_SECRET", value)
    with pytest.raises(SettingsError, match="^SIMPUL_ALERT_WEBHOOK_SECRET (is a known development value|is shorter)"):
        load_settings(state_dir=tmp_path)


def test_a_weak_value_in_the_secrets_folder_is_refused_too(tmp_path: Path) -> None:
    folder = secret_files.default_dir(tmp_path)
    secret_files.ensure(folder)
    (folder / "simpul_session_key").write_text("change-me")
    with pytest.raises(SettingsError, match="SIMPUL_SESSION_KEY is a known development value"):
        load_settings(state_dir=tmp_path)


def test_rotation_keeps_old_dlq_keys_and_replaces_others(tmp_path: Path) -> None:
    folder = secret_files.default_dir(tmp_path)
    secret_files.ensure(folder)
    first = (folder / "simpul_dlq_key").read_text()
    secret_files.rotate(folder, "dlq_key")
    second = (folder / "simpul_dlq_key").read_text()
    secret_files.rotate(folder, "dlq_key")
    s = load_settings(state_dir=tmp_path)
    assert s.secret("dlq_key") not in (first, second)
    assert s.retired_dlq_keys() == [second, first]
    old = (folder / "simpul_session_key").read_text()
    secret_files.rotate(folder, "session_key")
    assert load_settings(state_dir=tmp_path).secret("session_key") != old
    with pytest.raises(SecretError, match="no secret named"):
        secret_files.rotate(folder, "nope")


def test_rotating_the_nik_key_needs_consent(tmp_path: Path) -> None:
    env = {**os.environ, "SIMPUL_STATE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    run = [sys.executable, "-m", "simpul", "secrets"]
    assert subprocess.run([*run, "show", "--json"], env=env, capture_output=True, timeout=60).returncode == 0
    before = (tmp_path / "secrets" / "simpul_nik_hmac_key").read_text()
    refused = subprocess.run([*run, "rotate", "nik_hmac_key"], env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "--tokens-change" in refused.stderr
    assert (tmp_path / "secrets" / "simpul_nik_hmac_key").read_text() == before
    done = subprocess.run([*run, "rotate", "nik_hmac_key", "--tokens-change"], env=env, capture_output=True,
                          timeout=60)
    assert done.returncode == 0
    assert (tmp_path / "secrets" / "simpul_nik_hmac_key").read_text() != before


@pytest.mark.parametrize("command", [["streams", "run", "gatekeeper"], ["sink", "store"], ["sink", "alerts"]])
def test_processes_started_with_a_development_secret_exit_with_one_line(tmp_path: Path, command: list[str]) -> None:
    secret_files.ensure(secret_files.default_dir(tmp_path))
    env = {**os.environ, "SIMPUL_STATE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT),
           "SIMPUL_NIK_HMAC_KEY": DEV_NIK_KEY, "SIMPUL_KAFKA_BOOTSTRAP": "127.0.0.1:9"}
    done = subprocess.run([sys.executable, "-m", "simpul", *command], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: SIMPUL_NIK_HMAC_KEY is a known development value")
