"""The same platform in containers, for machines with a Docker engine (testcontainers).

Containers started by `up` outlive the CLI (the reaper is disabled and their ids are recorded under the state
folder) so that `down` can remove exactly them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

from simpul.platform import probes
from simpul.platform.endpoints import PlatformStatus, ServiceStatus
from simpul.platform.processes import run_dir
from simpul.settings import Settings

KAFKA_IMAGE = "apache/kafka:4.1.1"
REGISTRY_IMAGE = "apicurio/apicurio-registry:3.3.3"
POSTGRES_IMAGE = "postgres:16-alpine"


def docker_engine_answers() -> bool:
    """True when a Docker engine (not just the client) responds."""
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=5, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class DockerPlatform:
    name = "docker"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.record = run_dir(settings.state_dir.resolve()) / "containers.json"

    def up(self, with_postgres: bool = False, progress=lambda _: None) -> PlatformStatus:  # noqa: ANN001
        os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
        from testcontainers.core.container import DockerContainer
        from testcontainers.kafka import KafkaContainer
        from testcontainers.postgres import PostgresContainer

        known = self._load()
        if "kafka" not in known:
            progress("starting kafka container")
            kafka = KafkaContainer(KAFKA_IMAGE).with_kraft()
            kafka.start()
            known["kafka"] = {"id": kafka.get_wrapped_container().id, "address": kafka.get_bootstrap_server()}
            self._save(known)
        if "registry" not in known:
            progress("starting registry container")
            reg = DockerContainer(REGISTRY_IMAGE).with_exposed_ports(8080)
            reg.start()
            url = f"http://{reg.get_container_host_ip()}:{reg.get_exposed_port(8080)}/apis/ccompat/v7"
            probes.wait_until("registry", lambda: probes.registry_answers(url), 90, "docker logs")
            known["registry"] = {"id": reg.get_wrapped_container().id, "address": url}
            self._save(known)
        if with_postgres and "postgres" not in known:
            progress("starting postgres container")
            pg = PostgresContainer(POSTGRES_IMAGE, username="simpul", password="simpul", dbname="simpul",
                                   driver="psycopg")
            pg.start()
            known["postgres"] = {"id": pg.get_wrapped_container().id, "address": pg.get_connection_url()}
            self._save(known)
        return self.status()

    def down(self, progress=lambda _: None, only=None) -> list[str]:  # noqa: ANN001
        known = self._load()
        removed = [name for name in known if only is None or name in only]
        for name in removed:
            progress(f"removing {name} container")
            subprocess.run(["docker", "rm", "-f", known.pop(name)["id"]], capture_output=True, check=False)
        self._save(known)
        return removed

    def status(self) -> PlatformStatus:
        known = self._load()
        checks = {"kafka": probes.kafka_answers, "registry": probes.registry_answers,
                  "postgres": probes.postgres_answers}
        services = []
        for name in ("kafka", "registry", "postgres"):
            c = known.get(name)
            running = bool(c) and checks[name](c["address"])
            services.append(ServiceStatus(name=name, running=running,  # type: ignore[arg-type]
                                          address=c["address"] if c else None,
                                          detail=f"container {c['id'][:12]}" if c else "not started"))
        return PlatformStatus(provider=self.name, services=services)

    def _load(self) -> dict[str, dict[str, str]]:
        return json.loads(self.record.read_text()) if self.record.is_file() else {}

    def _save(self, known: dict[str, dict[str, str]]) -> None:
        self.record.write_text(json.dumps(known))
