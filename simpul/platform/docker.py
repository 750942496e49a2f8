"""The same platform in containers, for machines with a Docker engine (testcontainers).

Containers started by `up` outlive the CLI (the reaper is disabled and their ids are recorded under the state
folder) so that `down` can remove exactly them. Like the local platform, they listen on 127.0.0.1 only, on the
same ports, and PostgreSQL takes the passwords of the secrets folder, with the same owner and application roles.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

from pydantic import BaseModel, ConfigDict

from simpul.platform import postgres, probes
from simpul.platform.endpoints import PlatformStatus, ServiceName, ServiceStatus
from simpul.platform.permissions import write_private
from simpul.platform.processes import run_dir
from simpul.settings import Settings

KAFKA_IMAGE = "apache/kafka:4.1.1"
REGISTRY_IMAGE = "apicurio/apicurio-registry:3.3.3"
POSTGRES_IMAGE = "postgres:16-alpine"


class ContainerSpec(BaseModel):
    """What one container publishes (container port -> loopback host address) and its environment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    image: str
    ports: dict[int, tuple[str, int]]
    env: dict[str, str] = {}


def container_specs(settings: Settings, passwords: postgres.Passwords) -> dict[ServiceName, ContainerSpec]:
    """The three containers: published on 127.0.0.1 at the settings' ports; PostgreSQL's superuser password from
    the secrets folder (the owner and application roles are created through it once it answers)."""
    loopback = "127.0.0.1"
    return {
        "kafka": ContainerSpec(image=KAFKA_IMAGE, ports={9093: (loopback, settings.kafka_port)}),
        "registry": ContainerSpec(image=REGISTRY_IMAGE, ports={8080: (loopback, settings.registry_port)}),
        "postgres": ContainerSpec(image=POSTGRES_IMAGE, ports={5432: (loopback, settings.postgres_port)}, env={
            "POSTGRES_USER": postgres.SUPERUSER, "POSTGRES_PASSWORD": passwords.superuser.get_secret_value(),
            "POSTGRES_DB": "postgres"}),
    }


def _apply(container, spec: ContainerSpec):  # noqa: ANN001, ANN202 - a testcontainers DockerContainer
    """Publish the spec's ports on loopback only (testcontainers alone would publish on every interface)."""
    for port, binding in spec.ports.items():
        container.ports[str(port)] = binding
    for key, value in spec.env.items():
        container.with_env(key, value)
    return container


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

        s = self.settings
        passwords = postgres.ensure_passwords(s.secrets_folder)
        specs = container_specs(s, passwords)
        known = self._load()
        if "kafka" not in known:
            progress("starting kafka container")
            kafka = _apply(KafkaContainer(KAFKA_IMAGE).with_kraft(), specs["kafka"])
            kafka.start()
            known["kafka"] = {"id": kafka.get_wrapped_container().id, "address": kafka.get_bootstrap_server()}
            self._save(known)
        if "registry" not in known:
            progress("starting registry container")
            reg = _apply(DockerContainer(REGISTRY_IMAGE), specs["registry"])
            reg.start()
            url = f"http://127.0.0.1:{reg.get_exposed_port(8080)}/apis/ccompat/v7"
            probes.wait_until("registry", lambda: probes.registry_answers(url), 90, "docker logs")
            known["registry"] = {"id": reg.get_wrapped_container().id, "address": url}
            self._save(known)
        if with_postgres and "postgres" not in known:
            progress("starting postgres container")
            pg = _apply(DockerContainer(POSTGRES_IMAGE), specs["postgres"])
            pg.start()
            port = int(pg.get_exposed_port(5432))
            superuser = (f"postgresql://{postgres.SUPERUSER}:{passwords.superuser.get_secret_value()}"
                         f"@127.0.0.1:{port}/postgres")
            probes.wait_until("postgres", lambda: probes.postgres_answers(superuser), 60, "docker logs")
            postgres.provision_roles("127.0.0.1", port, postgres.roles_of(s), passwords,
                                     hint="remove the postgres container (`simpul platform down`) and start again")
            known["postgres"] = {"id": pg.get_wrapped_container().id,
                                 "address": postgres.masked(postgres.app_url(s, passwords))}
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
        app = postgres.app_url(self.settings, postgres.load_passwords(self.settings.secrets_folder))
        checks = {"kafka": probes.kafka_answers, "registry": probes.registry_answers,
                  "postgres": lambda _masked: probes.postgres_answers(app)}
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
        write_private(self.record, json.dumps(known))
