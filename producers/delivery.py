"""A Kafka producer whose every record gets a `Future` resolved by the broker's acknowledgement.

Shared by the SDK (one regency) and the HTTP gateway (all regencies): idempotent, acks=all, batched by
librdkafka; a record the broker never acknowledges fails its future with `DeliveryFailed`, never silently.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any

from confluent_kafka import KafkaError, Message, Producer
from pydantic import BaseModel

from producers.exceptions import DeliveryFailed, ProducerClosed
from topics.connection import KafkaConnection

PRODUCER_DEFAULTS: dict[str, Any] = {
    "enable.idempotence": True,
    "acks": "all",
    # 5 ms: a regency's producer sends ~1 event/s to its own 3 partitions, so nothing ever shares a request and
    # every record waited the whole linger: 50 ms of the 150 ms p99 budget at 200 events/s. A bulk load fills
    # its batches while earlier requests are in flight, whatever the linger. The price is paid only by one
    # producer spreading a few thousand records/s over all 105 partitions: at 2,000/s 1.1 records a request
    # instead of 1.9, the broker 0.46 cores instead of 0.38 (`python -m bench.produce_requests`, docs/performance.md)
    "linger.ms": 5,
    "batch.num.messages": 10000,
    # lz4, not zstd: live traffic spread over many partitions makes small batches, and a zstd batch costs a
    # compression context here and a decompression on the broker each; at half the gatekeeper's rate that alone
    # took the 2-core bench host from a p99 of ~400 ms to ~1 s (docs/performance.md)
    "compression.type": "lz4",
    "delivery.timeout.ms": 120_000,  # librdkafka retries until then, then reports the record as failed
    "queue.buffering.max.messages": 500_000,
}


class Delivery(BaseModel):
    """Where the broker stored a record. `offset` is None when the broker acknowledged a retried write it had
    already stored (the idempotent producer's duplicate after a broker failover): stored once, offset unknown."""

    event_id: str
    topic: str
    partition: int
    offset: int | None


UNKNOWN_OFFSET = -1


def known_offset(delivery: Delivery) -> int:
    """The offset, or UNKNOWN_OFFSET (-1) where a table or an API field needs an integer."""
    return delivery.offset if delivery.offset is not None else UNKNOWN_OFFSET


class AckedProducer:
    """Thread-safe; a background thread serves delivery callbacks so callers only wait on futures."""

    def __init__(self, kafka: KafkaConnection, *, client_id: str, conf: Mapping[str, Any] | None = None) -> None:
        self._producer: Producer | None = Producer(
            kafka.librdkafka(**{**PRODUCER_DEFAULTS, **(conf or {}), "client.id": client_id}))
        self._pending: set[Future[Delivery]] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._poller = threading.Thread(target=self._poll_loop, name=f"{client_id}-acks", daemon=True)
        self._poller.start()

    def send(self, topic: str, key: bytes | None, value: bytes, *, event_id: str = "",
             headers: list[tuple[str, bytes]] | None = None) -> Future[Delivery]:
        """Queue one record; the future resolves to its `Delivery` or fails with `DeliveryFailed`."""
        if self._closed:
            raise ProducerClosed("this producer is closed; create a new one")
        future: Future[Delivery] = Future()
        with self._lock:
            self._pending.add(future)

        def on_delivery(err: KafkaError | None, msg: Message) -> None:
            # runs on the poll thread: it must never raise, or every later future would wait forever
            with self._lock:
                self._pending.discard(future)
            if err is not None:
                future.set_exception(DeliveryFailed(
                    f"event {event_id or '(raw record)'} was not acknowledged by the broker: {err.str()}; "
                    "publish it again with the same event_id (duplicates are dropped downstream)"))
                return
            try:
                future.set_result(Delivery(event_id=event_id, topic=msg.topic(), partition=msg.partition(),
                                           offset=msg.offset()))
            except Exception as exc:  # noqa: BLE001 - handed to the caller through the future
                future.set_exception(exc)

        producer = self._producer
        if producer is None:  # closed meanwhile, by another thread
            with self._lock:
                self._pending.discard(future)
            raise ProducerClosed("this producer is closed; create a new one")
        while True:
            try:
                producer.produce(topic, value=value, key=key, headers=headers, on_delivery=on_delivery)
                return future
            except BufferError:  # local queue full: let deliveries drain, then retry
                producer.poll(0.1)

    def broker_answers(self, timeout: float = 3.0) -> bool:
        """True when the cluster returns metadata (for readiness checks)."""
        if self._producer is None:
            return False
        try:
            return len(self._producer.list_topics(timeout=timeout).brokers) > 0
        except Exception:  # noqa: BLE001 - any failure means "not ready"
            return False

    def flush(self, timeout: float = 60.0) -> int:
        """Wait for every queued record to be acknowledged or failed; returns how many are still outstanding."""
        return self._producer.flush(timeout) if self._producer is not None else 0

    def close(self, timeout: float = 60.0) -> None:
        """Flush, then fail whatever the broker never acknowledged, so no accepted record vanishes unreported."""
        if self._closed:
            return
        remaining = self.flush(timeout)
        self._closed = True
        self._poller.join(timeout=2)
        # librdkafka's threads and connections end with the client object: without this a closed producer
        # still held by someone kept reconnecting (and logging) after its broker was gone
        self._producer = None
        if remaining:
            with self._lock:
                stuck = list(self._pending)
                self._pending.clear()
            for future in stuck:
                if not future.done():
                    future.set_exception(DeliveryFailed(
                        f"not acknowledged within {timeout:.0f} s before close; publish it again with the same "
                        "event_id"))

    def _poll_loop(self) -> None:
        producer = self._producer  # its own reference: close() drops the attribute
        assert producer is not None
        while not self._closed:
            served = producer.poll(0.05)
            if not served and not self._pending:
                time.sleep(0.02)
