"""The alerts processor: canonical events, repartitioned by rule subject, evaluated against rules.yaml.

Stage 1 takes the canonical records in batches, finds each one's subject keys (for most event types the record's
own message key, its case, known from the writer schema id without reading the body: `case_key`; for the rest
its `partition_keys`, read from its Avro datum, no pydantic model per record: the gatekeeper validated it), and
forwards the records' Avro bytes to an internal
topic on the partition their key hashes to (Kafka's default partitioner), so events sharing rule state (a complaint
category of a regency, a price series, an aid recipient) meet on one partition: one message per partition per
batch, holding (key, record) pairs (`pack`). Stage 2 reads each record of a message once more as its datum, runs
the rules with their state read through a per-message buffer over a RocksDB table (one table write per subject per
message), and emits each new alert id once to `<prefix>.alerts` (a second table remembers the raised ids).

Faust's cost is per message (send, receive, acknowledge, changelog write), not per record: a batch of 1,000
canonical records becomes at most `REPARTITIONS` repartition messages.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterator
from datetime import UTC, datetime

import faust

from schemas.codec import AvroCodec
from schemas.datum import CodecDecoder
from streams.alerts.rules import BufferedState, Deduplicator, RulesConfig, evaluate, keyed_by_case, partition_keys
from streams.config import StreamsConfig, StreamsSettings
from streams.faust_app import JSON_SCHEMA, make_app, retrying
from streams.runtime import InternalTopics, app_id, read_canonical, table_options
from topics.catalog import TopicSet
from topics.partitioner import partition_of as kafka_partition_of

log = logging.getLogger("simpul.streams.alerts")

REPARTITIONS = 6
BATCH = 1000  # canonical records per batch of `route`
BATCH_WITHIN_S = 0.2  # a batch that does not fill is handled after this long
RECORDS_PER_MESSAGE = 500  # (key, record) pairs per repartition message: far below Kafka's 1 MB limit
PACKED = b"\x01"  # first byte of a packed message; a single Confluent-framed record starts with 0x00
_LENGTH = struct.Struct(">I")


def internal_topics(settings: StreamsSettings) -> InternalTopics:
    """The two tables' changelogs and the repartition topic, created before the app starts."""
    ident = app_id("alerts", settings)
    return {f"{ident}-rule_state-changelog": (REPARTITIONS, True),
            f"{ident}-raised-changelog": (REPARTITIONS, True),
            f"{ident}-subjects-repartition": (REPARTITIONS, False)}


def partition_of(key: bytes, partitions: int = REPARTITIONS) -> int:
    """The repartition topic's partition of a subject key: what Kafka's default partitioner (murmur2) gives the
    key, so a subject's events and its rule state stay on the partition they had when each event was a message."""
    return kafka_partition_of(key, partitions)


def pack(pairs: list[tuple[bytes, bytes]]) -> bytes:
    """(subject key, Confluent-framed record) pairs as one message value: `PACKED`, then per pair the key and the
    record, each preceded by its length (4 bytes, big-endian)."""
    parts = [PACKED]
    for key, value in pairs:
        parts += (_LENGTH.pack(len(key)), key, _LENGTH.pack(len(value)), value)
    return b"".join(parts)


def unpack(value: bytes, key: bytes | None) -> Iterator[tuple[str | None, bytes]]:
    """The (subject key, record) pairs of a repartition message; a message of one record under its subject key
    (as sent before the batching, in flight across an upgrade) is one pair."""
    if value[:1] != PACKED:
        yield (key.decode() if key is not None else None), value
        return
    view, at, end = memoryview(value), 1, len(value)
    while at < end:
        (n,) = _LENGTH.unpack_from(view, at)
        subject = bytes(view[at + 4:at + 4 + n]).decode()
        at += 4 + n
        (n,) = _LENGTH.unpack_from(view, at)
        yield subject, bytes(view[at + 4:at + 4 + n])
        at += 4 + n


def by_partition(pairs: list[tuple[bytes, bytes]], partitions: int = REPARTITIONS,
                 per_message: int = RECORDS_PER_MESSAGE) -> list[tuple[int, list[tuple[bytes, bytes]]]]:
    """A batch's (subject key, record) pairs as (partition, pairs) messages, in their order within a partition."""
    grouped: dict[int, list[tuple[bytes, bytes]]] = {}
    for pair in pairs:
        grouped.setdefault(partition_of(pair[0], partitions), []).append(pair)
    return [(p, items[i:i + per_message]) for p, items in grouped.items() for i in range(0, len(items), per_message)]


