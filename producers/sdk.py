"""The Python SDK: a producer bound to one regency that publishes typed events to that regency's ingress topic.

Idempotent (acks=all, enable.idempotence), batched by librdkafka, a `Future` per event resolved by the broker's
acknowledgement. An event the contract refuses raises `InvalidEvent` before anything is sent; an event the broker
never acknowledges fails its future with `DeliveryFailed`: nothing accepted is dropped silently.

    # BOOTSTRAP, REGISTRY_URL: the broker and the registry's Confluent-compatible base URL the province gives you
    with RegencyProducer.connect("3374", bootstrap=BOOTSTRAP, registry_url=REGISTRY_URL) as p:
        future = p.publish(event)        # raises InvalidEvent at once if the event is wrong
        delivery = future.result(30)     # topic, partition, offset once the broker has it
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any

from producers.delivery import AckedProducer, Delivery
from producers.exceptions import InvalidEvent, ProducerClosed
from schemas.codec import AvroCodec
from schemas.exceptions import EventValidationError, FieldProblem, UnknownEventType
from schemas.models import Event, model_for
from schemas.outcomes import Header
from schemas.reference import regency_codes
from topics.catalog import topic_names
from topics.connection import KafkaConnection

EVENT_TYPE_HEADER = Header.EVENT_TYPE

__all__ = ["Delivery", "RegencyProducer", "EVENT_TYPE_HEADER"]


class RegencyProducer:
    """Publishes one regency's events; thread-safe; use as a context manager or call `close()`."""

    def __init__(self, regency_code: str, kafka: KafkaConnection, codec: AvroCodec, *, topic_prefix: str = "jateng",
                 producer_conf: Mapping[str, Any] | None = None, client: AckedProducer | None = None) -> None:
        """`client`: a Kafka client shared with other RegencyProducers of this process (one sender publishing
        for several regencies under one identity); it stays open on `close()`, its owner closes it."""
        if regency_code not in regency_codes():
            raise InvalidEvent("RegencyProducer", [FieldProblem(
                "regency_code", f"{regency_code!r} is not one of the 35 Central Java regency codes")])
        self.regency_code = regency_code
        self.topic = topic_names(topic_prefix).ingress(regency_code).name  # the one topic a regency may write
        self.codec = codec
        self._owned = client is None
        self._closed = False
        self._producer = client or AckedProducer(kafka, client_id=f"simpul-sdk-{regency_code}", conf=producer_conf)

    @classmethod
    def connect(cls, regency_code: str, *, bootstrap: str, registry_url: str, topic_prefix: str = "jateng",
                **kafka: Any) -> RegencyProducer:
        """A producer from plain addresses (`kafka` takes KafkaConnection's fields, e.g. username/password)."""
        return cls(regency_code, KafkaConnection(bootstrap=bootstrap, **kafka), AvroCodec.from_url(registry_url),
                   topic_prefix=topic_prefix)

    # -- publishing ------------------------------------------------------------------------------------------
    def publish(self, event: Event) -> Future[Delivery]:
        """Send one event; raises `InvalidEvent` (nothing sent) if it is not this regency's valid event."""
        if not isinstance(event, Event):
            raise InvalidEvent(type(event).__name__, [FieldProblem("<event>", "not a Simpul event model; "
                                                                   "use publish_dict for plain dictionaries")])
        if event.regency_code != self.regency_code:
            raise InvalidEvent(type(event).event_type, [FieldProblem(
                "regency_code", f"{event.regency_code} is not this producer's regency {self.regency_code}; "
                "each regency publishes only its own events")])
        try:
            value = self.codec.encode(event)
        except EventValidationError as exc:
            raise InvalidEvent(exc.event_type, exc.problems) from exc
        return self._send(str(event.event_id), event.ordering_key.encode(), value, type(event).event_type)

    def publish_dict(self, event_type: str, data: Mapping[str, Any]) -> Future[Delivery]:
        """Validate a plain dictionary as `event_type` and send it; errors name the field path."""
        try:
            model = model_for(event_type)
        except UnknownEventType as exc:
            raise InvalidEvent(event_type, [FieldProblem("event_type", str(exc))]) from exc
        try:
            event = model.model_validate(dict(data))
        except EventValidationError as exc:
            raise InvalidEvent(exc.event_type, exc.problems) from exc
        return self.publish(event)

    def publish_raw(self, key: bytes | None, value: bytes, event_id: str = "") -> Future[Delivery]:
        """Send bytes as they are, without validation: for replays of DLQ records and for fault injection."""
        return self._send(event_id, key, value, None)

    def _send(self, event_id: str, key: bytes | None, value: bytes, event_type: str | None) -> Future[Delivery]:
        if self._closed:
            raise ProducerClosed(f"the producer of regency {self.regency_code} is closed; create a new one")
        headers = [(EVENT_TYPE_HEADER, event_type.encode())] if event_type else None
        return self._producer.send(self.topic, key, value, event_id=event_id, headers=headers)

    # -- lifecycle -------------------------------------------------------------------------------------------
    def flush(self, timeout: float = 60.0) -> int:
        """Wait for every sent event to be acknowledged or failed; returns how many are still outstanding."""
        return self._producer.flush(timeout)

    def close(self, timeout: float = 60.0) -> None:
        """Flush, then fail whatever the broker never acknowledged, so no accepted event vanishes unreported
        (a shared client is only flushed: its owner closes it)."""
        self._closed = True
        if self._owned:
            self._producer.close(timeout)
        else:
            self._producer.flush(timeout)

    def __enter__(self) -> RegencyProducer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
