"""The consumers' tuning fields; `simpul.settings.Settings` carries them (one settings object, `SIMPUL_*`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import NoDecode


class ConsumerTuning(BaseModel):
    """Store sink and alert dispatch tuning, mixed into Settings. Secrets are `SecretStr` and print masked."""

    sink_batch_size: int = Field(default=10_000, ge=1, le=100_000, description="records per database transaction")
    sink_poll_timeout_s: float = Field(default=0.1, gt=0, description=(
        "how long one consume() waits for a batch to fill: at live rates every row waits it out before it is written "
        "(1 s put ~0.5 s on the median stored-row latency, docs/performance.md)"))

    sink_session_timeout_ms: int = Field(default=10_000, ge=1_000, le=300_000,
                                         description="how soon the group notices a dead sink and reassigns its partitions")
    sink_instance_id: str | None = Field(default=None, description="static group membership (group.instance.id): a "
                                         "restarted sink with the same id takes its partitions back at once")

    alert_webhooks: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), description="webhook URLs (comma-separated in the environment)")
    alert_webhook_secret: SecretStr | None = Field(default=None, description="signs webhooks; generated per "
                                                   "installation into the secrets folder")
    alert_retry_base_s: float = Field(default=0.2, ge=0, description="first retry delay; doubles each attempt")
    alert_retry_max_s: float = Field(default=30.0, ge=0, description="cap of one retry delay")
    alert_max_attempts: int = Field(default=5, ge=1, le=100, description="attempts before the delivery is dead")
    alert_timeout_s: float = Field(default=10.0, gt=0, description="HTTP timeout of one webhook attempt")
    alert_workers: int = Field(default=8, ge=1, le=128, description="deliveries in flight at once")

    @field_validator("alert_webhooks", mode="before")
    @classmethod
    def _split_webhooks(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value


def consumer_conf(cs: ConsumerTuning, role: str) -> dict[str, object]:
    """librdkafka keys for a province consumer of `role` (`store` or `alerts`)."""
    conf: dict[str, object] = {"session.timeout.ms": cs.sink_session_timeout_ms}
    if cs.sink_instance_id:
        conf["group.instance.id"] = f"{cs.sink_instance_id}-{role}"
    return conf
