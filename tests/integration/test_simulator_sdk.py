"""The simulator and the SDK against the real broker and registry: nothing sent is lost, nothing invalid is sent,
and an unreachable broker fails futures instead of hanging or dropping records."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import wait
from datetime import timedelta
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient
from typer.testing import CliRunner

from producers.delivery import AckedProducer
from producers.exceptions import DeliveryFailed, InvalidEvent, ProducerClosed
from producers.sdk import RegencyProducer
from producers.simulator import Manifest
from schemas.codec import AvroCodec
from schemas.exceptions import EventValidationError, WireFormatError
from schemas.examples import example
from schemas.reference import regency_codes
from simpul.cli.simulate import app as simulate_app
from simpul.settings import Settings
from topics.admin import TopicAdmin
from topics.catalog import TopicSet, load_catalog
from topics.connection import KafkaConnection
from topics.plan import plan as plan_topics

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def codec(settings: Settings) -> AvroCodec:
    codec = AvroCodec.from_url(settings.registry)
    codec.register_all()
    return codec


@pytest.fixture
def topics(settings: Settings, unique: str, codec: AvroCodec) -> Iterator[TopicSet]:
    """Every topic of the catalog under a fresh prefix; deleted afterwards."""
    prefix = f"sim{unique}"
    topic_set = load_catalog().expand(regency_codes=sorted(regency_codes()), profile="single", prefix=prefix)
    admin = TopicAdmin(settings.kafka, timeout=60)
    admin.apply(plan_topics(topic_set, admin.observe(prefix).topics))
    yield topic_set
    client = AdminClient(settings.kafka.librdkafka())
    doomed = [t for t in client.list_topics(timeout=10).topics if t.startswith(f"{prefix}.")]
    if doomed:
        for future in client.delete_topics(doomed, operation_timeout=30).values():
            future.result()


def consume_all(settings: Settings, names: list[str], timeout: float = 60.0) -> dict[str, list[tuple[bytes, bytes]]]:
    """Every record of `names` from the beginning to the end of each partition, as (key, value) per topic."""
    consumer = Consumer(settings.kafka.librdkafka(**{"group.id": f"t-{uuid.uuid4().hex}", "enable.auto.commit": False,
                                                     "enable.partition.eof": True}))
    metadata = consumer.list_topics(timeout=10)
    parts = [TopicPartition(n, p, 0) for n in names for p in metadata.topics[n].partitions]
    consumer.assign(parts)
    open_parts = {(tp.topic, tp.partition) for tp in parts}
    out: dict[str, list[tuple[bytes, bytes]]] = {n: [] for n in names}
    deadline = time.monotonic() + timeout
    try:
        while open_parts and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    open_parts.discard((msg.topic(), msg.partition()))
                    continue
                raise AssertionError(msg.error().str())
            out[msg.topic()].append((msg.key(), msg.value()))
    finally:
        consumer.close()
    assert not open_parts, f"partitions not read to the end within {timeout}s: {sorted(open_parts)[:5]}"
    return out


def test_simulator_via_sdk_delivers_every_record(settings: Settings, topics: TopicSet, codec: AvroCodec,
                                                 tmp_path: Path) -> None:
    manifest_path = tmp_path / "manifest.json"
    result = CliRunner().invoke(simulate_app, ["--events", "2000", "--seed", "2024", "--manifest",
                                               str(manifest_path), "--prefix", topics.prefix, "--json"], obj=settings)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout[result.stdout.index("{"):])
    manifest = Manifest.from_json(manifest_path.read_text())
    assert summary["sent"] == summary["delivered"] == manifest.total_sent == 2000 and summary["failed"] == 0

    names = [topics.ingress(code).name for code in sorted(regency_codes())]
    records = consume_all(settings, names)
    assert sum(len(v) for v in records.values()) == manifest.total_sent  # nothing lost, nothing extra
    assert {code: len(records[topics.ingress(code).name]) for code in sorted(regency_codes())} == manifest.ingress

    # A miniature gatekeeper over what arrived: the manifest's DLQ and event counts are what the bytes say.
    outcome: Counter[str] = Counter()
    unique_ids: dict[str, set[str]] = {family: set() for family in manifest.events}
    for code in regency_codes():
        for _key, value in records[topics.ingress(code).name]:
            try:
                event = codec.decode(value)
            except WireFormatError:
                outcome["undecodable"] += 1
                continue
            except EventValidationError:
                outcome["invalid_event"] += 1
                continue
            if event.regency_code != code:
                outcome["regency_mismatch"] += 1
                continue
            outcome["valid"] += 1
            unique_ids[type(event).family].add(str(event.event_id))
    assert {k: outcome[k] for k in ("undecodable", "invalid_event", "regency_mismatch")} == {
        k: manifest.dlq[k] for k in ("undecodable", "invalid_event", "regency_mismatch")}
    assert outcome["valid"] == sum(manifest.events.values()) + manifest.duplicates_sent
    assert {f: len(ids) for f, ids in unique_ids.items()} == manifest.events


def test_simulator_refuses_to_send_without_topics(settings: Settings, unique: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(simulate_app, ["-n", "50", "--manifest", str(tmp_path / "m.json"),
                                               "--prefix", f"none{unique}"], obj=settings)
    assert result.exit_code == 1
    assert "simpul topics apply" in result.output


@pytest.mark.parametrize("shared", [False, True], ids=["client-per-regency", "shared-client"])
def test_sdk_publishes_10000_events_and_none_is_lost(settings: Settings, topics: TopicSet, codec: AvroCodec,
                                                     shared: bool) -> None:
    regencies = ("3374", "3372")
    client = AckedProducer(settings.kafka, client_id="test-shared") if shared else None
    producers = {code: RegencyProducer(code, settings.kafka, codec, topic_prefix=topics.prefix, client=client)
                 for code in regencies}
    futures = []
    ids = set()
    try:
        for i in range(10_000):
            code = regencies[i % 2]
            event = example("HealthFacilityVisit", event_id=uuid.uuid4(), regency_code=code,
                            case_id=f"V-{code}-{i:06d}", patient_nik=f"{code}01550290{i % 10_000:04d}",
                            occurred_at=example("HealthFacilityVisit").occurred_at + timedelta(seconds=i))
            ids.add(str(event.event_id))
            futures.append(producers[code].publish(event))
    finally:
        for producer in producers.values():
            producer.close(60)
    done, not_done = wait(futures, timeout=60)
    assert not not_done
    assert all(f.exception() is None for f in done)
    with pytest.raises(ProducerClosed, match="3374"):
        producers["3374"].publish(example("HealthFacilityVisit", event_id=uuid.uuid4()))
    records = consume_all(settings, [topics.ingress(code).name for code in regencies])
    arrived = [codec.decode(value) for values in records.values() for _, value in values]
    assert len(arrived) == 10_000
    assert {str(e.event_id) for e in arrived} == ids
    if client is not None:  # a regency's close flushes the shared client and leaves it to its owner
        assert client.send(topics.ingress("3374").name, b"k", b"v").result(30).offset is not None
        client.close(30)


def test_sdk_refuses_an_invalid_event_before_sending(settings: Settings, topics: TopicSet, codec: AvroCodec) -> None:
    data = example("ServiceRequestSubmitted").model_dump()
    with RegencyProducer("3374", settings.kafka, codec, topic_prefix=topics.prefix) as producer:
        with pytest.raises(InvalidEvent) as bad_fee:
            producer.publish_dict("ServiceRequestSubmitted", {**data, "fee_charged_idr": -5000})
        assert "fee_charged_idr" in bad_fee.value.fields and "fee_charged_idr" in str(bad_fee.value)
        with pytest.raises(InvalidEvent) as other:
            producer.publish(example("ServiceRequestSubmitted", regency_code="3372",
                                     applicant_nik="3372015502900001"))
        assert other.value.fields == ["regency_code"]
    assert consume_all(settings, [topics.ingress("3374").name]) == {topics.ingress("3374").name: []}


def test_unreachable_broker_fails_the_future_with_delivery_failed(codec: AvroCodec) -> None:
    closed = KafkaConnection(bootstrap="127.0.0.1:1")  # nothing listens on port 1
    producer = RegencyProducer("3374", closed, codec, topic_prefix="nowhere",
                               producer_conf={"delivery.timeout.ms": 3000, "request.timeout.ms": 2000,
                                              "socket.connection.setup.timeout.ms": 1000})
    started = time.monotonic()
    try:
        future = producer.publish(example("HealthFacilityVisit", event_id=uuid.uuid4()))
        with pytest.raises(DeliveryFailed, match="not acknowledged"):
            future.result(timeout=30)
    finally:
        producer.close(5)
    assert time.monotonic() - started < 30


def test_a_closed_producer_lets_its_kafka_client_go(settings: Settings) -> None:
    """close() ends librdkafka's threads and connections even while the object is still referenced (a fixture,
    an app): before, a closed producer kept reconnecting and logging once its broker was gone."""
    from pathlib import Path

    def threads() -> int:
        return len(list(Path("/proc/self/task").iterdir()))

    before = threads()
    producer = AckedProducer(settings.kafka, client_id="test-close")
    assert producer.broker_answers() and threads() > before
    producer.close(10)
    deadline = time.monotonic() + 10
    while threads() > before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert threads() <= before
    assert not producer.broker_answers() and producer.flush(1) == 0
    with pytest.raises(ProducerClosed):
        producer.send("anywhere", b"k", b"v")