def case_key(decode: CodecDecoder, value: bytes | None, key: bytes | None) -> bytes | None:
    """A canonical record's one subject key when it is the record's message key (`keyed_by_case`: the gatekeeper
    keys each record by its case), found from the writer schema id without reading the body; None when the
    record must be read for its keys (another type, no key, not framed, or a schema id the registry must give)."""
    if key is None or value is None:
        return None
    try:
        model = decode.model_of(value)
    except Exception:  # noqa: BLE001 - reading the record says what is wrong with it, and retries a lost registry
        return None
    return key if keyed_by_case(model.event_type) else None


def build_alerts(settings: StreamsSettings, config: StreamsConfig, *, topics: TopicSet, codec: AvroCodec,
                 rules: RulesConfig) -> faust.App:
    """The alerts app over `topics` with `rules` (its internal topics must exist: `internal_topics`)."""
    app = make_app("alerts", settings, config)
    canonical = app.topic(*[t.name for t in topics.role("events")], key_serializer="raw", value_serializer="raw")
    by_subject = app.topic(f"{app.conf.id}-subjects-repartition", internal=True, partitions=REPARTITIONS,
                           key_serializer="raw", value_serializer="raw")
    alerts_topic = app.topic(topics.alerts.name, key_serializer="raw", value_serializer="raw")
    state = app.Table("rule_state", default=None, partitions=REPARTITIONS, schema=JSON_SCHEMA,
                      options=table_options(config), help="rule subject -> rule state")
    raised = app.Table("raised", default=None, partitions=REPARTITIONS, schema=JSON_SCHEMA,
                       options=table_options(config), help="alert id -> raised at")
    dedup = Deduplicator(raised)
    stats = {"events": 0, "skipped": 0, "alerts": 0}
    decode = CodecDecoder(codec)

    async def read(value: bytes, where: str):  # type: ignore[no-untyped-def]
        try:
            event = read_canonical(decode, value)
        except Exception:  # noqa: BLE001 - the registry is unreachable: wait for it (`retrying`)
            event = await retrying("decoding", lambda: read_canonical(decode, value))
        if isinstance(event, Exception):  # not a canonical event (cannot happen behind the gatekeeper)
            stats["skipped"] += 1
            log.warning("skipping %s: %s", where, event)
            return None
        return event

    @app.agent(canonical, name="route")
    async def route(stream):  # type: ignore[no-untyped-def]
        # in batches: one repartition message per partition per batch; the batch's events are acknowledged only
        # after it is handled, so at least once holds
        async for events in stream.take_events(BATCH, within=BATCH_WITHIN_S):
            pairs: list[tuple[bytes, bytes]] = []
            for ev in events:
                m = ev.message
                key = case_key(decode, m.value, m.key)
                if key is not None:
                    pairs.append((key, m.value))
                    continue
                event = await read(m.value, f"{m.topic}:{m.partition}:{m.offset}")
                if event is not None:
                    # one key for most; a school admission decision goes under two
                    pairs += ((subject.encode(), m.value) for subject in partition_keys(event))
            for partition, items in by_partition(pairs):
                await by_subject.send(key=items[0][0], value=pack(items), partition=partition)

    @app.agent(by_subject, name="evaluate")
    async def evaluate_events(stream):  # type: ignore[no-untyped-def]
        # a message's records share one state buffer: one table write per subject per message (the table's
        # changelog partition comes from the message being iterated, which is its subjects' own partition)
        async for ev in stream.events():
            m = ev.message
            buffered = BufferedState(state)
            now = datetime.now(UTC)
            fresh = []
            for i, (key, value) in enumerate(unpack(m.value, m.key)):
                event = await read(value, f"{m.topic}:{m.partition}:{m.offset}#{i}")
                if event is None:
                    continue
                stats["events"] += 1
                fresh += dedup.new(evaluate(event, rules, buffered, now, key=key))
            buffered.flush()
            for alert in fresh:
                await alerts_topic.send(key=alert.key(), value=alert.to_bytes())
                stats["alerts"] += 1
                log.info("alert %s %s %s %s", alert.rule.value, alert.severity, alert.alert_id, alert.subject)

    @app.timer(10.0)
    async def report() -> None:
        log.info("alerts: %s", stats)

    return app
