"""State folders made before the platform was hardened keep working, and are hardened in place.

- A plain Kafka folder (world-readable segments, no users) switches to SASL/SCRAM on `up --secure` (what
  `simpul run` asks for) once its broker is stopped, its topics and records kept; a running broker is never
  switched and the one-line error says what to run.
- A PostgreSQL cluster made the old way (`initdb -U simpul --auth=trust`, world-readable state folder) is secured
  while it runs (roles, passwords, pg_hba.conf reloaded) and, once stopped and started again, moves out of the
  owner-only state folder when root runs the platform; its data is kept throughout.

Each test runs on its own private platform (free ports), so nothing here depends on the suite's platform.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from simpul.platform.probes import free_port_block
from private_platform import private_env, private_state, remove_private, simpul

from simpul.platform import postgres, security
from simpul.platform.local import LocalPlatform
from simpul.platform.permissions import exposed
from simpul.settings import load_settings

TOPIC = "legacy.keep"


def _loosen(root: Path) -> None:
    """What an earlier version left: folders 0755, files 0644."""
    for folder, dirs, files in os.walk(root):
        os.chmod(folder, 0o755)
        for name in files:
            path = Path(folder) / name
            if not path.is_symlink():
                os.chmod(path, 0o644)


def test_a_plain_kafka_folder_switches_to_secure_in_place() -> None:
    state = private_state("legacy-kafka")
    base = free_port_block(2)[0]
    env = private_env(state, kafka=base, controller=base + 1)
    bootstrap = f"127.0.0.1:{base}"
    try:
        plain = simpul(["platform", "up", "--plain", "--kafka-only", "--json"], env)
        assert plain.returncode == 0, plain.stderr[-3000:]
        admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
        admin.create_topics([NewTopic(TOPIC, 1, 1)])[TOPIC].result(30)
        producer = Producer({"bootstrap.servers": bootstrap, "log_level": 0})
        producer.produce(TOPIC, b"kept across the switch")
        assert producer.flush(30) == 0
        assert simpul(["platform", "down", "--json"], env).returncode == 0
        _loosen(state / "kafka")
        os.chmod(state, 0o755)
        assert exposed(state)

        started = time.monotonic()
        secure = simpul(["platform", "up", "--secure", "--kafka-only", "--json"], env)
        assert secure.returncode == 0, secure.stderr[-3000:]
        assert json.loads(secure.stdout)["kafka_security"] == "SASL_PLAINTEXT"
        assert time.monotonic() - started < 90
        assert exposed(state) == [], exposed(state)[:10]

        with pytest.raises(KafkaException):
            AdminClient({"bootstrap.servers": bootstrap, "log_level": 0,
                         "socket.timeout.ms": 3000}).list_topics(timeout=5)
        creds = security.load_credentials(state)
        assert creds is not None and "simulator" in creds.users
        conf = {"bootstrap.servers": bootstrap, **creds.client_conf("admin"), "log_level": 0}
        consumer = Consumer({**conf, "group.id": "legacy-check", "enable.auto.commit": False})
        try:
            consumer.assign([TopicPartition(TOPIC, 0, 0)])
            msg = None
            end = time.monotonic() + 30
            while msg is None and time.monotonic() < end:
                got = consumer.poll(0.5)
                msg = got if got is not None and got.error() is None else None
        finally:
            consumer.close()
        assert msg is not None and msg.value() == b"kept across the switch"

        refused = simpul(["platform", "up", "--plain", "--kafka-only"], env)
        assert refused.returncode == 1
        errors = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "simpul platform down" in errors[0], refused.stderr
    finally:
        down = remove_private(state, env)
        assert down.returncode == 0, down.stderr


# -- PostgreSQL ------------------------------------------------------------------------------------------------------

@pytest.fixture
def legacy_state() -> Iterator[Path]:
    """A state folder the `postgres` OS user may enter, as the earlier version made them (0755)."""
    state = Path(tempfile.mkdtemp(prefix="simpul-legacy-"))
    os.chmod(state, 0o755)
    yield state
    shutil.rmtree(state, ignore_errors=True)


def _old_cluster(state: Path, port: int) -> int:
    """A cluster exactly as the earlier version made and started it; returns the postmaster's pid."""
    home = state / "postgres"
    home.mkdir()
    postgres.chown_to_postgres(home)
    bindir, as_owner = postgres.postgres_bin(), postgres.as_postgres_user()
    subprocess.run([*as_owner, str(bindir / "initdb"), "-D", str(home / "data"), "-U", "simpul", "--auth=trust",
                    "-E", "UTF8", "--locale=C"], check=True, capture_output=True)
    subprocess.run([*as_owner, str(bindir / "pg_ctl"), "start", "-D", str(home / "data"), "-l",
                    str(home / "postgres.log"), "-w", "-o", f"-p {port} -h 127.0.0.1 -k {home}"],
                   check=True, capture_output=True)
    with psycopg.connect(host="127.0.0.1", port=port, user="simpul", dbname="postgres", autocommit=True) as conn:
        conn.execute("create database simpul")
    with psycopg.connect(host="127.0.0.1", port=port, user="simpul", dbname="simpul", autocommit=True) as conn:
        conn.execute("create table findings (id serial primary key, note text)")
        conn.execute("insert into findings (note) values ('written before the upgrade')")
    pid = int((home / "data" / "postmaster.pid").read_text().splitlines()[0])
    (state / "run").mkdir()
    (state / "run" / "postgres.json").write_text(json.dumps({
        "name": "postgres", "pid": pid, "marker": str(home / "data"),
        "address": f"postgresql+psycopg://simpul@127.0.0.1:{port}/simpul"}))
    return pid


