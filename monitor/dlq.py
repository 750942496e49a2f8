"""The DLQ browser and replay: what was rejected and why, decoded where it decodes, and a way back in.

A replay writes the record to the ingress topic it came from — as it was (after a fix elsewhere, e.g. a schema
registered) or fixed (a corrected event, validated by the contract first) — with a header naming the DLQ record,
so the gatekeeper screens it again like any other event.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition
from pydantic import BaseModel

from monitor.exceptions import MonitorError
from schemas.codec import AvroCodec
from schemas.exceptions import SchemaError
from schemas.models import model_for
from schemas.outcomes import Header
from topics.connection import KafkaConnection


class DlqRecord(BaseModel):
    """One rejected record as ops see it."""

    partition: int
    offset: int
    timestamp: datetime | None
    reason: str
    message: str
    source_topic: str
    source_partition: int | None
    source_offset: int | None
    key: str | None
    event_type: str | None
    payload: dict[str, Any] | None
    size: int

    @property
    def id(self) -> str:
        return f"{self.partition}:{self.offset}"


class ReplayError(MonitorError):
    """A replay that cannot be done as asked; nothing was written."""


def _header(headers: list[tuple[str, bytes]] | None, name: str) -> str:
    for k, v in headers or []:
        if k == name and v is not None:
            return v.decode(errors="replace")
    return ""


def describe(msg: Any, codec: AvroCodec) -> DlqRecord:  # noqa: ANN401 - a confluent_kafka.Message
    """A DLQ message, decoded where its bytes decode (the reason says why the rest did not)."""
    headers = msg.headers()
    event_type, payload = None, None
    try:
        event_type, record = codec.decode_record(msg.value() or b"")
        payload = json.loads(json.dumps(record, default=str))
    except SchemaError:
        pass
    ts_type, ts = msg.timestamp()
    part, off = _header(headers, Header.SOURCE_PARTITION), _header(headers, Header.SOURCE_OFFSET)
    return DlqRecord(
        partition=msg.partition(), offset=msg.offset(),
        timestamp=datetime.fromtimestamp(ts / 1000).astimezone() if ts_type else None,
        reason=_header(headers, Header.REASON) or "unknown", message=_header(headers, Header.REASON_MESSAGE),
        source_topic=_header(headers, Header.SOURCE_TOPIC), source_partition=int(part) if part.isdigit() else None,
        source_offset=int(off) if off.isdigit() else None,
        key=(msg.key() or b"").decode(errors="replace") if msg.key() is not None else None,
        event_type=event_type, payload=payload, size=len(msg.value() or b""),
    )


class DlqBrowser:
    """Reads the DLQ (never committing) and replays its records."""

    def __init__(self, kafka: KafkaConnection, codec: AvroCodec, dlq_topic: str) -> None:
        self.kafka, self.codec, self.topic = kafka, codec, dlq_topic

    def _consumer(self) -> Consumer:
        return Consumer(self.kafka.librdkafka(**{"group.id": "simpul-dlq-browser", "enable.auto.commit": False,
                                                 "log_level": 0}))

    def latest(self, limit: int = 100) -> list[DlqRecord]:
        """The newest `limit` records, newest first."""
        consumer = self._consumer()
        try:
            parts = consumer.list_topics(self.topic, timeout=10).topics[self.topic].partitions
            starts = []
            for p in parts:
                low, high = consumer.get_watermark_offsets(TopicPartition(self.topic, p), timeout=10)
                if high > low:
                    starts.append((p, max(low, high - limit), high))
            return sorted(self._read(consumer, starts), key=lambda r: (r.timestamp or datetime.min.astimezone(),
                                                                       r.offset), reverse=True)[:limit]
        finally:
            consumer.close()

    def get(self, partition: int, offset: int) -> tuple[DlqRecord, Any]:
        consumer = self._consumer()
        try:
            consumer.assign([TopicPartition(self.topic, partition, offset)])
            msg = consumer.poll(10)
            if msg is None or msg.error() is not None or msg.offset() != offset:
                raise ReplayError(f"DLQ record {partition}:{offset} not found in {self.topic}")
            return describe(msg, self.codec), msg
        finally:
            consumer.close()

    def replay(self, partition: int, offset: int, fixed: dict[str, Any] | None = None) -> dict[str, Any]:
        """Write one DLQ record back to its ingress topic: as it was, or `fixed` (a full event, validated first)."""
        record, msg = self.get(partition, offset)
        if not record.source_topic:
            raise ReplayError(f"DLQ record {record.id} names no source topic; it cannot be replayed")
        key, value = msg.key(), msg.value()
        if fixed is not None:
            event_type = fixed.get("event_type") or record.event_type
            if not event_type:
                raise ReplayError("the fixed event needs an event_type (the record did not decode)")
            try:
                event = model_for(event_type).model_validate({k: v for k, v in fixed.items() if k != "event_type"})
            except SchemaError as exc:
                raise ReplayError(f"the fixed event is still invalid: {exc}") from exc
            key, value = event.ordering_key.encode(), self.codec.encode(event)
        producer = Producer(self.kafka.librdkafka(**{"enable.idempotence": True, "acks": "all"}))
        delivered: list[Any] = []
        producer.produce(record.source_topic, key=key, value=value,
                         headers=[(Header.REPLAYED_FROM, f"{self.topic}:{record.id}".encode())],
                         on_delivery=lambda err, m: delivered.append(err or m))
        producer.flush(30)
        if not delivered or not hasattr(delivered[0], "offset"):
            raise ReplayError(f"the broker did not acknowledge the replay of {record.id}: {delivered}")
        return {"replayed": record.id, "to": record.source_topic, "partition": delivered[0].partition(),
                "offset": delivered[0].offset(), "fixed": fixed is not None}

    def _read(self, consumer: Consumer, starts: list[tuple[int, int, int]]) -> list[DlqRecord]:
        if not starts:
            return []
        consumer.assign([TopicPartition(self.topic, p, s) for p, s, _ in starts])
        ends = {p: h for p, _, h in starts}
        done: set[int] = set()
        out: list[DlqRecord] = []
        while len(done) < len(ends):
            batch = consumer.consume(num_messages=500, timeout=5)
            if not batch:
                break
            for msg in batch:
                if msg.error() is not None:
                    continue
                out.append(describe(msg, self.codec))
                if msg.offset() >= ends[msg.partition()] - 1:
                    done.add(msg.partition())
        return out
