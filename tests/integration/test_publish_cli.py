"""`simpul publish FILE.jsonl --regency CODE`: every line sent, or reported with its line number and field."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from schemas.examples import example
from simpul import bootstrap
from simpul.settings import Settings


def test_publish_file(settings: Settings, tmp_path: Path) -> None:
    prefix = f"pub{uuid.uuid4().hex[:8]}"
    s = settings.model_copy(update={"topic_prefix": prefix})
    bootstrap.provision(s)
    lines = []
    for i in range(300):
        e = example("StapleFoodPriceObserved", regency_code="3302", event_id=uuid.uuid4(), case_id=f"PSR-{i}")
        lines.append(json.dumps({"event_type": "StapleFoodPriceObserved", **e.model_dump(mode="json")}))
    bad = json.loads(lines[10])
    bad["price_idr"] = -1
    lines.insert(11, json.dumps(bad))
    lines.insert(20, "not json")
    path = tmp_path / "prices.jsonl"
    path.write_text("\n".join(lines) + "\n")

    env = {**os.environ, "SIMPUL_KAFKA_BOOTSTRAP": settings.kafka.bootstrap, "SIMPUL_REGISTRY_URL": settings.registry,
           "SIMPUL_TOPIC_PREFIX": prefix}
    result = subprocess.run([sys.executable, "-m", "simpul", "publish", str(path), "--regency", "3302", "--json"],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr  # two lines were invalid
    summary = json.loads(result.stdout)
    assert (summary["lines"], summary["sent"], summary["invalid"], summary["failed"]) == (302, 300, 2, 0)
    assert {(p["line"], p["field"]) for p in summary["problems"]} == {(12, "price_idr"), (21, "<line>")}

    topic = f"{prefix}.ingress.3302"
    consumer = Consumer(s.kafka.librdkafka(**{"group.id": f"c-{uuid.uuid4().hex}"}))
    total = 0
    for p in consumer.list_topics(topic, timeout=10).topics[topic].partitions:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        total += high - low
    consumer.close()
    assert total == 300
