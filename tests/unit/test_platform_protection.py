"""The local platform's protection without a broker: owner-only files, PostgreSQL's SCRAM-only configuration and its
roles, secrets kept off command lines, mode switching rules, and the Docker/compose definitions on loopback."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr

from simpul.platform import docker, postgres, processes
from simpul.platform.exceptions import PlatformError
from simpul.platform.kraft import KafkaMode
from simpul.platform.local import LocalPlatform
from simpul.platform.permissions import exposed, harden, private_umask, write_private
from simpul.platform.security import Credentials
from simpul.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[2]


# -- owner-only files -----------------------------------------------------------------------------------------------

def test_harden_takes_group_and_other_rights_away(tmp_path: Path) -> None:
    state = tmp_path / "state"
    (state / "kafka" / "data").mkdir(parents=True)
    segment = state / "kafka" / "data" / "00000000000000000000.log"
    segment.write_text("records")
    script = state / "run.sh"
    script.write_text("#!/bin/sh\n")
    for folder in (state, state / "kafka", state / "kafka" / "data"):
        os.chmod(folder, 0o755)
    os.chmod(segment, 0o644)
    os.chmod(script, 0o775)
    (state / "lib").symlink_to(tmp_path)  # never followed, never changed
    os.chmod(tmp_path, 0o755)
    assert set(exposed(state)) == {state, state / "kafka", state / "kafka" / "data", segment, script}
    assert harden(state) == 5
    assert exposed(state) == []
    assert oct(segment.stat().st_mode & 0o777) == "0o600" and oct(script.stat().st_mode & 0o777) == "0o700"
    assert oct(state.stat().st_mode & 0o777) == "0o700"
    assert tmp_path.stat().st_mode & 0o777 == 0o755


def test_harden_can_leave_the_root_enterable_for_a_running_legacy_cluster(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o755)
    (tmp_path / "store.sqlite").write_text("x")
    os.chmod(tmp_path / "store.sqlite", 0o644)
    harden(tmp_path, keep_root_traversable=True)
    assert tmp_path.stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "store.sqlite").stat().st_mode & 0o777 == 0o600


def test_private_umask_and_private_writes(tmp_path: Path) -> None:
    with private_umask():
        (tmp_path / "made.txt").write_text("x")
        (tmp_path / "made").mkdir()
    write_private(tmp_path / "secret", "value")
    assert (tmp_path / "made.txt").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "made").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "secret").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "secret").read_text() == "value"
    assert os.umask(0o022) == 0o022  # restored


def test_spawned_processes_and_their_logs_are_private(tmp_path: Path) -> None:
    from simpul.platform.processes import spawn

    log = tmp_path / "log" / "child.log"
    log.parent.mkdir()
    proc = spawn(["sh", "-c", f"echo hi; touch {tmp_path / 'made-by-child'}"], log)
    assert proc.wait(10) == 0
    assert log.stat().st_mode & 0o777 == 0o600 and log.read_text() == "hi\n"
    assert (tmp_path / "made-by-child").stat().st_mode & 0o777 == 0o600


def test_supervised_children_write_private_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from simpul import supervisor

    umasks: list[object] = []
    real_popen = subprocess.Popen

    def popen(*args: object, **kwargs: object) -> subprocess.Popen[bytes]:
        umasks.append(kwargs.get("umask"))
        return real_popen(*args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(supervisor.subprocess, "Popen", popen)
    sup = supervisor.Supervisor(tmp_path, {}, report=lambda _m: None)
    child = sup.start("help", "--help")
    assert child.proc is not None and child.proc.wait(60) == 0
    assert umasks == [0o077]
    assert child.log.stat().st_mode & 0o777 == 0o600 and "Usage" in child.log.read_text()
    assert (tmp_path / "log").stat().st_mode & 0o777 == 0o700


# -- PostgreSQL -----------------------------------------------------------------------------------------------------

def test_pg_hba_takes_scram_only_and_the_roles_are_limited() -> None:
    rules = [line.split() for line in postgres.HBA.splitlines() if line.strip() and not line.startswith("#")]
    assert [r[0] for r in rules] == ["local", "host", "host"]
    assert all(r[-1] == "scram-sha-256" for r in rules)
    assert "trust" not in postgres.HBA.replace("no trust", "") and "peer" not in postgres.HBA.replace("no peer", "")
    assert {r[3] for r in rules if r[0] == "host"} == {"127.0.0.1/32", "::1/128"}
    for word in ("NOSUPERUSER", "NOCREATEROLE", "NOCREATEDB", "NOBYPASSRLS", "NOREPLICATION"):
        assert word in postgres.APP_ATTRIBUTES.split()
    assert "CREATEDB" in postgres.OWNER_ATTRIBUTES.split() and "NOSUPERUSER" in postgres.OWNER_ATTRIBUTES.split()


def test_role_passwords_are_generated_private_and_read_by_settings(tmp_path: Path) -> None:
    state = tmp_path / "state"
    passwords = postgres.ensure_passwords(state / "secrets")
    again = postgres.ensure_passwords(state / "secrets")
    assert again == passwords  # kept, not regenerated
    values = {passwords.superuser.get_secret_value(), passwords.owner.get_secret_value(),
              passwords.app.get_secret_value()}
    assert len(values) == 3 and all(len(v) >= 43 for v in values)
    for name in postgres.PASSWORD_FILES.values():
        assert (state / "secrets" / name).stat().st_mode & 0o777 == 0o600
    settings = load_settings(state_dir=state, postgres_port=25432)
    app = passwords.app.get_secret_value()
    assert settings.postgres == f"postgresql+psycopg://simpul_app:{app}@127.0.0.1:25432/simpul"
    assert settings.postgres_owner.startswith(
        f"postgresql+psycopg://simpul_owner:{passwords.owner.get_secret_value()}@")
    assert passwords.superuser.get_secret_value() not in settings.postgres + settings.postgres_owner
    assert app not in repr(settings) and app not in settings.model_dump_json()
    assert postgres.masked(settings.postgres) == "postgresql+psycopg://simpul_app:***@127.0.0.1:25432/simpul"


def test_local_status_address_is_masked(tmp_path: Path) -> None:
    postgres.ensure_passwords(tmp_path / "secrets")
    platform = LocalPlatform(Settings(state_dir=tmp_path, postgres_port=25432))
    assert platform.postgres_address == "postgresql+psycopg://simpul_app:***@127.0.0.1:25432/simpul"
    assert ":***@" not in platform.postgres_url and "simpul_app:" in platform.postgres_url


def test_a_configured_postgres_url_is_a_secret() -> None:
    s = Settings(postgres_url=SecretStr("postgresql+psycopg://ops:hunter2-hunter2@db.example/simpul"))
    assert "hunter2" not in repr(s) and "hunter2" not in s.model_dump_json()
    assert s.postgres == s.postgres_owner == "postgresql+psycopg://ops:hunter2-hunter2@db.example/simpul"


def test_initdb_reads_the_superuser_password_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    pwfile_contents: list[str] = []

    def fake_run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        seen.append(cmd)
        pwfile = next(a.split("=", 1)[1] for a in cmd if a.startswith("--pwfile="))
        pwfile_contents.append(Path(pwfile).read_text())
        assert Path(pwfile).stat().st_mode & 0o777 == 0o600 and kwargs.get("umask") == 0o077
        data = Path(cmd[cmd.index("-D") + 1])
        data.mkdir(parents=True)
        (data / "pg_hba.conf").write_text("local all all trust\n")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(postgres.subprocess, "run", fake_run)
    monkeypatch.setattr(postgres, "as_postgres_user", lambda: [])
    monkeypatch.setattr(postgres, "chown_to_postgres", lambda *_a, **_k: None)
    passwords = postgres.ensure_passwords(tmp_path / "secrets")
    cluster = postgres.Cluster(Path("/usr/lib/postgresql/15/bin"), tmp_path / "pg", 25432, postgres.Roles(), passwords)
    cluster.init()
    (cmd,) = seen
    assert pwfile_contents == [passwords.superuser.get_secret_value()]
    assert not any(passwords.superuser.get_secret_value() in a for a in cmd)
    assert "--auth-local=scram-sha-256" in cmd and "--auth-host=scram-sha-256" in cmd and "-U" in cmd
    assert not list((tmp_path / "pg").glob("initdb-password*")), "the password file outlived initdb"
    assert cluster.secured() and cluster.hba.read_text() == postgres.HBA


# -- Kafka: no secret on a command line, and mode switching ---------------------------------------------------------

def test_storage_format_gets_the_scram_password_in_an_argument_file(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[list[str], str, int]] = []

    def fake_run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        argfile = Path(cmd[-1].removeprefix("@"))
        seen.append((cmd, argfile.read_text(), argfile.stat().st_mode & 0o777))
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(processes.subprocess, "run", fake_run)
    creds = Credentials(users={"admin": SecretStr("adm-pw-\"quoted\""), "controller": SecretStr("ctl")})
    from simpul.platform.security import scram_format_args

    processes.java_with_argfile(["java", "-cp", "lib/*"],
                                ["kafka.tools.StorageTool", "format", *scram_format_args(creds)],
                                tmp_path / "format.args", "formatting")
    ((cmd, text, mode),) = seen
    assert not any("adm-pw" in a for a in cmd)
    assert cmd[:3] == ["java", "-cp", "lib/*"] and cmd[-1] == f"@{tmp_path / 'format.args'}"
    assert mode == 0o600 and '"SCRAM-SHA-512=[name=admin,password=adm-pw-\\"quoted\\"]"' in text
    assert not (tmp_path / "format.args").exists()


def _formatted(state: Path, mode: KafkaMode) -> LocalPlatform:
    (state / "kafka" / "data").mkdir(parents=True)
    (state / "kafka" / "data" / "meta.properties").write_text("node.id=1\n")
    mode.write(state)
    return LocalPlatform(Settings(state_dir=state))


def test_a_stopped_plain_folder_switches_to_secure_in_place(tmp_path: Path) -> None:
    platform = _formatted(tmp_path, KafkaMode())
    assert platform.wanted_mode(True, None, kafka_running=False) == (KafkaMode(secure=True), True)
    assert platform.wanted_mode(None, None, kafka_running=False) == (KafkaMode(), False)


def test_a_running_kafka_never_switches_and_says_what_to_do(tmp_path: Path) -> None:
    platform = _formatted(tmp_path, KafkaMode())
    with pytest.raises(PlatformError) as exc:
        platform.wanted_mode(True, None, kafka_running=True)
    assert "simpul platform down" in str(exc.value) and "--insecure" in str(exc.value)
    assert "\n" not in str(exc.value)
    secured = _formatted(tmp_path / "s", KafkaMode(secure=True))
    with pytest.raises(PlatformError, match="cannot switch to PLAINTEXT while it runs"):
        secured.wanted_mode(False, None, kafka_running=True)
    assert secured.wanted_mode(False, None, kafka_running=False) == (KafkaMode(), True)


def test_the_number_of_nodes_never_changes(tmp_path: Path) -> None:
    platform = _formatted(tmp_path, KafkaMode())
    with pytest.raises(PlatformError, match="its topics are lost"):
        platform.wanted_mode(None, 3, kafka_running=False)


# -- Docker and compose ---------------------------------------------------------------------------------------------

def test_containers_publish_on_loopback_with_generated_passwords(tmp_path: Path) -> None:
    passwords = postgres.ensure_passwords(tmp_path)
    settings = Settings(kafka_port=29092, registry_port=28080, postgres_port=25432)
    specs = docker.container_specs(settings, passwords)
    assert {name: spec.ports for name, spec in specs.items()} == {
        "kafka": {9093: ("127.0.0.1", 29092)}, "registry": {8080: ("127.0.0.1", 28080)},
        "postgres": {5432: ("127.0.0.1", 25432)}}
    env = specs["postgres"].env
    assert env["POSTGRES_PASSWORD"] == passwords.superuser.get_secret_value()
    assert env["POSTGRES_USER"] == postgres.SUPERUSER


def test_compose_publishes_on_loopback_and_reads_the_generated_secrets() -> None:
    folder = REPO / "deploy" / "compose"
    compose = yaml.safe_load((folder / "docker-compose.yml").read_text())
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)
        for key, value in (service.get("environment") or {}).items():
            if "PASSWORD" in key and not key.endswith("_FILE"):
                raise AssertionError(f"{name}: {key} holds a literal password")
    files = {Path(s["file"]).name for s in compose["secrets"].values()}
    assert files == set(postgres.PASSWORD_FILES.values())
    text = "\n".join(p.read_text() for p in folder.iterdir() if p.is_file())
    for literal in ("password: simpul", "PASSWORD: simpul", "=simpul ", "'simpul'", "PASSWORD 'simpul'"):
        assert literal not in text, literal
    for role in (Settings().postgres_owner_user, Settings().postgres_user, postgres.SUPERUSER):
        assert role in text, role
