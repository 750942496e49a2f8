"""The local platform: Apache Kafka (KRaft, one node), Apicurio Registry and PostgreSQL as our own processes.

For machines without a Docker engine. Everything lives under the state folder; pid records let `down` stop
exactly what `up` started, and let a second `up` find the running platform instead of starting another.

Everything the platform writes is its owner's alone (permissions.py): the services start with umask 077 and each
`up` takes group and other rights away from what an earlier version left. No secret reaches a command line: the
broker's SCRAM password goes to StorageTool in a 0600 argument file, PostgreSQL's superuser password to initdb in
a 0600 password file, both deleted at once.
"""

from __future__ import annotations

import base64
import hashlib
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

from simpul.platform import artifacts, permissions, postgres, probes, security
from simpul.platform.endpoints import PlatformStatus, ServiceName, ServiceStatus
from simpul.platform.exceptions import PlatformError, PortTaken
from simpul.platform.permissions import PRIVATE_UMASK, private_umask, write_private
from simpul.platform.processes import Started, forget, log_path, recall, remember, spawn, terminate
from simpul.settings import Settings
from topics.acls import ADMIN

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
    def postgres_url(self) -> str:
        """The application role's URL with its password, for connecting (print `postgres_address` instead)."""
        return postgres.app_url(self.settings, postgres.load_passwords(self.settings.secrets_folder))

    @property
    def postgres_address(self) -> str:
        """The application role's URL as status shows it: the password masked."""
        return postgres.masked(self.postgres_url)

    @property
    def postgres_home(self) -> Path:
        """Where this state folder's PostgreSQL cluster lives: inside the state folder, except as root, where the
        server runs as the `postgres` OS user, which cannot enter the owner-only state folder: then under /var/tmp,
        in a folder only that user may enter."""
        if os.geteuid() != 0:
            return self.state / "postgres"
        return Path("/var/tmp") / f"simpul-postgres-{hashlib.sha256(str(self.state).encode()).hexdigest()[:10]}"

    # -- commands --------------------------------------------------------------------------------------------
    def up(self, with_postgres: bool = False, progress: Progress = lambda _: None, *,
           secure: bool | None = None, brokers: int | None = None, kafka_only: bool = False,
           only: list[ServiceName] | None = None) -> PlatformStatus:
        """Start what is not running yet; what already runs is left alone and reported.

        `secure` (SASL/SCRAM + ACLs) and `brokers` (1 or 3 KRaft nodes) choose the Kafka mode; None keeps the mode
        the state folder's Kafka was formatted with (plain, one node for a new one). A stopped Kafka switches
        between plain and secure in place, its topics kept; a running one is never switched, and the number of
        nodes never changes (data formatted for one layout is never reused for another). `only` starts just
        these services (like `down(only=...)`).
        """
        self.state.mkdir(parents=True, exist_ok=True)
        needed: list[ServiceName] = ["kafka"] if kafka_only else ["kafka", "registry"]
        needed += ["postgres"] if with_postgres else []
        needed = list(only) if only is not None else needed
        missing = [n for n in needed if recall(self.state, n) is None]
        mode, switching = (self.wanted_mode(secure, brokers, kafka_running="kafka" not in missing)
                           if "kafka" in needed else (self._mode(), False))
        # Every check that can fail runs before anything starts, cheapest first.
        if {"kafka", "registry"} & set(missing):
            artifacts.java_binary()
        if "registry" in missing:
            artifacts.registry_java()
        if "postgres" in missing:
            postgres.postgres_bin()
        self._check_ports(missing, mode)
        with private_umask():
            if "postgres" in missing:
                self._move_legacy_postgres(progress)
            self.harden()
            if {"kafka", "registry"} & set(missing):
                progress("checking the Kafka and Apicurio artifacts (Maven, cached after the first run)")
                artifacts.ensure_artifacts(self.state)
            for name in missing:
                progress(f"starting {name}" + (f" ({mode.describe()})" if name == "kafka" else ""))
                if name == "kafka":
                    self._start_kafka(mode, progress, switching=switching)
                elif name == "registry":
                    self._start_registry()
                else:
                    self._start_postgres(progress)
            if "postgres" in needed and "postgres" not in missing:
                running = recall(self.state, "postgres")
                if running is not None:
                    self._secure_postgres(self._postgres_cluster(Path(running.marker).parent), progress)
        return self.status()

    def harden(self) -> int:
        """Owner-only permissions on the state folder and everything in it (and on our PostgreSQL cluster when it
        lives outside); returns how many folders and files changed.

        A cluster of an earlier version that still runs inside the state folder as the `postgres` OS user keeps
        its way in (the state folder itself stays enterable) until it is restarted, which moves it out.
        """
        running = recall(self.state, "postgres")
        legacy_inside = (os.geteuid() == 0 and running is not None
                         and Path(running.marker).is_relative_to(self.state))
        changed = permissions.harden(self.state, keep_root_traversable=legacy_inside)
        home = self.postgres_home
        if not home.is_relative_to(self.state) and home.is_dir():
            changed += permissions.harden(home)
        return changed

    def purge(self) -> list[Path]:
        """Delete what this state folder keeps outside itself (as root: its PostgreSQL cluster under /var/tmp);
        the state folder itself is the caller's to delete. Refused while PostgreSQL runs."""
        if recall(self.state, "postgres") is not None:
            raise PlatformError("PostgreSQL still runs: stop the platform first (`simpul platform down`)")
        home = self.postgres_home
        if home.is_relative_to(self.state) or not home.exists():
            return []
        shutil.rmtree(home)
        return [home]

    def wanted_mode(self, secure: bool | None, brokers: int | None, *,
                    kafka_running: bool) -> tuple[KafkaMode, bool]:
        """The mode to start Kafka in, and whether a formatted folder switches between plain and secure."""
        stored = KafkaMode.read(self.state)
        formatted = stored is not None or (self.state / "kafka" / "data" / "meta.properties").exists()
        current = stored or KafkaMode()
        wanted = KafkaMode(secure=current.secure if secure is None else secure,
                           brokers=current.brokers if brokers is None else brokers)
        if wanted == current or not (kafka_running or formatted):
            return wanted, False
        if wanted.brokers != current.brokers:
            what = "runs" if kafka_running else f"was formatted under {self.state / 'kafka'}"
            raise PlatformError(
                f"Kafka {what} as {current.describe()}, not {wanted.describe()}: run `simpul platform down`, then "
                f"remove {self.state / 'kafka'} (its topics are lost) or choose another SIMPUL_STATE_DIR"
            )
        if kafka_running and wanted.secure:
            raise PlatformError(
                "Kafka runs PLAINTEXT here and cannot switch to SASL/SCRAM while it runs: stop it with `simpul "
                "platform down` and start again (the state folder switches in place, its topics kept), or keep it "
                "plain with `simpul run --insecure` / `simpul platform up --plain`")
        if kafka_running:
            raise PlatformError(
                "Kafka runs with SASL/SCRAM here and cannot switch to PLAINTEXT while it runs: stop it with `simpul "
                "platform down` first, or use another state folder (SIMPUL_STATE_DIR; `make test` uses var/test)")
        return wanted, True

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
            # Running means accepting connections: a cluster an earlier version made answers before `up` has
            # created the application role, and is running all the same (a caller must not think it started it).
            "postgres": lambda: probes.postgres_accepts("127.0.0.1", self.settings.postgres_port),
        }
        for name in ("kafka", "registry", "postgres"):
            started = recall(self.state, name)  # type: ignore[arg-type]
            if started is None:
                services.append(ServiceStatus(name=name, running=False, detail="not started"))  # type: ignore[arg-type]
                continue
            answers = probe[name]()
            detail = "answering" if answers else f"process runs but does not answer; see {log_path(self.state, name)}"
            if name == "postgres":
                detail += f"; data in {Path(started.marker)}"
            if name == "kafka":
                detail += f"; {mode.describe()}"
                nodes = [recall(self.state, n.record) for n in self._nodes(mode)]
                if any(n is None for n in nodes):
                    answers = False
                    detail = f"only {sum(n is not None for n in nodes)} of {mode.brokers} nodes run; {detail}"
            address = self.postgres_address if name == "postgres" else started.address  # a record may predate SCRAM
            services.append(ServiceStatus(
                name=name, running=answers, address=address, pid=started.pid,  # type: ignore[arg-type]
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

    def _start_kafka(self, mode: KafkaMode, progress: Progress = lambda _: None, *, switching: bool = False) -> None:
        """Format (first time) and start every node, wait until all are brokers; secured, provision users and ACLs.

        `switching` a formatted plain folder to secure first runs it plain once to create the SCRAM users (a broker
        formatted plain has none to authenticate as); a secure folder switching to plain simply starts plain.
        """
        nodes = self._nodes(mode)
        creds = None
        if mode.secure:
            creds = security.ensure_credentials(self.state, security.local_model(self.settings.topic_prefix).names)
        java = artifacts.java_binary()
        classpath = f"{artifacts.kafka_lib(self.state)}/*"
        heap = "-Xmx1g" if len(nodes) == 1 else "-Xmx512m"
        jvm = ["-Xms256m", heap, "-XX:+UseG1GC", "-Djava.awt.headless=true",
               f"-Dlog4j2.configurationFile={artifacts.DEPLOY_LOCAL / 'log4j2.properties'}"]
        cluster_id = _cluster_id()
        for node in nodes:
            node.data.mkdir(parents=True, exist_ok=True)
            write_private(node.props, _node_properties(node, nodes, creds))  # secured, it holds passwords
            if (node.data / "meta.properties").exists():
                continue
            quorum = ["--standalone"] if len(nodes) == 1 else []  # three nodes: static controller.quorum.voters
            scram = security.scram_format_args(creds) if creds is not None else []
            java_with_argfile(
                [java, *jvm, "-cp", classpath],
                ["kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(node.props), *quorum, *scram],
                node.home / "format.args", f"formatting Kafka storage in {node.data}")
        if switching and creds is not None:
            progress("switching Kafka to SASL/SCRAM in place: creating its users on the plain broker first")
            for node in nodes:
                write_private(node.props, _node_properties(node, nodes, None))
            self._run_nodes(java, jvm, classpath, nodes)
            try:
                users = [ADMIN, *(u for u in security.local_model(self.settings.topic_prefix).names if u != ADMIN)]
                security.create_users(self.kafka_address, {}, creds, users)
            finally:
                self.down(only=["kafka"])
            for node in nodes:
                write_private(node.props, _node_properties(node, nodes, creds))
        elif switching:
            progress("switching Kafka to PLAINTEXT in place: no authentication, no ACLs")
        mode.write(self.state)
        self._run_nodes(java, jvm, classpath, nodes)
        if creds is not None:
            progress("creating the SCRAM users and ACLs")
            security.provision(self.kafka_address, creds, security.local_model(self.settings.topic_prefix))

    def _run_nodes(self, java: str, jvm: list[str], classpath: str, nodes: list[KafkaNode]) -> None:
        """Start every node with its server.properties and wait until all are brokers."""
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
            # Schemas persist in an H2 file under the state folder (0600, like everything there), so schema ids
            # stay valid for the data the broker keeps across restarts (the default in-memory store would forget
            # them). H2's embedded user is local to that file, not a secret of this installation.
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

    # -- PostgreSQL ------------------------------------------------------------------------------------------
    def _postgres_cluster(self, home: Path | None = None) -> postgres.Cluster:
        """Our cluster at `home` (default `postgres_home`), with the roles of the settings and the passwords of
        the secrets folder (generated on first use)."""
        s = self.settings
        return postgres.Cluster(postgres.postgres_bin(), home or self.postgres_home, s.postgres_port,
                                postgres.roles_of(s), postgres.ensure_passwords(s.secrets_folder))

    def _start_postgres(self, progress: Progress = lambda _: None) -> None:
        cluster = self._postgres_cluster()
        if cluster.home.exists() and not cluster.home.is_relative_to(self.state):
            _check_owned(cluster.home)
        if not cluster.initialized():
            cluster.init()
        pid = cluster.start()
        remember(self.state, Started(name="postgres", pid=pid, marker=str(cluster.data),
                                     address=self.postgres_address))
        self._secure_postgres(cluster, progress)

    def _secure_postgres(self, cluster: postgres.Cluster, progress: Progress) -> None:
        """A running cluster made SCRAM-only (if an earlier version made it with trust) and its roles provisioned."""
        if not cluster.secured():
            progress("securing PostgreSQL made by an earlier version: SCRAM passwords, owner and application roles")
            cluster.secure_legacy()
        cluster.provision()
        probes.wait_until("postgres", lambda: probes.postgres_answers(self.postgres_url), 30, str(cluster.log))

    def _move_legacy_postgres(self, progress: Progress) -> None:
        """As root, move a stopped cluster an earlier version kept inside the state folder to `postgres_home`, out
        of the owner-only state folder the `postgres` OS user cannot enter (a data folder moves as it is)."""
        inside, home = self.state / "postgres", self.postgres_home
        if home == inside or not (inside / "data" / "PG_VERSION").exists():
            return
        if (home / "data" / "PG_VERSION").exists():
            raise PlatformError(f"two PostgreSQL clusters belong to {self.state}: {inside} (made by an earlier "
                                f"version) and {home}; remove the one you do not need")
        progress(f"moving PostgreSQL from {inside} to {home} (the state folder is owner-only now)")
        if home.exists():
            shutil.rmtree(home)
        shutil.move(str(inside), str(home))
        postgres.chown_to_postgres(home, recursive=True)
        os.chmod(home, 0o700)


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
        write_private(self.path(state), self.model_dump_json())


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


def java_with_argfile(launcher: list[str], args: list[str], argfile: Path, doing: str) -> None:
    """Run `launcher` with the main class and its `args` in a 0600 Java argument file (deleted afterwards), so
    that no password among them shows in the process table."""
    write_private(argfile, "".join(_java_quoted(a) + "\n" for a in args))
    try:
        proc = subprocess.run([*launcher, f"@{argfile}"], capture_output=True, text=True, check=False,
                              umask=PRIVATE_UMASK)
    finally:
        argfile.unlink(missing_ok=True)
    if proc.returncode != 0:
        raise PlatformError(f"{doing} failed: {proc.stdout}{proc.stderr}".strip())


def _java_quoted(arg: str) -> str:
    """One argument as a Java argument file line: double-quoted, backslashes and quotes escaped."""
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check_owned(home: Path) -> None:
    """A folder under /var/tmp is ours only if root or the `postgres` user owns it and nobody else may enter."""
    import pwd

    st = home.stat(follow_symlinks=False)
    allowed = {0, pwd.getpwnam("postgres").pw_uid}
    if home.is_symlink() or st.st_uid not in allowed or st.st_mode & 0o022:
        raise PlatformError(f"{home} is not a folder of the platform (owner uid {st.st_uid}, mode "
                            f"{oct(st.st_mode & 0o777)}): remove it and start again")
