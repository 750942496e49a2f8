"""`simpul platform up --brokers 3`: a private three-node KRaft cluster on loopback, the `cluster` topic profile
(replication 3, min.insync.replicas 2), acks=all round trip, and a `down` that frees every port."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType
from private_platform import private_env, private_state, remove_private, simpul

from simpul.platform.probes import free_port_block, port_free
from topics.catalog import topic_names

PREFIX = "clustertest"


class Cluster:
    def __init__(self, env: dict[str, str], state: Path, ports: list[int], bootstrap: str) -> None:
        self.env, self.state, self.ports, self.bootstrap = env, state, ports, bootstrap


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    state = private_state("cluster")
    base = free_port_block(6)[0]  # node i: base+2(i-1) (client), base+1+2(i-1) (controller)
    ports = list(range(base, base + 6))
    env = {**private_env(state, kafka=base, controller=base + 1), "SIMPUL_TOPIC_PREFIX": PREFIX}
    try:
        up = simpul(["platform", "up", "--brokers", "3", "--kafka-only", "--json"], env)
        assert up.returncode == 0, up.stderr[-3000:]
        status = json.loads(up.stdout)
        kafka = next(s for s in status["services"] if s["name"] == "kafka")
        assert kafka["running"] and status["kafka_brokers"] == 3
        yield Cluster(env, state, ports, kafka["address"])
    finally:
        down = remove_private(state, env)
        assert down.returncode == 0, down.stderr
        held = [p for p in ports if not port_free("127.0.0.1", p)]
        assert not held, f"ports still held after down: {held}"


def test_three_brokers_in_the_metadata(cluster: Cluster) -> None:
    assert cluster.bootstrap == ",".join(f"127.0.0.1:{p}" for p in cluster.ports[::2])
    md = AdminClient({"bootstrap.servers": cluster.bootstrap}).list_topics(timeout=10)
    assert sorted(md.brokers) == [1, 2, 3]
    assert sorted(b.port for b in md.brokers.values()) == cluster.ports[::2]


def test_topics_apply_takes_the_cluster_profile(cluster: Cluster) -> None:
    applied = simpul(["topics", "apply", "--json"], cluster.env, timeout=120)
    assert applied.returncode == 0, applied.stderr[-3000:]
    assert "profile 'cluster'" in applied.stderr
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
    md = admin.list_topics(timeout=10)
    names = topic_names(PREFIX).names
    for name in names:
        assert all(len(p.replicas) == 3 for p in md.topics[name].partitions.values()), name
    sample = [topic_names(PREFIX).ingress("3374").name, topic_names(PREFIX).alerts.name]
    futures = admin.describe_configs([ConfigResource(ResourceType.TOPIC, n) for n in sample])
    for resource, future in futures.items():
        assert future.result(timeout=15)["min.insync.replicas"].value == "2", resource.name
    internal = md.topics.get("__consumer_offsets")
    if internal is not None:  # created on first group use
        assert all(len(p.replicas) == 3 for p in internal.partitions.values())


def test_acks_all_round_trip(cluster: Cluster) -> None:
    topic = topic_names(PREFIX).ingress("3301").name
    if topic not in AdminClient({"bootstrap.servers": cluster.bootstrap}).list_topics(timeout=10).topics:
        applied = simpul(["topics", "apply", "--json"], cluster.env, timeout=120)  # run alone, not after the above
        assert applied.returncode == 0, applied.stderr[-3000:]
    delivered: list[object] = []
    producer = Producer({"bootstrap.servers": cluster.bootstrap, "acks": "all", "enable.idempotence": True,
                         "message.timeout.ms": 20_000})
    for i in range(20):
        producer.produce(topic, key=f"k{i}".encode(), value=f"v{i}".encode(),
                         on_delivery=lambda err, msg: delivered.append(err or msg))
    producer.flush(30)
    assert len(delivered) == 20 and all(hasattr(m, "offset") for m in delivered), delivered[:3]
    consumer = Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": f"{PREFIX}-roundtrip",
                         "auto.offset.reset": "earliest"})
    seen: set[bytes] = set()
    try:
        consumer.subscribe([topic])
        end = time.monotonic() + 30
        while time.monotonic() < end and len(seen) < 20:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                seen.add(msg.value())
    finally:
        consumer.close()
    assert seen == {f"v{i}".encode() for i in range(20)}
    offsets = AdminClient({"bootstrap.servers": cluster.bootstrap}).list_topics(timeout=10).topics["__consumer_offsets"]
    assert all(len(p.replicas) == 3 for p in offsets.partitions.values())
