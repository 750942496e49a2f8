"""The local platform: Apache Kafka (KRaft, one node), Apicurio Registry and PostgreSQL as our own processes.

For machines without a Docker engine. Everything lives under the state folder; pid records let `down` stop
exactly what `up` started, and let a second `up` find the running platform instead of starting another.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

from simpul.platform import artifacts, probes
from simpul.platform.endpoints import PlatformStatus, ServiceName, ServiceStatus
from simpul.platform.exceptions import PlatformError, PortTaken, PrerequisiteMissing
from simpul.platform.processes import Started, forget, log_path, recall, remember, spawn, terminate
from simpul.settings import Settings

Progress = Callable[[str], None]


class LocalPlatform:
    """Start, inspect and stop the platform's processes on loopback ports."""

    name = "local"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.state = settings.state_dir.resolve()

    # -- addresses -------------------------------------------------------------------------------------------
    @property
    def kafka_address(self) -> str:
        return f"127.0.0.1:{self.settings.kafka_port}"

    @property
    def registry_address(self) -> str:
        return f"http://127.0.0.1:{self.settings.registry_port}/apis/ccompat/v7"

    @property
    def postgres_address(self) -> str:
        return f"postgresql+psycopg://simpul@127.0.0.1:{self.settings.postgres_port}/simpul"

    # -- commands --------------------------------------------------------------------------------------------
    def up(self, with_postgres: bool = False, progress: Progress = lambda _: None) -> PlatformStatus:
        """Start what is not running yet; what already runs is left alone and reported."""
        self.state.mkdir(parents=True, exist_ok=True)
        needed: list[ServiceName] = ["kafka", "registry"] + (["postgres"] if with_postgres else [])
        missing = [n for n in needed if recall(self.state, n) is None]
        # Every check that can fail runs before anything starts, cheapest first.
        if {"kafka", "registry"} & set(missing):
            artifacts.java_binary()
        if "registry" in missing:
            artifacts.registry_java()
        if "postgres" in missing:
            _postgres_bin()
        self._check_ports(missing)
        if {"kafka", "registry"} & set(missing):
            progress("checking the Kafka and Apicurio artifacts (Maven, cached after the first run)")
            artifacts.ensure_artifacts(self.state)
        for name in missing:
            progress(f"starting {name}")
            {"kafka": self._start_kafka, "registry": self._start_registry, "postgres": self._start_postgres}[name]()
        return self.status()

    def down(self, progress: Progress = lambda _: None, only: list[ServiceName] | None = None) -> list[str]:
        """Stop the processes this state folder started (all, or `only` these); returns the names stopped."""
        stopped = []
        for name in ("registry", "kafka", "postgres"):
            if only is not None and name not in only:
                continue
            started = recall(self.state, name)  # type: ignore[arg-type]
            if started is None:
                forget(self.state, name)
                continue
            progress(f"stopping {name} (pid {started.pid})")
            terminate(started.pid, first=signal.SIGINT if name == "postgres" else signal.SIGTERM,
                      group=name != "postgres")
            forget(self.state, name)
            stopped.append(name)
        return stopped

    def status(self) -> PlatformStatus:
        services = []
        probe = {
            "kafka": lambda: probes.kafka_answers(self.kafka_address),
            "registry": lambda: probes.registry_answers(self.registry_address),
            "postgres": lambda: probes.postgres_answers(self.postgres_address),
        }
        for name in ("kafka", "registry", "postgres"):
            started = recall(self.state, name)  # type: ignore[arg-type]
            if started is None:
                services.append(ServiceStatus(name=name, running=False, detail="not started"))  # type: ignore[arg-type]
                continue
            answers = probe[name]()
            services.append(ServiceStatus(
                name=name, running=answers, address=started.address, pid=started.pid,  # type: ignore[arg-type]
                detail="answering" if answers else f"process runs but does not answer; see {log_path(self.state, name)}",
            ))
        return PlatformStatus(provider=self.name, services=services)

    # -- services --------------------------------------------------------------------------------------------
    def _check_ports(self, names: list[ServiceName]) -> None:
        s = self.settings
        wanted = {
            "kafka": [("SIMPUL_KAFKA_PORT", s.kafka_port), ("SIMPUL_CONTROLLER_PORT", s.controller_port)],
            "registry": [("SIMPUL_REGISTRY_PORT", s.registry_port),
                         ("SIMPUL_REGISTRY_MANAGEMENT_PORT", s.registry_management_port)],
            "postgres": [("SIMPUL_POSTGRES_PORT", s.postgres_port)],
        }
        for name in names:
            for var, port in wanted[name]:
                if not probes.port_free("127.0.0.1", port):
                    raise PortTaken(
                        f"port {port} for {name} is taken by another process: stop it (`ss -ltnp 'sport = :{port}'` "
                        f"shows which) or choose another port with {var}=<port>"
                    )

    def _start_kafka(self) -> None:
        s = self.settings
        home = self.state / "kafka"
        data = home / "data"
        data.mkdir(parents=True, exist_ok=True)
        props = home / "server.properties"
        props.write_text(_kafka_properties(s.kafka_port, s.controller_port, data))
        java = artifacts.java_binary()
        classpath = f"{artifacts.kafka_lib(self.state)}/*"
        log = log_path(self.state, "kafka")
        jvm = ["-Xms256m", "-Xmx1g", "-XX:+UseG1GC", "-Djava.awt.headless=true",
               f"-Dlog4j2.configurationFile={artifacts.DEPLOY_LOCAL / 'log4j2.properties'}"]
        if not (data / "meta.properties").exists():
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            fmt = subprocess.run(
                [java, *jvm, "-cp", classpath, "kafka.tools.StorageTool", "format", "-t", cluster_id,
                 "-c", str(props), "--standalone"],
                capture_output=True, text=True, check=False,
            )
            if fmt.returncode != 0:
                raise PlatformError(f"formatting Kafka storage in {data} failed: {fmt.stdout}{fmt.stderr}".strip())
        proc = spawn([java, *jvm, "-cp", classpath, "kafka.Kafka", str(props)], log)
        remember(self.state, Started(name="kafka", pid=proc.pid, marker=str(props), address=self.kafka_address))
        probes.wait_until("kafka", lambda: probes.kafka_answers(self.kafka_address), 60, str(log),
                          alive=lambda: proc.poll() is None)

    def _start_registry(self) -> None:
        s = self.settings
        home = artifacts.apicurio_home(self.state)
        jar = home / "quarkus-run.jar"
        log = log_path(self.state, "registry")
        env = {
            "QUARKUS_HTTP_HOST": "127.0.0.1",
            "QUARKUS_HTTP_PORT": str(s.registry_port),
            "QUARKUS_MANAGEMENT_PORT": str(s.registry_management_port),
            "QUARKUS_MANAGEMENT_HOST": "127.0.0.1",
            "QUARKUS_LOG_CONSOLE_JSON": "false",
            # Schemas persist in an H2 file under the state folder, so schema ids stay valid for the data the
            # broker keeps across restarts (the default in-memory store would forget them).
            "APICURIO_STORAGE_KIND": "sql",
            "APICURIO_STORAGE_SQL_KIND": "h2",
            "APICURIO_DATASOURCE_URL": f"jdbc:h2:file:{self.state / 'registry' / 'registry'};DB_CLOSE_ON_EXIT=FALSE",
            "APICURIO_DATASOURCE_USERNAME": "sa",
            "APICURIO_DATASOURCE_PASSWORD": "sa",
        }
        java = artifacts.registry_java()
        proc = spawn([java, "-Xms128m", "-Xmx512m", "-jar", str(jar)], log, env=env, cwd=home)
        remember(self.state, Started(name="registry", pid=proc.pid, marker=str(jar), address=self.registry_address))
        probes.wait_until("registry", lambda: probes.registry_answers(self.registry_address), 90, str(log),
                          alive=lambda: proc.poll() is None)

    def _start_postgres(self) -> None:
        bindir = _postgres_bin()
        port = self.settings.postgres_port
        home = self._postgres_home()
        data = home / "data"
        log = home / "postgres.log"
        as_owner = _as_postgres_user()
        if not (data / "PG_VERSION").exists():
            home.mkdir(parents=True, exist_ok=True)
            _chown_to_postgres(home)
            init = subprocess.run(
                [*as_owner, str(bindir / "initdb"), "-D", str(data), "-U", "simpul", "--auth=trust",
                 "-E", "UTF8", "--locale=C"],
                capture_output=True, text=True, check=False,
            )
            if init.returncode != 0:
                raise PlatformError(f"initdb in {data} failed: {init.stderr.strip() or init.stdout.strip()}")
        opts = f"-p {port} -h 127.0.0.1 -k {home}"
        start = subprocess.run(
            [*as_owner, str(bindir / "pg_ctl"), "start", "-D", str(data), "-l", str(log), "-w", "-t", "60",
             "-o", opts],
            capture_output=True, text=True, check=False,
        )
        if start.returncode != 0:
            raise PlatformError(f"PostgreSQL did not start: {start.stdout.strip()} {start.stderr.strip()}; see {log}")
        pid = int((data / "postmaster.pid").read_text().splitlines()[0])
        remember(self.state, Started(name="postgres", pid=pid, marker=str(data), address=self.postgres_address))
        admin_url = f"postgresql://simpul@127.0.0.1:{port}/postgres"
        probes.wait_until("postgres", lambda: probes.postgres_answers(admin_url), 30, str(log))
        _ensure_database(admin_url, "simpul")
        probes.wait_until("postgres", lambda: probes.postgres_answers(self.postgres_address), 30, str(log))

    def _postgres_home(self) -> Path:
        """Our cluster's folder; outside the state folder only if the postgres user cannot reach it."""
        home = self.state / "postgres"
        if os.geteuid() != 0 or _postgres_can_reach(self.state):
            return home
        import hashlib

        return Path("/var/tmp") / f"simpul-postgres-{hashlib.sha256(str(self.state).encode()).hexdigest()[:10]}"


