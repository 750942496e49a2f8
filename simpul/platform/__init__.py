"""The platform Simpul runs on (Kafka, registry, PostgreSQL), from whichever provider fits the machine."""

from __future__ import annotations

from typing import Protocol

from simpul.platform.endpoints import PlatformStatus
from simpul.settings import Settings


class Platform(Protocol):
    name: str

    def up(self, with_postgres: bool = False, progress=...) -> PlatformStatus: ...  # noqa: ANN001
    def down(self, progress=..., only=...) -> list[str]: ...  # noqa: ANN001
    def status(self) -> PlatformStatus: ...


def platform_for(settings: Settings) -> Platform:
    """`auto`: external if SIMPUL_KAFKA_BOOTSTRAP is set, else Docker if an engine answers, else local processes."""
    from simpul.platform.docker import DockerPlatform, docker_engine_answers
    from simpul.platform.external import ExternalPlatform
    from simpul.platform.local import LocalPlatform

    choice = settings.provider
    if choice == "auto":
        if settings.kafka_bootstrap:
            choice = "external"
        elif docker_engine_answers():
            choice = "docker"
        else:
            choice = "local"
    return {"external": ExternalPlatform, "docker": DockerPlatform, "local": LocalPlatform}[choice](settings)
