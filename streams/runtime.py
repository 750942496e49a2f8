"""What every stream processor shares, without Faust: consumer group names, local state folders, internal topics
created before start-up, and the decoding of canonical records.

The gatekeeper (a librdkafka batch loop, `streams.gatekeeper.worker`) runs on this alone; aggregates and alerts
add the Faust app factory (`streams.faust_app`) and read canonical records as datums (`read_canonical`): the
gatekeeper validated them with the full models, so they are not built again per record. Several processes running the same processor with the same
prefix form one consumer group and share partitions. Topic names come from the catalog
(`topics.catalog.topic_names`).
"""

from __future__ import annotations

import ctypes
import logging
import time
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaError

from schemas.codec import AvroCodec
from schemas.datum import CodecDecoder, EventView, view
from schemas.exceptions import EventValidationError, UnknownEventType, WireFormatError
from schemas.models import Event
from schemas.nik import NikContext
from streams.config import StreamsConfig, StreamsSettings
from streams.exceptions import StartupRefused, TransientFailure

PROCESSORS = ("gatekeeper", "aggregates", "alerts")

InternalTopics = dict[str, tuple[int, bool]]
"""A processor's internal topics: name -> (partitions, compacted)."""


def app_id(processor: str, settings: StreamsSettings) -> str:
    """The app id = consumer group of a processor: `<prefix>-<processor>`."""
    return f"{settings.topic_prefix}-{processor}"


def data_dir(processor: str, settings: StreamsSettings, config: StreamsConfig) -> Path:
    """Local RocksDB state of one instance: `<state_dir>/streams/<processor>/<app id>-<instance>`."""
    return (settings.state_dir / "streams" / processor / f"{app_id(processor, settings)}-{config.streams_instance}").resolve()


WRITE_BUFFER_BYTES = 4 << 20  # one memtable of one database; the process's budget flushes them sooner


class StateBudget:
    """The memory of a process's local RocksDB databases under one limit, shared by all of them: one block cache
    of `cache_mib`, to which every memtable is charged (RocksDB's WriteBufferManager with a cache), so data blocks
    and memtables together stay near that size; the memtables alone are held under `write_buffer_mib`.

    Each Faust table partition is a database of its own (aggregates 6, alerts 12). With Faust's defaults (64 MiB
    write buffers, three of them, and a 2 GiB block cache per database) a stage's RSS grew with the bytes it wrote:
    in the one-hour soak aggregates went from 176 to 351 MiB and still climbed. Budgets per database would still
    add up with the number of partitions a worker holds, and fill slowly at live rates; one budget per process
    bounds the total. A write budget and a separate cache added up (16 + 16 MiB); with the memtables charged to
    the cache the total is the cache's size however the two share it."""

    def __init__(self, write_buffer_mib: int, cache_mib: int) -> None:
        import rocksdict

        self.cache = rocksdict.Cache(cache_mib << 20)
        self.write_buffers = rocksdict.WriteBufferManager.new_write_buffer_manager_with_cache(
            write_buffer_mib << 20, False, self.cache)

    def apply(self, options: Any) -> Any:
        """`options` (a rocksdict.Options) on this budget: bounded memtables, the shared block cache."""
        import rocksdict

        options.set_write_buffer_size(WRITE_BUFFER_BYTES)
        options.set_max_write_buffer_number(2)
        options.set_write_buffer_manager(self.write_buffers)
        table = rocksdict.BlockBasedOptions()
        table.set_bloom_filter(10, False)
        table.set_block_cache(self.cache)
        options.set_block_based_table_factory(table)
        return options


def open_state_db(path: Path | str, options: Any, access_type: Any = None) -> Any:
    """A RocksDB (rocksdict.Rdict) at `path` opened with `options` for its column family too, new or existing.

    Given only the database's options, rocksdict opens an existing database with the column-family options in
    its OPTIONS file, which bring a new 8 MiB block cache per database: every database a restarted stage reopened
    cached its blocks outside the process's `StateBudget`, and the alerts worker restarted in the one-hour soak
    grew from 164 to 212 MiB as its twelve caches filled (21 MiB of uncompressed blocks held in nine minutes,
    heaptrack), while the budget's cache held none."""
    import rocksdict

    access = rocksdict.AccessType.read_write() if access_type is None else access_type
    return rocksdict.Rdict(str(path), options=options, column_families={"default": options}, access_type=access)


_BUDGETS: dict[tuple[int, int], StateBudget] = {}

MMAP_THRESHOLD = 128 << 10
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter


