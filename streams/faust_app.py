"""The Faust app factory of the Faust stages (aggregates and alerts): one faust.App per processor with Simpul's
defaults, the worker that runs it, and the agents' retry of transient failures.

The composition root (`simpul.bootstrap`) builds each stage's app; the gatekeeper does not use Faust
(`streams.gatekeeper.worker`), and nothing but this module and the two Faust stages imports it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TypeVar

import faust

from streams.config import StreamsConfig, StreamsSettings
from streams.exceptions import TransientFailure
from streams.runtime import app_id, data_dir, open_state_db, state_budget
from topics.partitioner import DefaultPartitioner

log = logging.getLogger("simpul.streams")

T = TypeVar("T")


def _idempotent_producer() -> None:
    """Make Faust's aiokafka producer idempotent (acks=all, enable_idempotence) outside transactions too.

    Faust only asks for idempotence with exactly_once; without it a produce retried after a request timeout on a
    loaded broker writes the same record twice, which no restart recovery can undo.
    """
    from faust.transport.drivers import aiokafka as driver

    def extra(self):  # type: ignore[no-untyped-def]
        return {"acks": "all", "enable_idempotence": True}

    driver.Producer._settings_extra = extra  # type: ignore[method-assign]


def _bounded_state(config: StreamsConfig) -> None:
    """Open every Faust table partition's RocksDB on this process's `StateBudget` (one write-buffer budget, one
    block cache). Faust builds each database's options itself (`RocksDBOptions.as_options`, a new 2 GiB cache
    each) and takes no shared objects through a table's options, so its options class is replaced by one that
    applies the budget to what it builds, and opens each database with those options for its column family."""
    from faust.stores import rocksdb as store

    budget = state_budget(config)
    base = getattr(store.RocksDBOptions, "simpul_base", store.RocksDBOptions)

    class BudgetedOptions(base):  # type: ignore[misc,valid-type]
        simpul_base = base

        def as_options(self):  # type: ignore[no-untyped-def]
            options = super().as_options()
            return budget.apply(options) if self.use_rocksdict else options

        def open(self, path, *, read_only=False):  # type: ignore[no-untyped-def]
            """Faust's rocksdict open, with the budget's options for the column family of a reopened database
            too (`open_state_db`)."""
            if not self.use_rocksdict:
                return super().open(path, read_only=read_only)
            import rocksdict

            access = (rocksdict.AccessType.read_write() if self.ttl is None
                      else rocksdict.AccessType.with_ttl(self.ttl))
            db = open_state_db(path, self.as_options(), access)
            db.set_read_options(rocksdict.ReadOptions())
            return db

    store.RocksDBOptions = BudgetedOptions  # type: ignore[misc]


def make_app(processor: str, settings: StreamsSettings, config: StreamsConfig) -> faust.App:
    """A Faust app with Simpul's defaults: RocksDB tables, at-least-once, raw bytes, no web server."""
    _idempotent_producer()
    _bounded_state(config)
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
        # The internal topics (changelogs, repartitions) are created before the app starts (ensure_internal_topics,
        # which retries while the cluster is away). Faust declaring them again asks the controller at every start,
        # and a start-up while that broker is down crashed the worker (NodeNotReadyError) for good.
        topic_allow_declare=False,
        topic_disable_leader=True,  # no leader-only timers here; the leader topic would need declaring too
        web_enabled=False,
        key_serializer="raw",
        value_serializer="raw",
        consumer_auto_offset_reset="earliest",
        broker_commit_every=1000,
        broker_commit_interval=1.0,
        producer_acks=-1,
        producer_compression_type="lz4",  # cheap on small batches, as the SDK
        producer_partitioner=DefaultPartitioner(),  # aiokafka's murmur2 cost ~50 µs a keyed send (topics.partitioner)
        producer_linger=0.005,  # let records of one partition share a produce request (default 0: one each)
        producer_max_batch_size=262_144,
        table_standby_replicas=0,
        autodiscover=False,
        **extra,
    )


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
