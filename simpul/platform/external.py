"""An existing platform the operator runs: we only probe it, never start or stop it."""

from __future__ import annotations

from simpul.platform import probes
from simpul.platform.endpoints import PlatformStatus, ServiceStatus
from simpul.platform.exceptions import PlatformError
from simpul.platform.postgres import masked
from simpul.settings import Settings


class ExternalPlatform:
    name = "external"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def up(self, with_postgres: bool = False, progress=lambda _: None) -> PlatformStatus:  # noqa: ANN001
        status = self.status()
        if not status.ready(with_postgres):
            down = [s.name for s in status.services if not s.running and (s.name != "postgres" or with_postgres)]
            raise PlatformError(
                f"the configured platform does not answer ({', '.join(down)}): check SIMPUL_KAFKA_BOOTSTRAP, "
                "SIMPUL_REGISTRY_URL and SIMPUL_POSTGRES_URL, or unset them to start a local platform"
            )
        return status

    def down(self, progress=lambda _: None, only=None) -> list[str]:  # noqa: ANN001
        return []  # not ours to stop

    def status(self) -> PlatformStatus:
        s = self.settings
        kafka = probes.kafka_answers(s.kafka.bootstrap, {k: v for k, v in s.kafka.librdkafka().items()
                                                          if k != "bootstrap.servers"})
        registry = probes.registry_answers(s.registry)
        pg = probes.postgres_answers(s.postgres)
        return PlatformStatus(provider=self.name, services=[
            ServiceStatus(name="kafka", running=kafka, address=s.kafka.bootstrap),
            ServiceStatus(name="registry", running=registry, address=s.registry),
            ServiceStatus(name="postgres", running=pg, address=masked(s.postgres),
                          detail="" if pg else "does not answer; set SIMPUL_POSTGRES_URL"),
        ])
