"""What the examples' tests share: a private prefix with the gatekeeper running, and the environment the example
programs read (the same variables a regency developer sets: SIMPUL_KAFKA_BOOTSTRAP, SIMPUL_REGISTRY_URL, ...)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

import harness as h
from schemas.outcomes import Header
from simpul.platform.probes import free_port_block
from simpul.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


@contextmanager
def gatekeeper_pipeline(settings: Settings, state: Path, tag: str) -> Iterator[h.Pipeline]:
    """A fresh prefix (topics provisioned) with the gatekeeper running, so ingress reaches the canonical topics."""
    p = h.Pipeline(settings, f"{tag}{uuid.uuid4().hex[:8]}", state)
    try:
        p.provision()
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


@dataclass
class GatewayProcess:
    """`simpul gateway` as an installation runs it, on a free port, for one pipeline's prefix."""

    url: str
    proc: subprocess.Popen[bytes]
    pipeline: h.Pipeline

    def key(self, regency: str) -> str:
        """A fresh API key of `regency`, issued as the province does (`simpul keys create --json`)."""
        out = subprocess.run([sys.executable, "-m", "simpul", "keys", "create", "--regency", regency, "--json"],
                             env=self.pipeline.env(), cwd=ROOT, capture_output=True, text=True, timeout=120,
                             check=True).stdout
        return str(json.loads(out)["api_key"])


@contextmanager
def gateway_process(p: h.Pipeline, **env: str) -> Iterator[GatewayProcess]:
    port = free_port_block(1)[0]
    log = p.state / f"gateway-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "simpul", "gateway", "--port", str(port)],
                                env={**p.env(), **env}, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    gw = GatewayProcess(f"http://127.0.0.1:{port}", proc, p)

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"the gateway exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            return httpx.get(f"{gw.url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        h.wait_for("the gateway", up, timeout=90, every=0.3)
        yield gw
    finally:
        h.terminate(proc)
