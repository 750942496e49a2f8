"""Kafka client settings, rendered to librdkafka's dotted keys in one place."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SecretStr


class KafkaConnection(BaseModel):
    """How a client reaches the broker; every Kafka client in Simpul is built from one of these."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bootstrap: str
    security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    username: str | None = None
    password: SecretStr | None = None
    client_id: str = "simpul"

    def librdkafka(self, **extra: Any) -> dict[str, Any]:
        """The confluent-kafka configuration dictionary; `extra` keys use librdkafka's dotted names."""
        conf: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap,
            "security.protocol": self.security_protocol,
            "client.id": self.client_id,
        }
        if self.security_protocol.startswith("SASL"):
            conf["sasl.mechanism"] = self.sasl_mechanism
            conf["sasl.username"] = self.username or ""
            conf["sasl.password"] = self.password.get_secret_value() if self.password else ""
        conf.update(extra)
        return conf
