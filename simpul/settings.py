"""The one settings object, read from `SIMPUL_*` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from consumers.config import ConsumerTuning
from streams.config import StreamsConfig
from topics.connection import KafkaConnection

Provider = Literal["auto", "external", "docker", "local"]


class Settings(BaseSettings, ConsumerTuning, StreamsConfig):
    """Everything configurable about Simpul. Secrets are `SecretStr` and print masked."""

    model_config = SettingsConfigDict(env_prefix="SIMPUL_", extra="forbid", frozen=True)

    # Where the platform comes from: `auto` = external if SIMPUL_KAFKA_BOOTSTRAP is set, else Docker if an
    # engine answers, else local Java/PostgreSQL processes.
    provider: Provider = "auto"
    state_dir: Path = Field(default=Path("var"), description="logs, data and downloaded artifacts")

    # Existing platform (provider=external); empty means "start our own".
    kafka_bootstrap: str | None = None
    registry_url: str | None = None
    store_url: str | None = None
    postgres_url: str | None = None

    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL"] = "PLAINTEXT"
    kafka_username: str | None = None
    kafka_password: SecretStr | None = None

    # Ports of the local platform (loopback only).
    kafka_port: int = 19092
    controller_port: int = 19093
    registry_port: int = 18080
    registry_management_port: int = 19100
    postgres_port: int = 15432

    topic_prefix: str = Field(default="jateng", pattern=r"^[a-z][a-z0-9_-]*$")

    # HTTP ingress gateway: API keys (hashed) and the outcome of every accepted event_id live in its database.
    gateway_db_url: str | None = None
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 18000
    gateway_max_batch: int = Field(default=1000, ge=1, le=10_000)
    nik_hmac_key: SecretStr = SecretStr("simpul-local-development-key-change-me")

    @property
    def kafka(self) -> KafkaConnection:
        """Client settings for the configured or the local broker."""
        return KafkaConnection(
            bootstrap=self.kafka_bootstrap or f"127.0.0.1:{self.kafka_port}",
            security_protocol=self.kafka_security_protocol,
            username=self.kafka_username,
            password=self.kafka_password,
        )

    @property
    def registry(self) -> str:
        """Base URL of the Confluent-compatible registry API."""
        return self.registry_url or f"http://127.0.0.1:{self.registry_port}/apis/ccompat/v7"

    @property
    def postgres(self) -> str:
        """SQLAlchemy URL of the PostgreSQL the platform offers (ours unless configured)."""
        return self.postgres_url or f"postgresql+psycopg://simpul@127.0.0.1:{self.postgres_port}/simpul"

    @property
    def store(self) -> str:
        """SQLAlchemy URL of the provincial store: SQLite under the state folder by default."""
        return self.store_url or f"sqlite:///{(self.state_dir / 'store.sqlite').resolve()}"


    @property
    def gateway_db(self) -> str:
        """SQLAlchemy URL of the gateway's keys and outcomes: SQLite under the state folder by default."""
        return self.gateway_db_url or f"sqlite:///{(self.state_dir / 'gateway.sqlite').resolve()}"


def load_settings(**overrides: object) -> Settings:
    """Read the environment; tests pass overrides instead of setting variables."""
    return Settings(**overrides)  # type: ignore[arg-type]
