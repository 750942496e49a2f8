"""The DLQ browser and replay: what was rejected and why, decoded where it decodes, and a way back in.

The gatekeeper seals each rejected record's original key, value and headers (`schemas.dlq_seal`); this module
opens them with the installation's DLQ keys to show them, NIK fields masked, and to replay them. A replay writes
the record to the ingress topic it came from, and nowhere else: as it was (after a fix elsewhere, e.g. a schema
registered) or fixed (a corrected event, validated by the contract first, of that topic's regency), with a header
naming the DLQ record, so the gatekeeper screens it again like any other event. An operator fixes a record
without ever seeing its NIKs: a field left as the view showed it (masked), or left out, keeps the original value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition
from pydantic import BaseModel, field_validator, model_validator

from monitor.exceptions import MonitorError
from schemas.catalog import nik_fields
from schemas.codec import AvroCodec
from schemas.dlq_seal import DlqSeal, Original, is_envelope
from schemas.exceptions import SchemaError, SealError
from schemas.models import model_for
from schemas.nik import NikContext, mask_nik, redact_niks, redact_value, validation_context
from schemas.outcomes import Header, source_of
from topics.catalog import TopicSet
from topics.connection import KafkaConnection


class DlqRecord(BaseModel):
    """One rejected record as ops see it. It cannot hold a raw NIK: NIK fields of the payload are masked
    (`schemas.nik.mask_nik`) and every run of 16 or more digits anywhere else is masked like a NIK."""

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
    sealed: bool = True
    """False for a record written before the DLQ was sealed (shown masked, never replayed)."""
    problem: str | None = None
    """Why the original could not be opened (an unknown key id, an altered envelope), if it could not."""

    @field_validator("reason", "message", "source_topic", "key", "event_type", "problem")
    @classmethod
    def _redacted(cls, value: str | None) -> str | None:
        return redact_niks(value) if value is not None else None

    @model_validator(mode="after")
    def _masked(self) -> DlqRecord:
        if self.payload is not None:
            self.payload = masked_payload(self.event_type, self.payload)
        return self

    @property
    def id(self) -> str:
        return f"{self.partition}:{self.offset}"


class ReplayError(MonitorError):
    """A replay that cannot be done as asked; nothing was written. The message (shown to the operator, kept in
    the audit trail) has long digit runs masked, whatever it quotes."""

    def __init__(self, message: str) -> None:
        super().__init__(redact_niks(message))


def masked_payload(event_type: str | None, payload: Mapping[str, Any]) -> dict[str, Any]:
    """A decoded payload as views show it: NIK fields masked, long digit runs elsewhere masked too."""
    niks = set(nik_fields(event_type)) if event_type and _known(event_type) else set()
    return {redact_niks(str(k)): (mask_nik(v) if k in niks and isinstance(v, str) else redact_value(v))
            for k, v in payload.items()}


def _known(event_type: str) -> bool:
    try:
        nik_fields(event_type)
    except SchemaError:
        return False
    return True


def _header(headers: list[tuple[str, bytes]] | None, name: str) -> str:
    for k, v in headers or []:
        if k == name and v is not None:
            return v.decode(errors="replace")
    return ""


def _as_json(record: Mapping[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(record, default=str))  # type: ignore[no-any-return]


class _Opened:
    """A DLQ message with its original opened (or the reason it could not be) and decoded where it decodes."""

    def __init__(self, msg: Any, codec: AvroCodec, seal: DlqSeal) -> None:  # noqa: ANN401 - a confluent_kafka.Message
        headers = msg.headers()
        self.msg = msg
        self.source_topic = _header(headers, Header.SOURCE_TOPIC)
        part, off = _header(headers, Header.SOURCE_PARTITION), _header(headers, Header.SOURCE_OFFSET)
        self.source_partition = int(part) if part.isdigit() else None
        self.source_offset = int(off) if off.isdigit() else None
        self.original: Original | None = None
        self.problem: str | None = None
        self.sealed = is_envelope(msg.value())
        if self.sealed:
            if self.source_partition is None or self.source_offset is None:
                self.problem = "the record names no source partition and offset; its envelope cannot be opened"
            else:
                try:
                    self.original = seal.open(msg.value(), source_of(self.source_topic, self.source_partition,
                                                                     self.source_offset))
                except SealError as exc:
                    self.problem = str(exc)
        else:  # written before the DLQ was sealed: the bytes are the original, in the clear
            self.original = Original(msg.key(), msg.value(), ())
        self.event_type: str | None = None
        self.record: dict[str, Any] | None = None
        if self.original is not None and self.original.value:
            try:
                self.event_type, self.record = codec.decode_record(self.original.value)
            except SchemaError:
                pass

    def view(self) -> DlqRecord:
        msg, original = self.msg, self.original
        headers = msg.headers()
        ts_type, ts = msg.timestamp()
        key = original.key if original is not None else None
        return DlqRecord(
            partition=msg.partition(), offset=msg.offset(),
            timestamp=datetime.fromtimestamp(ts / 1000).astimezone() if ts_type else None,
            reason=_header(headers, Header.REASON) or "unknown", message=_header(headers, Header.REASON_MESSAGE),
            source_topic=self.source_topic, source_partition=self.source_partition, source_offset=self.source_offset,
            key=key.decode(errors="replace") if key is not None else None, event_type=self.event_type,
            payload=_as_json(self.record) if self.record is not None else None,
            size=len(original.value or b"") if original is not None else 0, sealed=self.sealed, problem=self.problem,
        )


def describe(msg: Any, codec: AvroCodec, seal: DlqSeal) -> DlqRecord:  # noqa: ANN401 - a confluent_kafka.Message
    """A DLQ message as ops see it: opened, decoded where its bytes decode (the reason says why the rest did not),
    NIKs masked."""
    return _Opened(msg, codec, seal).view()


class DlqBrowser:
    """Reads the DLQ (never committing) and replays its records to their own ingress topic.

    `seal` holds the installation's current and retired DLQ keys; `topics` is the catalog of this prefix (its
    DLQ, and the ingress topics a replay may write to)."""

    def __init__(self, kafka: KafkaConnection, codec: AvroCodec, topics: TopicSet, seal: DlqSeal) -> None:
        self.kafka, self.codec, self.seal = kafka, codec, seal
        self.topic = topics.dlq.name
        self.ingress = {t.name: t.labels["regency"] for t in topics.role("ingress")}

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

    def get(self, partition: int, offset: int) -> DlqRecord:
        """One record as ops see it."""
        return self._get(partition, offset).view()

    def _get(self, partition: int, offset: int) -> _Opened:
        """The record at partition:offset; a partition or offset the topic does not hold is refused at once (a
        fetch beyond the end would wait out the poll for a record that is not there)."""
        consumer = self._consumer()
        try:
            parts = consumer.list_topics(self.topic, timeout=10).topics[self.topic].partitions
            if partition not in parts:
                raise ReplayError(f"DLQ record {partition}:{offset} not found: {self.topic} has partitions "
                                  f"0-{len(parts) - 1}")
            low, high = consumer.get_watermark_offsets(TopicPartition(self.topic, partition), timeout=10)
            if not low <= offset < high:
                raise ReplayError(f"DLQ record {partition}:{offset} not found: partition {partition} of {self.topic} "
                                  f"holds offsets {low} to {high - 1}" if high > low else
                                  f"DLQ record {partition}:{offset} not found: partition {partition} is empty")
            consumer.assign([TopicPartition(self.topic, partition, offset)])
            msg = consumer.poll(10)
            if msg is None or msg.error() is not None or msg.offset() != offset:
                raise ReplayError(f"DLQ record {partition}:{offset} not found in {self.topic}")
            return _Opened(msg, self.codec, self.seal)
        finally:
            consumer.close()

    def replay(self, partition: int, offset: int, fixed: dict[str, Any] | None = None) -> dict[str, Any]:
        """Write one DLQ record back to its own ingress topic: as it was, or `fixed` (a full event, validated
        first, of that topic's regency; fields left masked or left out keep the original's values).

        Returns where it was written, and `before_digest`/`after_digest`: keyed digests (`DlqSeal.digest`) of the
        original value and of the bytes written, for the audit trail."""
        opened = self._get(partition, offset)
        where = f"DLQ record {partition}:{offset}"
        topic = opened.source_topic
        regency = self.ingress.get(topic)
        if regency is None:
            raise ReplayError(f"{where} came from {topic or 'no named topic'}, which is not an ingress topic of "
                              "this prefix; a replay writes only to the record's own ingress topic")
        if not opened.sealed:
            raise ReplayError(f"{where} is not sealed (written before the DLQ was sealed, or not by the "
                              "gatekeeper); it cannot be replayed, ask the regency to send the event again")
        if opened.original is None:
            raise ReplayError(f"{where} cannot be opened: {opened.problem}")
        original = opened.original
        key, value = original.key, original.value
        if fixed is not None:
            event = self._fixed_event(opened, fixed, regency, topic)
            key, value = event.ordering_key.encode(), self.codec.encode(event)
        producer = Producer(self.kafka.librdkafka(**{"enable.idempotence": True, "acks": "all"}))
        delivered: list[Any] = []
        producer.produce(topic, key=key, value=value,
                         headers=[(Header.REPLAYED_FROM, f"{self.topic}:{partition}:{offset}".encode())],
                         on_delivery=lambda err, m: delivered.append(err or m))
        producer.flush(30)
        if not delivered or not hasattr(delivered[0], "offset"):
            raise ReplayError(f"the broker did not acknowledge the replay of {partition}:{offset}: {delivered}")
        return {"replayed": f"{partition}:{offset}", "to": topic, "partition": delivered[0].partition(),
                "offset": delivered[0].offset(), "fixed": fixed is not None,
                "before_digest": self.seal.digest(original.value or b""), "after_digest": self.seal.digest(value or b"")}

    def _fixed_event(self, opened: _Opened, fixed: Mapping[str, Any], regency: str, topic: str) -> Any:  # noqa: ANN401
        event_type = fixed.get("event_type") or opened.event_type
        if not event_type:
            raise ReplayError("the fixed event needs an event_type (the record did not decode)")
        try:
            model = model_for(event_type)
        except SchemaError as exc:
            raise ReplayError(f"event_type: {exc}") from None
        data = {k: v for k, v in fixed.items() if k != "event_type"}
        if opened.record is not None and opened.event_type == model.event_type:
            data = restore_masked(model.event_type, opened.record, data)
        try:
            event = model.model_validate(data, context=validation_context(NikContext.INGRESS))
        except SchemaError as exc:
            raise ReplayError(f"the fixed event is still invalid: {exc}") from None
        if event.regency_code != regency:
            raise ReplayError(f"regency_code: the fixed event is of regency {event.regency_code}, but the record came "
                              f"from {topic} (regency {regency}); a replay writes only to the record's own ingress "
                              "topic")
        return event

    def _read(self, consumer: Consumer, starts: list[tuple[int, int, int]]) -> list[DlqRecord]:
        if not starts:
            return []
        consumer.assign([TopicPartition(self.topic, p, s) for p, s, _ in starts])
        ends = {p: h for p, _, h in starts}
        done: set[int] = set()
        out: list[DlqRecord] = []
        remaining = sum(h - s for _, s, h in starts)
        while len(done) < len(ends) and remaining > 0:
            # never more than is left: consume(n, timeout) returns before its timeout only with n records, and
            # asking for 500 when 12 are left made every page of the browser wait the 5 s out
            batch = consumer.consume(num_messages=min(500, remaining), timeout=5)
            if not batch:
                break
            remaining -= len(batch)
            for msg in batch:
                if msg.error() is not None:
                    continue
                out.append(describe(msg, self.codec, self.seal))
                if msg.offset() >= ends[msg.partition()] - 1:
                    done.add(msg.partition())
        return out


def restore_masked(event_type: str, original: Mapping[str, Any], fixed: Mapping[str, Any]) -> dict[str, Any]:
    """`fixed` with the original's value back in every field the view masked and the operator left as shown
    (or, for a NIK field, left out): an operator fixes another field without ever seeing a NIK."""
    shown = masked_payload(event_type, _as_json(original))
    plain = _as_json(original)
    out = dict(fixed)
    for name, value in original.items():
        if name in nik_fields(event_type) and name not in fixed:
            out[name] = value
        elif shown.get(name) != plain.get(name) and fixed.get(name) == shown.get(name):
            out[name] = value
    return out
