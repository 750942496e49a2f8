"""The SDK's consumer side: a province service reads canonical events as typed models, with no Kafka knowledge.

At-least-once: the offsets of a batch are committed only once the handler has returned for its records. A handler
that raises stops the run; what it had handled before is committed, the failing record is not, so the next run
hands it over again. Handle idempotently (upsert by `event_id`): a restart may repeat a record.

    # BOOTSTRAP, REGISTRY_URL: the broker and the registry's Confluent-compatible base URL the province gives you
    with ProvinceConsumer.connect("dinkes-dashboard", families=["living"], bootstrap=BOOTSTRAP,
                                  registry_url=REGISTRY_URL) as consumer:
        consumer.run(handle)   # handle(event) for every event, until stop(), SIGTERM or SIGINT
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, Message

from consumers.exceptions import ConsumerError
from consumers.kafka import Stopper, commit_offsets, make_consumer, next_offsets, raise_on_fatal
from schemas.catalog import default_catalog
from schemas.codec import AvroCodec
from schemas.exceptions import EventValidationError, UnknownEventType, WireFormatError
from schemas.models import Event
from schemas.nik import NikContext
from topics.catalog import topic_names
from topics.connection import KafkaConnection

log = logging.getLogger("simpul.consumers.province")

Handler = Callable[[Event], None]


class HandlerFailed(ConsumerError):
    """The service's handler raised; the record it failed on is not committed and comes again on the next run."""


@dataclass
class Consumed:
    """What one `run` did: events handled, and records skipped because they are no event this SDK can read
    (an event type newer than the installed contract, or bytes that do not decode: logged, never handed over)."""

    handled: int = 0
    skipped: int = 0


class ProvinceConsumer:
    """Reads `<prefix>.events.<family>` of the families given as one consumer group; use as a context manager."""

    def __init__(self, kafka: KafkaConnection, codec: AvroCodec, group_id: str, families: Iterable[str], *,
                 topic_prefix: str = "jateng", batch_size: int = 500, poll_timeout_s: float = 1.0,
                 conf: dict[str, Any] | None = None) -> None:
        known = sorted(default_catalog().by_family())
        wanted = sorted(set(families))
        unknown = [f for f in wanted if f not in known]
        if not wanted or unknown:
            raise ConsumerError(f"families {unknown or wanted} are not event families; choose from {known}")
        topics = topic_names(topic_prefix)
        self.topics = [topics.events(f).name for f in wanted]
        self.codec = codec
        self.batch_size, self.poll_timeout_s = batch_size, poll_timeout_s
        self.stopper = Stopper()
        self._consumer: Consumer = make_consumer(kafka, group_id, client_id=f"simpul-province-{group_id}",
                                                 **(conf or {}))
        self._consumer.subscribe(self.topics)

    @classmethod
    def connect(cls, group_id: str, *, families: Iterable[str], bootstrap: str, registry_url: str,
                topic_prefix: str = "jateng", **kafka: Any) -> ProvinceConsumer:
        """A consumer from plain addresses (`kafka` takes KafkaConnection's fields, e.g. username/password)."""
        return cls(KafkaConnection(bootstrap=bootstrap, **kafka), AvroCodec.from_url(registry_url), group_id,
                   families, topic_prefix=topic_prefix)

    def run(self, handle: Handler, *, max_events: int | None = None, idle_s: float | None = None) -> Consumed:
        """Hand every event to `handle`, committing after each batch; until `stop()` (or SIGTERM/SIGINT in the
        main thread), `max_events` handled, or `idle_s` seconds without a record."""
        self.stopper.install()
        done = Consumed()
        last = time.monotonic()
        while not self.stopper and (max_events is None or done.handled < max_events):
            if idle_s is not None and time.monotonic() - last > idle_s:
                break
            limit = self.batch_size if max_events is None else min(self.batch_size, max_events - done.handled)
            batch = self._consumer.consume(num_messages=limit, timeout=self.poll_timeout_s)
            if not batch:
                continue
            last = time.monotonic()
            handled: list[Message] = []
            try:
                for m in batch:
                    raise_on_fatal(m)
                    if m.error() is None:
                        self._one(m, handle, done)
                    handled.append(m)
            finally:  # what was handled is committed, the failing record is not
                commit_offsets(self._consumer, next_offsets(handled))
        return done

    def _one(self, m: Message, handle: Handler, done: Consumed) -> None:
        try:
            event = self.codec.decode(m.value() or b"", NikContext.CANONICAL)
        except (WireFormatError, UnknownEventType, EventValidationError) as exc:
            log.warning("skipped %s[%d]@%d: %s", m.topic(), m.partition(), m.offset(), exc)
            done.skipped += 1
            return
        try:
            handle(event)
        except Exception as exc:
            raise HandlerFailed(f"the handler failed on event {event.event_id} ({m.topic()}[{m.partition()}]@"
                                f"{m.offset()}): {exc}; it was not committed and is handed over again") from exc
        done.handled += 1

    def stop(self) -> None:
        """Finish the current batch, commit it, and return from `run`."""
        self.stopper.stop()

    def close(self) -> None:
        self._consumer.close()

    def __enter__(self) -> ProvinceConsumer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
