"""`simpul status --json` against the real broker: lag equal to Kafka's own tool, freshness, DLQ by reason."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition

from schemas.examples import example
from simpul import bootstrap
from simpul.platform.tools import CONSUMER_GROUPS, run_kafka_tool
from simpul.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def _status(s: Settings) -> dict:
    env = {**os.environ, "SIMPUL_KAFKA_BOOTSTRAP": s.kafka.bootstrap, "SIMPUL_REGISTRY_URL": s.registry,
           "SIMPUL_TOPIC_PREFIX": s.topic_prefix}
    result = subprocess.run([sys.executable, "-m", "simpul", "status", "--json", "--silent-after", "600"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_status_matches_kafka_consumer_groups(settings: Settings) -> None:
    prefix = f"mon{uuid.uuid4().hex[:8]}"
    s = settings.model_copy(update={"topic_prefix": prefix})
    bootstrap.provision(s)
    codec = bootstrap.codec(s)
    producer = Producer(s.kafka.librdkafka())
    for regency, n in (("3374", 120), ("3302", 45)):
        for i in range(n):
            e = example("AirQualityReading", regency_code=regency, event_id=uuid.uuid4(), case_id=f"ST-{i % 7}")
            producer.produce(f"{prefix}.ingress.{regency}", key=e.ordering_key.encode(), value=codec.encode(e))
    for reason, n in (("undecodable", 3), ("regency_mismatch", 2)):
        for _ in range(n):
            producer.produce(f"{prefix}.dlq", value=b"\x00garbage", headers=[("simpul.reason", reason.encode())])
    assert producer.flush(30) == 0

    # A consumer group that read part of 3374's topic and committed: some partitions lag, one never committed.
    group = f"{prefix}-probe"
    consumer = Consumer(s.kafka.librdkafka(**{"group.id": group, "enable.auto.commit": False}))
    topic = f"{prefix}.ingress.3374"
    commits = []
    for p in (0, 1):
        _, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        commits.append(TopicPartition(topic, p, high // 2))
    consumer.commit(offsets=commits, asynchronous=False)
    consumer.close()

    status = _status(s)
    ours = {(p["topic"], p["partition"]): p for g in status["groups"] if g["group"] == group for p in g["partitions"]}
    tool = run_kafka_tool(REPO / "var", CONSUMER_GROUPS, "--bootstrap-server", s.kafka.bootstrap, "--describe",
                          "--group", group)
    theirs = {}
    for line in tool.splitlines():
        cols = line.split()
        if len(cols) >= 6 and cols[0] == group:
            theirs[(cols[1], int(cols[2]))] = (int(cols[3]), int(cols[4]), int(cols[5]))
    assert theirs, tool
    assert set(ours) == set(theirs)
    for key, (current, end, lag) in theirs.items():
        assert (ours[key]["committed"], ours[key]["end"], ours[key]["lag"]) == (current, end, lag), key

    fresh = {f["regency_code"]: f for f in status["freshness"]}
    assert not fresh["3374"]["silent"] and not fresh["3302"]["silent"]
    assert fresh["3301"]["silent"] and fresh["3301"]["last_event_at"] is None
    assert status["dlq"] == {"total": 5, "by_reason": {"regency_mismatch": 2, "undecodable": 3}}
    assert status["throughput"]["in_per_s"] == round(165 / 60, 2)
    sizes = {t["name"]: t["records"] for t in status["topics"]}
    assert sizes[f"{prefix}.ingress.3374"] == 120 and sizes[f"{prefix}.ingress.3302"] == 45
    assert any(sub["subject"].endswith("AirQualityReading") for sub in status["registry"])
