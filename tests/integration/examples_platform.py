"""What the examples' tests share: a private prefix with the gatekeeper running, and the environment the example
programs read (the same variables a regency developer sets: SIMPUL_KAFKA_BOOTSTRAP, SIMPUL_REGISTRY_URL, ...)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import harness as h
from schemas.outcomes import Header
from simpul.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


@contextmanager
def gatekeeper_pipeline(settings: Settings, state: Path, tag: str) -> Iterator[h.Pipeline]:
    """A fresh prefix (topics provisioned) with the gatekeeper running, so ingress reaches the canonical topics."""
    p = h.Pipeline(settings, f"{tag}{uuid.uuid4().hex[:8]}", state)
    p.provision()
    try:
        p.start("gatekeeper")
        yield p
    finally:
        p.stop_all()
        print(p.tails())
        p.cleanup()


def example_env(p: h.Pipeline, **extra: str) -> dict[str, str]:
    """The examples' environment for this pipeline: no other SIMPUL_* variable leaks in (no SCRAM user: the test
    platform is the local plaintext trial)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMPUL_")}
    registry = p.settings.registry
    env.update({"SIMPUL_KAFKA_BOOTSTRAP": p.settings.kafka.bootstrap, "SIMPUL_REGISTRY_URL": registry,
                "SIMPUL_REGISTRY_V3_URL": registry.replace("/apis/ccompat/v7", "/apis/registry/v3"),
                "SIMPUL_TOPIC_PREFIX": p.prefix, **extra})
    return env


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def rejections(p: h.Pipeline) -> list[str]:
    """The DLQ's reasons for this prefix: what to show when an example's event never reached its canonical topic."""
    return [f"{hs.get(Header.REASON)}: {hs.get(Header.REASON_MESSAGE)}"
            for hs in (h.headers(m) for m in h.read_all(p.settings, [p.topics.dlq.name], timeout=60))]