def pin_mmap_threshold() -> bool:
    """Keep glibc's mmap threshold at its initial 128 KiB, so blocks of that size or more (RocksDB's memtable
    arena blocks: 512 KiB with 4 MiB write buffers) are mapped and unmapped, never carved from the heap.

    glibc raises the threshold to the size of each mapped block freed: after the first memtable flush every
    later memtable block came from the heap, and freeing them left holes that RSS kept: in an alerts worker at
    200 events/s glibc's free heap went 5 -> 12 MiB in 4 minutes (mallinfo), and stayed at ~3.5 MiB once pinned.
    Setting the threshold explicitly turns the adjustment off. False where there is no glibc (nothing to do)."""
    try:
        return bool(ctypes.CDLL("libc.so.6").mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    except (OSError, AttributeError):
        return False


def state_budget(config: StreamsConfig) -> StateBudget:
    """This process's `StateBudget` for the configured sizes (one per process: its point is to be shared)."""
    sizes = (config.state_write_buffer_mib, config.state_cache_mib)
    if sizes not in _BUDGETS:
        if not _BUDGETS:
            pin_mmap_threshold()
        _BUDGETS[sizes] = StateBudget(*sizes)
    return _BUDGETS[sizes]


def table_options(config: StreamsConfig) -> dict[str, int]:
    """Faust's own RocksDB options of a table partition, in line with `StateBudget` (which `streams.faust_app`
    applies on top). A fresh dict each call: Faust's store takes keys out of the mapping it is given."""
    return {"write_buffer_size": WRITE_BUFFER_BYTES, "max_write_buffer_number": 2,
            "target_file_size_base": 8 << 20, "block_cache_size": config.state_cache_mib << 20,
            "block_cache_compressed_size": 0}


def decode_canonical(codec: AvroCodec, value: bytes) -> Event | WireFormatError | UnknownEventType | EventValidationError:
    """A canonical record's event; a poison record comes back as the exception (the caller skips it), anything
    else (registry unreachable) is raised, for the caller to retry."""
    try:
        return codec.decode(value, NikContext.CANONICAL)
    except (WireFormatError, UnknownEventType, EventValidationError) as exc:
        return exc


def read_canonical(decode: CodecDecoder, value: bytes | None) -> EventView | WireFormatError | UnknownEventType:
    """A canonical record's datum, seen through the event's attribute names (`schemas.datum.EventView`), without
    building its model; a poison record comes back as the exception (the caller skips it), anything else
    (registry unreachable) is raised, for the caller to retry."""
    if value is None:
        return WireFormatError("empty value (tombstone) on a canonical topic")
    try:
        model, record = decode(value)
    except (WireFormatError, UnknownEventType) as exc:
        return exc
    return view(model, record)


REFUSED = frozenset({KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.CLUSTER_AUTHORIZATION_FAILED,
                     KafkaError.POLICY_VIOLATION})
"""Answers no retry changes: the processor stops at once and says what to grant."""


def ensure_internal_topics(settings: StreamsSettings, config: StreamsConfig, topics: InternalTopics,
                           timeout: float = 30.0) -> None:
    """Create the processor's internal topics before it starts, and wait until the cluster serves them.

    Faust would declare them itself, but a changelog created in the middle of start-up can be seen with 0
    partitions by the consumer's stale metadata, and Faust then crashes the agent with PartitionsMismatch on every
    table write. Created here first, they are known before the worker's first metadata request (and Faust, with
    `topic_allow_declare` off, never asks the controller at start-up). A processor restarted while a broker is
    down keeps trying for `config.streams_startup_wait_s`: a stage that stops then would stay stopped after the
    broker is back.
    """
    log = logging.getLogger("simpul.streams")
    deadline = time.monotonic() + config.streams_startup_wait_s
    attempt = 0
    while True:
        attempt += 1
        try:
            _create_internal_topics(settings, config, topics, timeout)
            return
        except TransientFailure as exc:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TransientFailure(f"{exc}; still failing after {attempt} attempts in "
                                       f"{config.streams_startup_wait_s:.0f}s "
                                       "(SIMPUL_STREAMS_STARTUP_WAIT_S): check that the brokers are up") from exc
            pause = min(2.0 * attempt, 10.0, left)
            log.warning("start-up waits for the cluster (attempt %d, retrying in %.0fs): %s", attempt, pause, exc)
            time.sleep(pause)


def _create_internal_topics(settings: StreamsSettings, config: StreamsConfig, topics: InternalTopics,
                            timeout: float) -> None:
    """One attempt: create what is missing, then wait until every partition has a leader. Raises TransientFailure."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient(settings.kafka.librdkafka())
    new = [NewTopic(name, num_partitions=n, replication_factor=config.streams_replication,
                    config={"cleanup.policy": "compact" if compacted else "delete"})
           for name, (n, compacted) in topics.items()]
    try:
        for name, future in admin.create_topics(new, operation_timeout=timeout, request_timeout=timeout).items():
            try:
                future.result()
            except KafkaException as exc:
                code = exc.args[0].code()
                if code in REFUSED:
                    raise StartupRefused(f"cannot create {name}: {exc}; grant this principal its internal topics "
                                         "(`simpul platform acls`)") from exc
                if code != KafkaError.TOPIC_ALREADY_EXISTS:
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
    except KafkaException as exc:  # list_topics, or a request that never reached a broker
        raise TransientFailure(f"the cluster did not answer: {exc}") from exc
