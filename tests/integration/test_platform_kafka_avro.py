"""The platform carries Avro records through the real registry in the Confluent wire format."""

from __future__ import annotations

import struct

import httpx
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import SchemaRegistryClient, topic_subject_name_strategy
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from simpul.settings import Settings

SCHEMA = """
{"type": "record", "name": "PlatformProbe", "namespace": "id.go.jatengprov.simpul.test",
 "fields": [{"name": "seq", "type": "int"}, {"name": "regency_code", "type": "string"},
            {"name": "note", "type": ["null", "string"], "default": null}]}
"""
N = 1000


def test_thousand_avro_records_round_trip(settings: Settings, unique: str) -> None:
    topic = f"test.platform.{unique}"
    admin = AdminClient(settings.kafka.librdkafka())
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])[topic].result(timeout=30)

    registry = SchemaRegistryClient({"url": settings.registry})
    conf = {"auto.register.schemas": True, "subject.name.strategy": topic_subject_name_strategy}
    serialize = AvroSerializer(registry, SCHEMA, conf=conf)
    producer = Producer(settings.kafka.librdkafka(**{"enable.idempotence": True, "acks": "all"}))
    ctx = SerializationContext(topic, MessageField.VALUE)
    delivered: list[int] = []

    def on_delivery(err, msg) -> None:  # noqa: ANN001
        assert err is None, err
        delivered.append(msg.offset())

    for i in range(N):
        value = serialize({"seq": i, "regency_code": "3374", "note": None if i % 2 else f"n{i}"}, ctx)
        producer.produce(topic, key=str(i).encode(), value=value, on_delivery=on_delivery)
        producer.poll(0)
    assert producer.flush(30) == 0
    assert len(delivered) == N

    # The registry now holds the subject, and the id in every header is the registry's.
    subject = f"{topic}-value"
    versions = httpx.get(f"{settings.registry}/subjects/{subject}/versions", timeout=10).json()
    assert versions == [1]
    schema_id = registry.get_latest_version(subject).schema_id

    # Explicit strategy on both sides: confluent-kafka >= 2.14 otherwise asks the registry's association
    # endpoint, which Apicurio does not implement.
    deserialize = AvroDeserializer(registry, conf={"subject.name.strategy": topic_subject_name_strategy})
    consumer = Consumer(settings.kafka.librdkafka(**{
        "group.id": f"test-{unique}", "auto.offset.reset": "earliest", "enable.auto.commit": False}))
    consumer.subscribe([topic])
    seen: dict[int, dict] = {}
    try:
        while len(seen) < N:
            msg = consumer.poll(10)
            assert msg is not None, f"only {len(seen)} of {N} records came back"
            assert msg.error() is None, msg.error()
            raw = msg.value()
            magic, wire_id = struct.unpack(">bI", raw[:5])
            assert magic == 0 and wire_id == schema_id
            record = deserialize(raw, ctx)
            seen[record["seq"]] = record
    finally:
        consumer.close()
    assert sorted(seen) == list(range(N))
    assert seen[10] == {"seq": 10, "regency_code": "3374", "note": "n10"}
    assert seen[11]["note"] is None
