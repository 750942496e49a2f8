"""The addresses the documents print.

The local ones are the settings' defaults, handed in by the `simpul docs` command (this package sits below
`simpul`); the production ones are placeholders under the reserved `.example` domain, which a province replaces
with its own.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

PRODUCTION_BOOTSTRAP = "kafka.simpul.example:9093"
PRODUCTION_REGISTRY_ORIGIN = "https://registry.simpul.example"


class Addresses(BaseModel):
    """Where a reader of the documents reaches the local platform (`simpul platform up`, `simpul gateway`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kafka_bootstrap: str
    registry_url: str
    """The Confluent-compatible API's base URL, path included."""
    gateway_url: str

    @property
    def registry_path(self) -> str:
        """The path of the Confluent-compatible API on the registry (the same on every installation)."""
        return urlsplit(self.registry_url).path

    @property
    def production_bootstrap(self) -> str:
        return PRODUCTION_BOOTSTRAP

    @property
    def production_registry(self) -> str:
        return PRODUCTION_REGISTRY_ORIGIN + self.registry_path
