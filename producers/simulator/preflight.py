"""Is the platform ready for the simulator? All 35 ingress topics and every schema must be there before a record
is sent (it provisions nothing: `simpul topics apply` and `simpul schemas register` do)."""

from __future__ import annotations

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from producers.exceptions import ProducerError
from schemas.catalog import event_types
from schemas.codec import AvroCodec
from schemas.exceptions import RegistryError
from schemas.reference import regency_codes
from topics.catalog import TopicSet
from topics.connection import KafkaConnection


class PreflightError(ProducerError):
    """The platform is not ready for the simulator (topics or schemas missing, broker unreachable)."""


def preflight(kafka: KafkaConnection, registry: str, topics: TopicSet, codec: AvroCodec,
              timeout: float = 15.0) -> None:
    """Refuse to send unless all 35 ingress topics of `topics` exist and every schema is registered."""
    wanted = {topics.ingress(code).name for code in regency_codes()}
    try:
        existing = set(AdminClient(kafka.librdkafka()).list_topics(timeout=timeout).topics)
    except KafkaException as exc:
        raise PreflightError(f"cannot reach Kafka at {kafka.bootstrap}: {exc}; is the platform up "
                             "(`simpul platform up`)?") from None
    missing = sorted(wanted - existing)
    if missing:
        raise PreflightError(f"{len(missing)} ingress topic(s) are missing (e.g. {missing[0]}); "
                             f"run `simpul topics apply --prefix {topics.prefix}` first")
    for event_type in event_types():
        try:
            codec.schema_id(event_type)
        except RegistryError as exc:
            raise PreflightError(f"schema of {event_type} is not usable: {exc}; run `simpul schemas register` "
                                 "first") from None
        except Exception as exc:  # noqa: BLE001 - connection errors come from the HTTP library underneath
            raise PreflightError(f"cannot reach the schema registry at {registry}: {exc}") from None