def _kafka_properties(port: int, controller_port: int, data: Path) -> str:
    return f"""# Generated by `simpul platform up`: a single KRaft node that is broker and controller.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:{controller_port}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs={data}
num.partitions=3
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.check.interval.ms=60000
"""


def _postgres_bin() -> Path:
    """Debian's server binaries (the `postgresql` package), newest major version first."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"),
                        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0, reverse=True)
    if candidates:
        return candidates[0].parent
    found = shutil.which("postgres")
    if found:
        return Path(found).resolve().parent
    raise PrerequisiteMissing(
        "PostgreSQL server binaries not found: install them (Debian: apt-get install postgresql) "
        "or point SIMPUL_POSTGRES_URL at an existing server"
    )


def _as_postgres_user() -> list[str]:
    """initdb refuses root: as root we run the cluster as Debian's `postgres` user."""
    if os.geteuid() != 0:
        return []
    if shutil.which("runuser") is None:
        raise PrerequisiteMissing("running as root needs `runuser` (util-linux) to start PostgreSQL as `postgres`")
    return ["runuser", "-u", "postgres", "--"]


def _postgres_can_reach(path: Path) -> bool:
    probe = subprocess.run(["runuser", "-u", "postgres", "--", "test", "-x", str(path)], check=False)
    return probe.returncode == 0


def _chown_to_postgres(path: Path) -> None:
    if os.geteuid() == 0:
        import pwd

        pw = pwd.getpwnam("postgres")
        os.chown(path, pw.pw_uid, pw.pw_gid)


def _ensure_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        if conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone() is None:
            conn.execute(f'create database "{name}"')
