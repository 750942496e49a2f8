"""What every stream processor shares, without Faust: consumer group names, local state folders, internal topics
created before start-up, and the decoding of canonical records.

The gatekeeper (a librdkafka batch loop, `streams.gatekeeper.worker`) runs on this alone; aggregates and alerts
add the Faust app factory (`streams.faust_app`) and read canonical records as datums (`read_canonical`): the
gatekeeper validated them with the full models, so they are not built again per record. Several processes running the same processor with the same
prefix form one consumer group and share partitions. Topic names come from the catalog
(`topics.catalog.topic_names`).
"""

from __future__ import annotations

import time
from pathlib import Path

from schemas.codec import AvroCodec
from schemas.datum import CodecDecoder, EventView, view
from schemas.exceptions import EventValidationError, UnknownEventType, WireFormatError
from schemas.models import Event
from schemas.nik import NikContext
from streams.config import StreamsConfig, StreamsSettings
from streams.exceptions import TransientFailure

PROCESSORS = ("gatekeeper", "aggregates", "alerts")

InternalTopics = dict[str, tuple[int, bool]]
"""A processor's internal topics: name -> (partitions, compacted)."""


def app_id(processor: str, settings: StreamsSettings) -> str:
    """The app id = consumer group of a processor: `<prefix>-<processor>`."""
    return f"{settings.topic_prefix}-{processor}"


def data_dir(processor: str, settings: StreamsSettings, config: StreamsConfig) -> Path:
    """Local RocksDB state of one instance: `<state_dir>/streams/<processor>/<app id>-<instance>`."""
    return (settings.state_dir / "streams" / processor / f"{app_id(processor, settings)}-{config.streams_instance}").resolve()


def decode_canonical(codec: AvroCodec, value: bytes) -> Event | WireFormatError | UnknownEventType | EventValidationError:
    """A canonical record's event; a poison record comes back as the exception (the caller skips it), anything
    else (registry unreachable) is raised, for the caller to retry."""
    try:
        return codec.decode(value, NikContext.CANONICAL)
    except (WireFormatError, UnknownEventType, EventValidationError) as exc:
        return exc


def read_canonical(decode: CodecDecoder, value: bytes | None) -> EventView | WireFormatError | UnknownEventType:
    """A canonical record's datum, seen through the event's attribute names (`schemas.datum.EventView`), without
    building its model; a poison record comes back as the exception (the caller skips it), anything else
    (registry unreachable) is raised, for the caller to retry."""
    if value is None:
        return WireFormatError("empty value (tombstone) on a canonical topic")
    try:
        model, record = decode(value)
    except (WireFormatError, UnknownEventType) as exc:
        return exc
    return view(model, record)


def ensure_internal_topics(settings: StreamsSettings, config: StreamsConfig, topics: InternalTopics,
                           timeout: float = 30.0) -> None:
    """Create the processor's internal topics before it starts, and wait until the cluster serves them.

    Faust would declare them itself, but a changelog created in the middle of start-up can be seen with 0
    partitions by the consumer's stale metadata, and Faust then crashes the agent with PartitionsMismatch on every
    table write. Created here first, they are known before the worker's first metadata request.
    """
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient(settings.kafka.librdkafka())
    new = [NewTopic(name, num_partitions=n, replication_factor=config.streams_replication,
                    config={"cleanup.policy": "compact" if compacted else "delete"})
           for name, (n, compacted) in topics.items()]
    for name, future in admin.create_topics(new, operation_timeout=timeout).items():
        try:
            future.result()
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise TransientFailure(f"cannot create {name}: {exc}") from exc
    deadline = time.monotonic() + timeout
    while True:
        md = admin.list_topics(timeout=timeout)
        ready = all(name in md.topics and len(md.topics[name].partitions) == n
                    and all(p.leader >= 0 for p in md.topics[name].partitions.values())
                    for name, (n, _) in topics.items())
        if ready:
            return
        if time.monotonic() > deadline:
            raise TransientFailure(f"internal topics {sorted(topics)} not ready after {timeout:.0f}s")
        time.sleep(0.2)
