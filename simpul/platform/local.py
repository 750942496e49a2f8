"""The local platform: Apache Kafka (KRaft, one node), Apicurio Registry and PostgreSQL as our own processes.

For machines without a Docker engine. Everything lives under the state folder; pid records let `down` stop
exactly what `up` started, and let a second `up` find the running platform instead of starting another.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from simpul.platform import artifacts, probes, security
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
        """Bootstrap servers of the running (or last formatted) Kafka: one node, or all three."""
        return ",".join(f"127.0.0.1:{n.port}" for n in self._nodes(self._mode()))

    def _mode(self) -> KafkaMode:
        return KafkaMode.read(self.state) or KafkaMode()

    def _nodes(self, mode: KafkaMode) -> list[KafkaNode]:
        return kafka_nodes(self.state, mode, self.settings.kafka_port, self.settings.controller_port)

    def kafka_client_conf(self) -> dict[str, object]:
        """librdkafka security keys for the platform's own admin connections (empty unless secure)."""
        mode = self._mode()
        if not mode.secure:
            return {}
        creds = security.load_credentials(self.state)
        if creds is None:
            raise PlatformError(f"secure mode but no credentials under {security.credentials_path(self.state)}")
        return creds.client_conf(security.ADMIN)

    @property
    def registry_address(self) -> str:
        return f"http://127.0.0.1:{self.settings.registry_port}/apis/ccompat/v7"

    @property
    def postgres_address(self) -> str:
        return f"postgresql+psycopg://simpul@127.0.0.1:{self.settings.postgres_port}/simpul"

    # -- commands --------------------------------------------------------------------------------------------
    def up(self, with_postgres: bool = False, progress: Progress = lambda _: None, *,
           secure: bool | None = None, brokers: int | None = None, kafka_only: bool = False) -> PlatformStatus:
        """Start what is not running yet; what already runs is left alone and reported.

        `secure` (SASL/SCRAM + ACLs) and `brokers` (1 or 3 KRaft nodes) choose the Kafka mode; None keeps the mode
        the state folder's Kafka was formatted with (plain, one node for a new one). A mode that differs from the
        running or formatted one is refused: data formatted for one mode is never silently reused for another.
        """
        self.state.mkdir(parents=True, exist_ok=True)
        needed: list[ServiceName] = ["kafka"] if kafka_only else ["kafka", "registry"]
        needed += ["postgres"] if with_postgres else []
        missing = [n for n in needed if recall(self.state, n) is None]
        mode = self._wanted_mode(secure, brokers, kafka_running="kafka" not in missing)
        # Every check that can fail runs before anything starts, cheapest first.
        if {"kafka", "registry"} & set(missing):
            artifacts.java_binary()
        if "registry" in missing:
            artifacts.registry_java()
        if "postgres" in missing:
            _postgres_bin()
        self._check_ports(missing, mode)
        if {"kafka", "registry"} & set(missing):
            progress("checking the Kafka and Apicurio artifacts (Maven, cached after the first run)")
            artifacts.ensure_artifacts(self.state)
        for name in missing:
            progress(f"starting {name}" + (f" ({mode.describe()})" if name == "kafka" else ""))
            if name == "kafka":
                self._start_kafka(mode, progress)
            else:
                {"registry": self._start_registry, "postgres": self._start_postgres}[name]()
        return self.status()

    def _wanted_mode(self, secure: bool | None, brokers: int | None, *, kafka_running: bool) -> KafkaMode:
        stored = KafkaMode.read(self.state)
        formatted = stored is not None or (self.state / "kafka" / "data" / "meta.properties").exists()
        current = stored or KafkaMode()
        wanted = KafkaMode(secure=current.secure if secure is None else secure,
                           brokers=current.brokers if brokers is None else brokers)
        if wanted != current and (kafka_running or formatted):
            what = "runs" if kafka_running else f"was formatted under {self.state / 'kafka'}"
            raise PlatformError(
                f"Kafka {what} as {current.describe()}, not {wanted.describe()}: run `simpul platform down`, then "
                f"remove {self.state / 'kafka'} (its topics are lost) or choose another SIMPUL_STATE_DIR"
            )
        return wanted

    def down(self, progress: Progress = lambda _: None, only: list[ServiceName] | None = None) -> list[str]:
        """Stop the processes this state folder started (all, or `only` these); returns the names stopped."""
        stopped = []
        for name in ("registry", "kafka", "postgres"):
            if only is not None and name not in only:
                continue
            records = [name] if name != "kafka" else [n.record for n in self._nodes(self._mode())]
            running = [(r, s) for r in records if (s := recall(self.state, r)) is not None]
            for record in records:
                if recall(self.state, record) is None:
                    forget(self.state, record)
            if not running:
                continue
            for record, started in running:
                progress(f"stopping {record} (pid {started.pid})")
            # Kafka nodes stop together: one node left alone waits for a quorum that is going away.
            _terminate_all([s.pid for _, s in running], first=signal.SIGINT if name == "postgres" else signal.SIGTERM,
                           group=name != "postgres")
            for record, _ in running:
                forget(self.state, record)
            stopped.append(name)
        return stopped

    def status(self) -> PlatformStatus:
        services = []
        mode = self._mode()
        probe = {
            "kafka": lambda: self._kafka_ready(mode.brokers),
            "registry": lambda: probes.registry_answers(self.registry_address),
            "postgres": lambda: probes.postgres_answers(self.postgres_address),
        }
        for name in ("kafka", "registry", "postgres"):
            started = recall(self.state, name)  # type: ignore[arg-type]
            if started is None:
                services.append(ServiceStatus(name=name, running=False, detail="not started"))  # type: ignore[arg-type]
                continue
            answers = probe[name]()
            detail = "answering" if answers else f"process runs but does not answer; see {log_path(self.state, name)}"
            if name == "kafka":
                detail += f"; {mode.describe()}"
                nodes = [recall(self.state, n.record) for n in self._nodes(mode)]
                if any(n is None for n in nodes):
                    answers = False
                    detail = f"only {sum(n is not None for n in nodes)} of {mode.brokers} nodes run; {detail}"
            services.append(ServiceStatus(
                name=name, running=answers, address=started.address, pid=started.pid,  # type: ignore[arg-type]
                detail=detail,
            ))
        return PlatformStatus(provider=self.name, services=services,
                              kafka_security="SASL_PLAINTEXT" if mode.secure else "PLAINTEXT",
                              kafka_sasl_mechanism=security.MECHANISM if mode.secure else None,
                              kafka_brokers=mode.brokers)

    def _kafka_ready(self, brokers: int, timeout: float = 3.0) -> bool:
        """All nodes are brokers in the metadata (and, secured, the admin user authenticates)."""
        try:
            conf = self.kafka_client_conf()
        except PlatformError:
            return False
        return probes.kafka_brokers(self.kafka_address, conf, timeout) >= brokers

    # -- services --------------------------------------------------------------------------------------------
    def _check_ports(self, names: list[ServiceName], mode: KafkaMode) -> None:
        s = self.settings
        nodes = self._nodes(mode)
        kafka_ports = []
        for n in nodes:
            step = "" if len(nodes) == 1 else f"+{2 * (n.node_id - 1)} (node {n.node_id})"
            kafka_ports += [(f"SIMPUL_KAFKA_PORT{step}", n.port), (f"SIMPUL_CONTROLLER_PORT{step}", n.controller_port)]
        used = [p for _, p in kafka_ports]
        if len(set(used)) != len(used):
            raise PlatformError(
                f"the Kafka nodes' ports overlap ({', '.join(map(str, used))}): node i listens on "
                "SIMPUL_KAFKA_PORT+2(i-1) and SIMPUL_CONTROLLER_PORT+2(i-1); set SIMPUL_CONTROLLER_PORT=SIMPUL_KAFKA_PORT+1")
        wanted = {
            "kafka": kafka_ports,
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

    def _start_kafka(self, mode: KafkaMode, progress: Progress = lambda _: None) -> None:
        """Format (first time) and start every node, wait until all are brokers; secured, provision users and ACLs."""
        nodes = self._nodes(mode)
        creds = None
        if mode.secure:
            from topics.acls import acl_model

            creds = security.ensure_credentials(self.state, acl_model(self.settings.topic_prefix).names)
        java = artifacts.java_binary()
        classpath = f"{artifacts.kafka_lib(self.state)}/*"
        heap = "-Xmx1g" if len(nodes) == 1 else "-Xmx512m"
        jvm = ["-Xms256m", heap, "-XX:+UseG1GC", "-Djava.awt.headless=true",
               f"-Dlog4j2.configurationFile={artifacts.DEPLOY_LOCAL / 'log4j2.properties'}"]
        cluster_id = _cluster_id()
        for node in nodes:
            node.data.mkdir(parents=True, exist_ok=True)
            node.props.write_text(_node_properties(node, nodes, creds))
            if creds is not None:
                os.chmod(node.props, 0o600)  # holds the broker's passwords
            if (node.data / "meta.properties").exists():
                continue
            quorum = ["--standalone"] if len(nodes) == 1 else []  # three nodes: static controller.quorum.voters
            scram = security.scram_format_args(creds) if creds is not None else []
            fmt = subprocess.run(
                [java, *jvm, "-cp", classpath, "kafka.tools.StorageTool", "format", "-t", cluster_id,
                 "-c", str(node.props), *quorum, *scram],
                capture_output=True, text=True, check=False,
            )
            if fmt.returncode != 0:
                raise PlatformError(f"formatting Kafka storage in {node.data} failed: {fmt.stdout}{fmt.stderr}".strip())
        mode.write(self.state)
        procs = []
        for node in nodes:
            log = log_path(self.state, node.record)
            proc = spawn([java, *jvm, "-cp", classpath, "kafka.Kafka", str(node.props)], log)
            remember(self.state, Started(name=node.record, pid=proc.pid, marker=str(node.props),
                                         address=self.kafka_address))
            procs.append(proc)
        logs = ", ".join(str(log_path(self.state, n.record)) for n in nodes)
        probes.wait_until("kafka", lambda: self._kafka_ready(len(nodes)), 60 + 30 * (len(nodes) - 1), logs,
                          alive=lambda: all(p.poll() is None for p in procs))
        if creds is not None:
            from topics.acls import acl_model

            progress("creating the SCRAM users and ACLs")
            security.provision(self.kafka_address, creds, acl_model(self.settings.topic_prefix))

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


class KafkaMode(BaseModel):
    """How the state folder's Kafka is formatted: secured or not, one node or three."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    secure: bool = False
    brokers: Literal[1, 3] = 1

    def describe(self) -> str:
        nodes = "1 KRaft node" if self.brokers == 1 else f"{self.brokers} KRaft nodes"
        return f"{nodes}, " + (f"SASL_PLAINTEXT/{security.MECHANISM} with ACLs" if self.secure else "PLAINTEXT")

    @staticmethod
    def path(state: Path) -> Path:
        return state / "kafka" / "mode.json"

    @classmethod
    def read(cls, state: Path) -> KafkaMode | None:
        path = cls.path(state)
        return cls.model_validate(json.loads(path.read_text())) if path.is_file() else None

    def write(self, state: Path) -> None:
        self.path(state).parent.mkdir(parents=True, exist_ok=True)
        self.path(state).write_text(self.model_dump_json())


class KafkaNode(BaseModel):
    """One KRaft node (broker and controller) of the local platform."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    node_id: int
    port: int
    controller_port: int
    home: Path

    @property
    def record(self) -> str:
        """Its pid record's name: `kafka` for node 1 (as before), `kafka-2`, `kafka-3`."""
        return "kafka" if self.node_id == 1 else f"kafka-{self.node_id}"

    @property
    def props(self) -> Path:
        return self.home / "server.properties"

    @property
    def data(self) -> Path:
        return self.home / "data"


def kafka_nodes(state: Path, mode: KafkaMode, kafka_port: int, controller_port: int) -> list[KafkaNode]:
    """Node i listens on kafka_port + 2(i-1) and controller_port + 2(i-1); one node keeps `<state>/kafka`."""
    if mode.brokers == 1:
        return [KafkaNode(node_id=1, port=kafka_port, controller_port=controller_port, home=state / "kafka")]
    return [KafkaNode(node_id=i, port=kafka_port + 2 * (i - 1), controller_port=controller_port + 2 * (i - 1),
                      home=state / "kafka" / f"node-{i}") for i in range(1, mode.brokers + 1)]


def _kafka_properties(port: int, controller_port: int, data: Path) -> str:
    """server.properties of the plain single node whose data lives in `data`."""
    node = KafkaNode(node_id=1, port=port, controller_port=controller_port, home=data.parent)
    return _node_properties(node, [node], None, data_dir=data)


def _cluster_id() -> str:
    """A KRaft cluster id as Kafka's own `Uuid.randomUuid` makes it: base64url of 16 random bytes, never starting
    with '-', which `kafka-storage format -t` would read as an option (one id in 64 otherwise)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _node_properties(node: KafkaNode, nodes: list[KafkaNode], creds: security.Credentials | None,
                     data_dir: Path | None = None) -> str:
    """server.properties of one node of `nodes`; with `creds`, the secured listeners and the authorizer."""
    data_dir = data_dir or node.data
    single = len(nodes) == 1
    client = "SASL_PLAINTEXT" if creds is not None else "PLAINTEXT"
    controller_protocol = "SASL_PLAINTEXT" if creds is not None else "PLAINTEXT"
    if single:
        quorum = f"controller.quorum.bootstrap.servers=127.0.0.1:{node.controller_port}"
    else:
        quorum = "controller.quorum.voters=" + ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in nodes)
    rf, isr = (1, 1) if single else (3, 2)
    text = f"""# Generated by `simpul platform up`: KRaft node {node.node_id} of {len(nodes)}, broker and controller.
process.roles=broker,controller
node.id={node.node_id}
{quorum}
listeners={client}://127.0.0.1:{node.port},CONTROLLER://127.0.0.1:{node.controller_port}
advertised.listeners={client}://127.0.0.1:{node.port}
controller.listener.names=CONTROLLER
inter.broker.listener.name={client}
listener.security.protocol.map={client}:{client},CONTROLLER:{controller_protocol}
log.dirs={data_dir}
num.partitions=3
auto.create.topics.enable=false
default.replication.factor={rf}
min.insync.replicas={isr}
offsets.topic.replication.factor={rf}
offsets.topic.num.partitions=10
transaction.state.log.replication.factor={rf}
transaction.state.log.min.isr={isr}
share.coordinator.state.topic.replication.factor={rf}
share.coordinator.state.topic.min.isr={isr}
group.initial.rebalance.delay.ms=0
log.retention.check.interval.ms=60000
"""
    if creds is not None:
        text += security.broker_properties(creds)
    return text


def _terminate_all(pids: list[int], first: signal.Signals, group: bool) -> None:
    """Signal every process first, then wait for each (so nodes of one cluster stop together)."""
    for pid in pids:
        try:
            os.killpg(pid, first) if group else os.kill(pid, first)
        except (ProcessLookupError, PermissionError):
            pass
    for pid in pids:
        terminate(pid, first=first, group=group)


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
