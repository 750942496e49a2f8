"""The local platform's Kafka: its KRaft nodes as our own JVMs, formatted once, plain or secured with SASL/SCRAM
and ACLs, and switched between the two in place while stopped (its topics kept)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from simpul.platform import artifacts, probes, security
from simpul.platform.exceptions import PlatformError
from simpul.platform.java import JavaRuntime
from simpul.platform.kraft import KafkaMode, KafkaNode, cluster_id, kafka_nodes, node_properties
from simpul.platform.permissions import write_private
from simpul.platform.processes import Started, java_with_argfile, log_path, remember, spawn
from simpul.settings import Settings
from topics.acls import ADMIN

Progress = Callable[[str], None]


def broker_heap(nodes: int, *, committed: bool) -> list[str]:
    """The broker JVM's heap flags: 1 GiB alone, 512 MiB each of three; `committed` takes and touches it all at
    start (what production brokers do: no heap growth to watch, no page faults under load)."""
    top = "1g" if nodes == 1 else "512m"
    return [f"-Xms{top}", f"-Xmx{top}", "-XX:+AlwaysPreTouch"] if committed else ["-Xms256m", f"-Xmx{top}"]


class LocalKafka:
    """The state folder's Kafka nodes on loopback ports."""

    def __init__(self, settings: Settings, state: Path) -> None:
        self.settings = settings
        self.state = state

    @property
    def address(self) -> str:
        """Bootstrap servers of the running (or last formatted) Kafka: one node, or all three."""
        return ",".join(f"127.0.0.1:{n.port}" for n in self.nodes(self.mode()))

    def mode(self) -> KafkaMode:
        return KafkaMode.read(self.state) or KafkaMode()

    def nodes(self, mode: KafkaMode) -> list[KafkaNode]:
        return kafka_nodes(self.state, mode, self.settings.kafka_port, self.settings.controller_port)

    def client_conf(self) -> dict[str, object]:
        """librdkafka security keys for the platform's own admin connections (empty unless secure)."""
        mode = self.mode()
        if not mode.secure:
            return {}
        creds = security.load_credentials(self.state)
        if creds is None:
            raise PlatformError(f"secure mode but no credentials under {security.credentials_path(self.state)}")
        return creds.client_conf(security.ADMIN)

    def ready(self, brokers: int, timeout: float = 3.0) -> bool:
        """All nodes are brokers in the metadata (and, secured, the admin user authenticates)."""
        try:
            conf = self.client_conf()
        except PlatformError:
            return False
        return probes.kafka_brokers(self.address, conf, timeout) >= brokers

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

    def start(self, mode: KafkaMode, progress: Progress, *, switching: bool, stop: Callable[[], object]) -> None:
        """Format (first time) and start every node, wait until all are brokers; secured, provision users and ACLs.

        `switching` a formatted plain folder to secure first runs it plain once to create the SCRAM users (a broker
        formatted plain has none to authenticate as, `stop` stops it again); a secure folder switching to plain simply
        starts plain.
        """
        nodes = self.nodes(mode)
        creds = None
        if mode.secure:
            creds = security.ensure_credentials(self.state, security.local_model(self.settings.topic_prefix).names)
        runtime = artifacts.kafka_java()
        java = runtime.java
        classpath = f"{artifacts.kafka_lib(self.state)}/*"
        common = ["-XX:+UseG1GC", "-Djava.awt.headless=true",
                  f"-Dlog4j2.configurationFile={artifacts.DEPLOY_LOCAL / 'log4j2.properties'}"]
        jvm = [*broker_heap(len(nodes), committed=self.settings.kafka_heap_committed), *common]
        new_id = cluster_id()
        for node in nodes:
            node.data.mkdir(parents=True, exist_ok=True)
            write_private(node.props, node_properties(node, nodes, creds))  # secured, it holds passwords
            if (node.data / "meta.properties").exists():
                continue
            quorum = ["--standalone"] if len(nodes) == 1 else []  # three nodes: static controller.quorum.voters
            scram = security.scram_format_args(creds) if creds is not None else []
            java_with_argfile(
                [java, *broker_heap(len(nodes), committed=False), *common, "-cp", classpath],
                ["kafka.tools.StorageTool", "format", "-t", new_id, "-c", str(node.props), *quorum, *scram],
                node.home / "format.args", f"formatting Kafka storage in {node.data}")
        if switching and creds is not None:
            progress("switching Kafka to SASL/SCRAM in place: creating its users on the plain broker first")
            for node in nodes:
                write_private(node.props, node_properties(node, nodes, None))
            self._run_nodes(runtime, jvm, classpath, nodes)
            try:
                users = [ADMIN, *(u for u in security.local_model(self.settings.topic_prefix).names if u != ADMIN)]
                security.create_users(self.address, {}, creds, users)
            finally:
                stop()
            for node in nodes:
                write_private(node.props, node_properties(node, nodes, creds))
        elif switching:
            progress("switching Kafka to PLAINTEXT in place: no authentication, no ACLs")
        mode.write(self.state)
        self._run_nodes(runtime, jvm, classpath, nodes)
        if creds is not None:
            progress("creating the SCRAM users and ACLs")
            security.provision(self.address, creds, security.local_model(self.settings.topic_prefix))

    def _run_nodes(self, runtime: JavaRuntime, jvm: list[str], classpath: str, nodes: list[KafkaNode]) -> None:
        """Start every node with its server.properties and wait until all are brokers."""
        procs = []
        for node in nodes:
            log = log_path(self.state, node.record)
            proc = spawn([runtime.java, *jvm, "-cp", classpath, "kafka.Kafka", str(node.props)], log)
            remember(self.state, Started(name=node.record, pid=proc.pid, marker=str(node.props),
                                         address=self.address, java=runtime))
            procs.append(proc)
        logs = ", ".join(str(log_path(self.state, n.record)) for n in nodes)
        probes.wait_until("kafka", lambda: self.ready(len(nodes)), 60 + 30 * (len(nodes) - 1), logs,
                          alive=lambda: all(p.poll() is None for p in procs))
