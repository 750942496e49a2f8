"""Where the aggregates stage writes its windows: `agg.<metric>`, produced through librdkafka, not Faust.

A window that changed is emitted once per flush (one record per changed window per second), about one record per
canonical event when a replay walks through time. Through Faust's send path (a FutureMessage, the producer
buffer, aiokafka's pure-Python batching) each record cost the stage more than its share of the table write: a
py-spy profile of a catch-up put the emit timer and its sends at about a third of the worker's CPU
(docs/performance.md). librdkafka batches and sends them on its own threads. Each flush waits for the broker's
acknowledgement of every record it produced; a record the broker refused is handed back, so the timer emits
that window again with its latest value.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from topics.connection import KafkaConnection

log = logging.getLogger("simpul.streams.aggregates")

PRODUCER_SETTINGS = {
    "enable.idempotence": True, "acks": "all", "linger.ms": 5, "compression.type": "lz4",
    "queue.buffering.max.messages": 1_000_000, "queue.buffering.max.kbytes": 1_048_576,
}
FLUSH_TIMEOUT_S = 30.0


class WindowOutput:
    """A librdkafka producer for the `agg.<metric>` topics; `send` per window, `flush` once per emit."""

    def __init__(self, connection: KafkaConnection, client_id: str, producer: Any = None) -> None:
        self.connection, self.client_id = connection, client_id
        self._producer = producer  # made at the first send: building the app connects to nothing
        self._refused: list[Hashable] = []

    @property
    def producer(self) -> Any:
        if self._producer is None:
            self._producer = Producer(self.connection.librdkafka(**PRODUCER_SETTINGS, **{"client.id": self.client_id}))
        return self._producer

    def send(self, topic: str, key: bytes, value: bytes, token: Hashable) -> None:
        """Queue one window's record; `token` comes back from `flush` if the broker refuses it."""
        def delivered(err: KafkaError | None, _msg: Message) -> None:
            if err is not None:
                log.warning("an aggregate for %s was not written (%s); it is emitted again", topic, err.str())
                self._refused.append(token)

        while True:
            try:
                self.producer.produce(topic, value=value, key=key, on_delivery=delivered)
                return
            except BufferError:  # the local queue is full: let librdkafka send some, then queue again
                self.producer.poll(0.1)

    async def flush(self) -> list[Hashable]:
        """Wait (off the event loop) until every queued record is acknowledged or refused; the refused tokens."""
        if self._producer is None:
            return []
        left = await asyncio.to_thread(self._producer.flush, FLUSH_TIMEOUT_S)
        if left:
            log.warning("%d aggregates still unacknowledged after %.0f s; the broker is slow or away", left,
                        FLUSH_TIMEOUT_S)
        refused, self._refused = self._refused, []
        return refused
