"""What a running platform offers: where each service listens, whichever provider runs it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from simpul.platform.java import JavaRuntime
from simpul.platform.maven import MavenTool

ServiceName = Literal["kafka", "registry", "postgres"]


class ServiceStatus(BaseModel):
    """One service of the platform as `status` reports it."""

    name: ServiceName
    running: bool
    address: str | None = None
    pid: int | None = None
    detail: str = ""
    java: JavaRuntime | None = None  # the Java runtime the service's process runs on (local JVM services)


class PlatformStatus(BaseModel):
    """The whole platform: which provider, and each service."""

    provider: str
    services: list[ServiceStatus]
    kafka_security: str = "PLAINTEXT"  # SASL_PLAINTEXT when `up --secure` started it
    kafka_sasl_mechanism: str | None = None
    kafka_brokers: int | None = None  # the nodes the local platform runs (None: not known, e.g. external)
    maven: MavenTool | None = None  # the Maven that fetches the local platform's jars (None: none, or not local)

    def service(self, name: ServiceName) -> ServiceStatus | None:
        return next((s for s in self.services if s.name == name), None)

    @property
    def kafka_bootstrap(self) -> str | None:
        s = self.service("kafka")
        return s.address if s and s.running else None

    @property
    def registry_url(self) -> str | None:
        s = self.service("registry")
        return s.address if s and s.running else None

    @property
    def postgres_url(self) -> str | None:
        s = self.service("postgres")
        return s.address if s and s.running else None

    def ready(self, with_postgres: bool) -> bool:
        needed: list[ServiceName] = ["kafka", "registry"] + (["postgres"] if with_postgres else [])
        return all((s := self.service(n)) is not None and s.running for n in needed)
