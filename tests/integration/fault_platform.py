"""Helpers of the fault tests (test_faults.py): a private platform whose services a test may stop and start again,
valid events to send, and what the canonical topics and the DLQ hold.

The platform is the `simpul platform up --with-postgres` of a state folder of our own on free ports: stopping its
registry or its PostgreSQL touches nobody else's platform. Services are stopped and started with the launcher's own
`down(only=...)` / `up(only=...)`, so the platform's records of what runs stay true and `platform down` stops all.
"""

from __future__ import annotations

import collections
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from simpul.platform.probes import free_port_block
from private_platform import private_env, private_state, remove_private, simpul

import harness as h
from producers.sdk import RegencyProducer
from schemas.codec import AvroCodec
from schemas.examples import example
from schemas.models import Event
from simpul.platform.local import LocalPlatform
from simpul.settings import Settings, load_settings


@dataclass
class FaultPlatform:
    """Kafka, the registry and PostgreSQL of a private state folder, each of which a test may stop."""

    state: Path
    env: dict[str, str]
    settings: Settings

    @classmethod
    def up(cls) -> FaultPlatform:
        state = private_state("faults")
        base = free_port_block(5)[0]
        ports = {"kafka": base, "controller": base + 1, "registry": base + 2, "registry_management": base + 3,
                 "postgres": base + 4}
        env = private_env(state, **ports)
        platform = cls(state, env, load_settings(state_dir=state, **{f"{k}_port": v for k, v in ports.items()}))
        up = simpul(["platform", "up", "--with-postgres", "--json"], env, timeout=300)
        if up.returncode != 0:
            platform.down()
            raise AssertionError(f"the private platform did not start: {up.stderr[-3000:]}")
        # the secrets `up` generated: the settings read them from the secrets folder
        platform.settings = load_settings(state_dir=state, **{f"{k}_port": v for k, v in ports.items()})
        return platform

    def launcher(self) -> LocalPlatform:
        return LocalPlatform(self.settings)

    def stop(self, service: str) -> None:
        """Stop one service (`registry`, `postgres`) the way `simpul platform down` does: SIGTERM to the
        registry, a fast shutdown (SIGINT) to PostgreSQL."""
        stopped = self.launcher().down(only=[service])  # type: ignore[list-item]
        assert stopped == [service], f"{service} was not running: {stopped}"

    def start(self, service: str) -> None:
        """Start one stopped service again and wait until it answers (the registry keeps its schemas, ids included,
        in its H2 file; PostgreSQL its databases)."""
        self.launcher().up(with_postgres=service == "postgres", only=[service])  # type: ignore[list-item]

    def down(self) -> None:
        down = remove_private(self.state, self.env)
        assert down.returncode == 0, down.stderr[-3000:]


def events(event_type: str, n: int, regency: str = "3374") -> list[Event]:
    """`n` valid events of `event_type` for `regency`, each with an event id of its own."""
    return [example(event_type, event_id=uuid.uuid4(), regency_code=regency,
                    source_system=f"faults-{regency}") for _ in range(n)]


def send(settings: Settings, prefix: str, codec: AvroCodec, batch: Sequence[Event], regency: str = "3374") -> None:
    """Publish `batch` through the SDK and wait until the broker acknowledged every event."""
    with RegencyProducer(regency, settings.kafka, codec, topic_prefix=prefix) as producer:
        futures = [producer.publish(e) for e in batch]
        assert producer.flush(120) == 0, "events not acknowledged within 120 s"
    failed = [f.exception() for f in futures if f.exception() is not None]
    assert not failed, failed[:3]


def canonical_ids(p: h.Pipeline) -> collections.Counter[str]:
    """Event id -> how many canonical records carry it."""
    return collections.Counter(h.headers(m)["simpul.event_id"] for m in h.read_all(p.settings, p.events))


def dlq_reasons(p: h.Pipeline) -> collections.Counter[str]:
    return collections.Counter(h.headers(m)["simpul.reason"] for m in h.read_all(p.settings, [p.topics.dlq.name]))


class FaultPipeline(h.Pipeline):
    """The harness's pipeline, with the store sink printing its stats as JSON when it stops."""

    def command(self, name: str) -> list[str]:
        command = super().command(name)
        return [*command, "--json"] if name == "sink-store" else command

    def log_text(self, name: str) -> str:
        """Everything the runs of `name` logged so far, oldest first."""
        return "\n".join(log.read_text(errors="replace") for log in self.logs
                         if log.name.startswith(f"{name}-") and log.exists())


def sink_stats(log: str) -> dict[str, object]:
    """The JSON stats a store sink printed when it stopped (the last JSON document of its log)."""
    start = log.rindex('{\n  "batches"')
    return json.loads(log[start:log.index("\n}", start) + 2])
