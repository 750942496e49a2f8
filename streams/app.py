"""The composition root of the stream processors: one faust.App per processor, built from StreamsSettings.

    app = build("aggregates", settings)   # a faust.App with its agents, tables and timers
    run_worker(app)                        # blocks; SIGINT/SIGTERM stop it cleanly

The gatekeeper is a librdkafka batch loop (`streams.gatekeeper.worker.run_gatekeeper`), see its docstring for why.

Several processes running the same processor with the same prefix form one consumer group and share partitions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import faust

from schemas.reference import regency_codes
from streams.config import StreamsConfig, StreamsSettings
from topics.catalog import TopicSet, load_catalog

log = logging.getLogger("simpul.streams")

PROCESSORS = ("gatekeeper", "aggregates", "alerts")
T = TypeVar("T")


def topic_set(prefix: str) -> TopicSet:
    """The catalog topics of one prefix (partition counts and names; provisioned by `simpul topics apply`)."""
    return load_catalog().expand(regency_codes=sorted(regency_codes()), profile="single", prefix=prefix)


def app_id(processor: str, settings: StreamsSettings) -> str:
    """The Faust app id = consumer group of a processor: `<prefix>-<processor>`."""
    return f"{settings.topic_prefix}-{processor}"


def data_dir(processor: str, settings: StreamsSettings, config: StreamsConfig) -> Path:
    """Local RocksDB state of one instance: `<state_dir>/streams/<processor>/<app id>-<instance>`."""
    return (settings.state_dir / "streams" / processor / f"{app_id(processor, settings)}-{config.streams_instance}").resolve()


def _idempotent_producer() -> None:
    """Make Faust's aiokafka producer idempotent (acks=all, enable_idempotence) outside transactions too.

    Faust only asks for idempotence with exactly_once; without it a produce retried after a request timeout on a
    loaded broker writes the same record twice, which no restart recovery can undo.
    """
    from faust.transport.drivers import aiokafka as driver

    def extra(self):  # type: ignore[no-untyped-def]
        return {"acks": "all", "enable_idempotence": True}

    driver.Producer._settings_extra = extra  # type: ignore[method-assign]


def make_app(processor: str, settings: StreamsSettings, config: StreamsConfig) -> faust.App:
    """A Faust app with Simpul's defaults: RocksDB tables, at-least-once, raw bytes, no web server."""
    _idempotent_producer()
    conn = settings.kafka
    extra: dict[str, object] = {}
    if conn.security_protocol.startswith("SASL"):
        extra["broker_credentials"] = faust.SASLCredentials(
            username=conn.username or "", password=conn.password.get_secret_value() if conn.password else "",
            mechanism=conn.sasl_mechanism, ssl_context=None)
    datadir = data_dir(processor, settings, config)
    datadir.mkdir(parents=True, exist_ok=True)
    return faust.App(
        app_id(processor, settings),
        broker=[f"kafka://{host.strip()}" for host in conn.bootstrap.split(",")],
        store="rocksdb://",
        datadir=str(datadir),
        processing_guarantee="at_least_once",
        topic_replication_factor=config.streams_replication,
        topic_allow_declare=True,  # only internal topics (changelogs, repartitions) are declared
        web_enabled=False,
        key_serializer="raw",
        value_serializer="raw",
        consumer_auto_offset_reset="earliest",
        broker_commit_every=1000,
        broker_commit_interval=1.0,
        producer_acks=-1,
        producer_compression_type="lz4",  # cheap on small batches, as the SDK
        producer_linger=0.005,  # let records of one partition share a produce request (default 0: one each)
        producer_max_batch_size=262_144,
        table_standby_replicas=0,
        autodiscover=False,
        **extra,
    )


def build(processor: str, settings: StreamsSettings, config: StreamsConfig | None = None) -> faust.App:
    """The Faust app of `processor` (aggregates or alerts; the gatekeeper is `streams.gatekeeper.worker`)."""
    config = config or StreamsConfig()
    from streams.aggregates.app import build_aggregates
    from streams.alerts.app import build_alerts

    builders: dict[str, Callable[[StreamsSettings, StreamsConfig], faust.App]] = {
        "aggregates": build_aggregates, "alerts": build_alerts}
    if processor not in builders:
        raise ValueError(f"unknown Faust processor {processor!r}; choose one of {', '.join(builders)}")
    return builders[processor](settings, config)


def run_worker(app: faust.App, loglevel: str = "info") -> None:
    """Run one app until SIGINT/SIGTERM (Faust's worker handles both and stops cleanly); logs go to stderr."""
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    level = logging.getLevelName(loglevel.upper())
    if isinstance(level, int) and level > logging.DEBUG:
        # aiokafka and faust log per record at DEBUG; pin their loggers so those records are never even built
        for name in ("aiokafka", "faust", "mode"):
            logging.getLogger(name).setLevel(level)
    worker.execute_from_commandline()


JSON_SCHEMA = faust.Schema(key_serializer="json", value_serializer="json")
"""Tables store JSON keys and values (readable in their changelog topics)."""


async def retrying(what: str, call: Callable[[], T], *, give_up_after: float = 300.0) -> T:
    """Run `call` until it succeeds, backing off on transient failures (registry or broker unreachable).

    Poison records never get here as exceptions (the gatekeeper turns them into DLQ outcomes); anything raised is
    treated as transient, and the partition waits rather than skipping the record. After `give_up_after`
    seconds it raises `TransientFailure`, which stops the worker; its restart resumes at the committed offset.
    """
    import asyncio
    import time

    from streams.exceptions import TransientFailure

    started, delay = time.monotonic(), 0.5
    while True:
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 - see the docstring
            if time.monotonic() - started > give_up_after:
                raise TransientFailure(f"{what} kept failing for {give_up_after:.0f}s: {exc}; check the registry "
                                       "and the broker, then restart the worker") from exc
            log.warning("%s failed (%s); retrying in %.1fs", what, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


def ensure_internal_topics(settings: StreamsSettings, config: StreamsConfig, topics: dict[str, tuple[int, bool]],
                           timeout: float = 30.0) -> None:
    """Create the processor's internal topics (name -> (partitions, compacted)) before Faust starts, and wait
    until the cluster serves them.

    Faust would declare them itself, but a changelog created in the middle of start-up can be seen with 0
    partitions by the consumer's stale metadata, and Faust then crashes the agent with PartitionsMismatch on every
    table write. Created here first, they are known before the worker's first metadata request.
    """
    import time

    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    from streams.exceptions import TransientFailure

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