def _check_secured(state: Path, port: int) -> None:
    settings = load_settings(state_dir=state, postgres_port=port)
    for user in ("simpul", "simpul_app", "simpul_owner", "postgres"):
        with pytest.raises(psycopg.OperationalError, match="no password supplied|password authentication failed"):
            psycopg.connect(host="127.0.0.1", port=port, user=user, dbname="postgres", connect_timeout=5)
    with psycopg.connect(settings.postgres.replace("postgresql+psycopg://", "postgresql://")) as conn:
        assert conn.execute("select note from findings").fetchall()[0] == ("written before the upgrade",)
        conn.execute("insert into findings (note) values ('written by the application role')")
        assert conn.execute("select rolsuper from pg_roles where rolname = current_user").fetchone() == (False,)
    with psycopg.connect(settings.postgres_owner.replace("postgresql+psycopg://", "postgresql://")) as conn:
        owner = conn.execute("select tableowner from pg_tables where tablename = 'findings'").fetchone()
        assert owner == (settings.postgres_owner_user,)
        assert conn.execute("select rolcanlogin from pg_roles where rolname = 'simpul'").fetchone() == (False,)


def test_a_trust_cluster_is_secured_while_it_runs_and_kept_when_restarted(legacy_state: Path) -> None:
    port = free_port_block(1, consecutive=False)[0]
    old_pid = _old_cluster(legacy_state, port)
    platform = LocalPlatform(load_settings(state_dir=legacy_state, postgres_port=port))
    try:
        status = platform.up(only=["postgres"])
        pg = status.service("postgres")
        assert pg is not None and pg.running and pg.pid == old_pid, "the running cluster was restarted"
        assert pg.address == f"postgresql+psycopg://simpul_app:***@127.0.0.1:{port}/simpul"
        hba = (legacy_state / "postgres" / "data" / "pg_hba.conf").read_text()
        assert "trust" not in hba.replace("no trust", "")
        _check_secured(legacy_state, port)

        assert platform.down(only=["postgres"]) == ["postgres"]
        status = platform.up(only=["postgres"])
        assert status.service("postgres").running  # type: ignore[union-attr]
        home = platform.postgres_home
        assert (home / "data" / "PG_VERSION").is_file()
        if os.geteuid() == 0:  # the `postgres` OS user cannot enter an owner-only state folder: moved out
            assert home == platform.postgres_home and not (legacy_state / "postgres").exists()
        _check_secured(legacy_state, port)
        loose = exposed(legacy_state) + (exposed(home) if not home.is_relative_to(legacy_state) else [])
        assert loose == [], loose[:10]
    finally:
        platform.down(only=["postgres"])
        platform.purge()
