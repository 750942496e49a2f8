"""The local platform: Apache Kafka (KRaft, one node), Apicurio Registry and PostgreSQL as our own processes.

For machines without a Docker engine. Everything lives under the state folder; pid records let `down` stop
exactly what `up` started, and let a second `up` find the running platform instead of starting another.

Everything the platform writes is its owner's alone (permissions.py): the services start with umask 077 and each
`up` takes group and other rights away from what an earlier version left. No secret reaches a command line: the
broker's SCRAM password goes to StorageTool in a 0600 argument file, PostgreSQL's superuser password to initdb in
a 0600 password file, both deleted at once.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

from simpul.platform import artifacts, java, maven, permissions, postgres, probes, security
from simpul.platform.apicurio import registry_address, start_registry
from simpul.platform.endpoints import PlatformStatus, ServiceName, ServiceStatus
from simpul.platform.exceptions import PlatformError, PortTaken
from simpul.platform.kraft import KafkaMode
from simpul.platform.local_kafka import LocalKafka
from simpul.platform.local_postgres import LocalPostgres
from simpul.platform.permissions import private_umask
from simpul.platform.processes import forget, log_path, recall, terminate_all
from simpul.settings import Settings

Progress = Callable[[str], None]


class LocalPlatform:
    """Start, inspect and stop the platform's processes on loopback ports."""

    name = "local"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.state = settings.state_dir.resolve()
        self.kafka = LocalKafka(settings, self.state)
        self.postgres = LocalPostgres(settings, self.state)

    # -- addresses -------------------------------------------------------------------------------------------
    @property
    def kafka_address(self) -> str:
        """Bootstrap servers of the running (or last formatted) Kafka: one node, or all three."""
        return self.kafka.address

    def kafka_client_conf(self) -> dict[str, object]:
        """librdkafka security keys for the platform's own admin connections (empty unless secure)."""
        return self.kafka.client_conf()

    @property
    def registry_address(self) -> str:
        return registry_address(self.settings)

    @property
    def postgres_url(self) -> str:
        """The application role's URL with its password, for connecting (print `postgres_address` instead)."""
        return self.postgres.url

    @property
    def postgres_address(self) -> str:
        """The application role's URL as status shows it: the password masked."""
        return self.postgres.address

    @property
    def postgres_home(self) -> Path:
        """Where this state folder's PostgreSQL cluster lives (see `LocalPostgres.home`)."""
        return self.postgres.home

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
                           if "kafka" in needed else (self.kafka.mode(), False))
        # Every check that can fail runs before anything starts, cheapest first.
        if {"kafka", "registry"} & set(missing):
            progress(f"kafka: {artifacts.kafka_java().describe()}")
        if "registry" in missing:
            progress(f"registry: {artifacts.registry_runtime().describe()}")
        if "postgres" in missing:
            postgres.postgres_bin()
        self._check_ports(missing, mode)
        with private_umask():
            if "postgres" in missing:
                self.postgres.move_legacy(progress)
            self.harden()
            if {"kafka", "registry"} & set(missing):
                progress("checking the Kafka and Apicurio artifacts (Maven, cached after the first run)")
                artifacts.ensure_artifacts(self.state, progress)
            for name in missing:
                progress(f"starting {name}" + (f" ({mode.describe()})" if name == "kafka" else ""))
                if name == "kafka":
                    self.kafka.start(mode, progress, switching=switching, stop=lambda: self.down(only=["kafka"]))
                elif name == "registry":
                    start_registry(self.settings, self.state)
                else:
                    self.postgres.start(progress)
            if "postgres" in needed and "postgres" not in missing:
                running = recall(self.state, "postgres")
                if running is not None:
                    self.postgres.secure(self.postgres.cluster(Path(running.marker).parent), progress)
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
        return self.postgres.purge()

    def wanted_mode(self, secure: bool | None, brokers: int | None, *,
                    kafka_running: bool) -> tuple[KafkaMode, bool]:
        """The mode to start Kafka in, and whether a formatted folder switches between plain and secure."""
        return self.kafka.wanted_mode(secure, brokers, kafka_running=kafka_running)

    def down(self, progress: Progress = lambda _: None, only: list[ServiceName] | None = None) -> list[str]:
        """Stop the processes this state folder started (all, or `only` these); returns the names stopped."""
        stopped = []
        for name in ("registry", "kafka", "postgres"):
            if only is not None and name not in only:
                continue
            records = [name] if name != "kafka" else [n.record for n in self.kafka.nodes(self.kafka.mode())]
            running = [(r, s) for r in records if (s := recall(self.state, r)) is not None]
            for record in records:
                if recall(self.state, record) is None:
                    forget(self.state, record)
            if not running:
                continue
            for record, started in running:
                progress(f"stopping {record} (pid {started.pid})")
            # Kafka nodes stop together: one node left alone waits for a quorum that is going away.
            terminate_all([s.pid for _, s in running], first=signal.SIGINT if name == "postgres" else signal.SIGTERM,
                           group=name != "postgres")
            for record, _ in running:
                forget(self.state, record)
            stopped.append(name)
        return stopped

    def status(self) -> PlatformStatus:
        services = []
        mode = self.kafka.mode()
        probe = {
            "kafka": lambda: self.kafka.ready(mode.brokers),
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
                nodes = [recall(self.state, n.record) for n in self.kafka.nodes(mode)]
                if any(n is None for n in nodes):
                    answers = False
                    detail = f"only {sum(n is not None for n in nodes)} of {mode.brokers} nodes run; {detail}"
            address = self.postgres_address if name == "postgres" else started.address  # a record may predate SCRAM
            runtime = (started.java or java.of_process(started.pid)) if name != "postgres" else None
            services.append(ServiceStatus(
                name=name, running=answers, address=address, pid=started.pid,  # type: ignore[arg-type]
                detail=detail, java=runtime,
            ))
        return PlatformStatus(provider=self.name, services=services,
                              kafka_security="SASL_PLAINTEXT" if mode.secure else "PLAINTEXT",
                              kafka_sasl_mechanism=security.MECHANISM if mode.secure else None,
                              kafka_brokers=mode.brokers,
                              maven=tool.on_java() if (tool := maven.find(self.state)) else None)


    # -- services --------------------------------------------------------------------------------------------
    def _check_ports(self, names: list[ServiceName], mode: KafkaMode) -> None:
        s = self.settings
        nodes = self.kafka.nodes(mode)
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
