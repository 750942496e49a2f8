"""The aggregates processor: canonical events -> observations, repartitioned by window key -> windowed tables.

Stage 1 takes the canonical events in batches, reads each one once as its Avro datum (no pydantic model per
record: the gatekeeper validated it), and folds the batch's observations into one partial accumulator per window
key. It sends them to an internal topic on the partition the window key hashes to (Kafka's default partitioner,
so every update of one window lands on one partition, and one worker), one message per partition per batch
holding all of that partition's partials. Stage 2 merges each partial into a RocksDB table (window key ->
accumulator, changelog-backed) with one table write per window key per message, and marks the window changed; a
timer emits the changed windows to `agg.<metric>` keyed by window key (compacted topics keep the latest value per
window), through librdkafka (`streams.aggregates.output`).

Faust's cost is per message (send, receive, acknowledge, changelog write), not per record: a batch of 1,000
canonical records becomes at most `REPARTITIONS` repartition messages, and one table write per window it touched.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import faust

from schemas.codec import AvroCodec
from schemas.datum import CodecDecoder
from schemas.records import Aggregate
from streams.aggregates import accumulators
from streams.aggregates.logic import METRICS, Observation, WindowKeys, observe
from streams.aggregates.output import WindowOutput
from streams.config import StreamsConfig, StreamsSettings
from streams.faust_app import JSON_SCHEMA, make_app, retrying
from streams.runtime import InternalTopics, app_id, read_canonical, table_options
from topics.catalog import TopicSet
from topics.partitioner import partition_of as kafka_partition_of

log = logging.getLogger("simpul.streams.aggregates")

REPARTITIONS = 6
BATCH = 1000  # canonical records per batch of `observe`
BATCH_WITHIN_S = 0.2  # a batch that does not fill is handled after this long
WINDOWS_PER_MESSAGE = 250  # partial accumulators per repartition message (a few hundred bytes to ~10 kB each)


def partition_of(key: bytes, partitions: int = REPARTITIONS) -> int:
    """The repartition topic's partition of a window key: what Kafka's default partitioner (murmur2) gives the key,
    so a window's updates and its table entry stay on the partition they had when each window key was a message."""
    return kafka_partition_of(key, partitions)


def by_partition(partials: dict[str, dict], partitions: int = REPARTITIONS,
                 per_message: int = WINDOWS_PER_MESSAGE) -> list[tuple[int, list[dict]]]:
    """A batch's partial accumulators (window key -> item) as (partition, items) messages: grouped by the partition
    of their window key, at most `per_message` windows each (a message stays far below Kafka's 1 MB limit)."""
    grouped: dict[int, list[dict]] = {}
    for key, item in partials.items():
        grouped.setdefault(partition_of(key.encode(), partitions), []).append(item)
    return [(p, items[i:i + per_message]) for p, items in grouped.items() for i in range(0, len(items), per_message)]


def internal_topics(settings: StreamsSettings) -> InternalTopics:
    """The table's changelog and the repartition topic, created before the app starts."""
    ident = app_id("aggregates", settings)
    return {f"{ident}-windows-changelog": (REPARTITIONS, True),
            f"{ident}-observations-repartition": (REPARTITIONS, False)}


WINDOW_FIELDS = ("metric", "regency_code", "dimension", "dimension_value", "window", "start", "end")


def _observations(item: dict, acc: dict | None, sample_size: int) -> tuple[dict, dict]:
    """(accumulator, window) of a repartition message in the format before pre-aggregation: one window's
    observations (a list, or one alone), still in flight when a worker is upgraded."""
    listed = item["obs"] if isinstance(item["obs"], list) else [item["obs"]]
    for data in listed:
        obs = Observation.from_json(data)
        acc = accumulators.add(acc, obs.counts, obs.values, obs.ratios, sample_size=sample_size)
    window = {"metric": obs.metric, "regency_code": obs.regency_code, "dimension": obs.dimension,
              "dimension_value": obs.dimension_value, "window": item["window"], "start": item["start"],
              "end": item["end"]}
    return acc, window  # type: ignore[return-value]


def build_aggregates(settings: StreamsSettings, config: StreamsConfig, *, topics: TopicSet,
                     codec: AvroCodec, output: WindowOutput | None = None) -> faust.App:
    """The aggregates app over `topics` (its internal topics must exist: `internal_topics`)."""
    app = make_app("aggregates", settings, config)
    canonical = app.topic(*[t.name for t in topics.role("events")], key_serializer="raw", value_serializer="raw")
    by_window = app.topic(f"{app.conf.id}-observations-repartition", internal=True, partitions=REPARTITIONS,
                          key_serializer="raw", value_serializer="json")
    agg_names = {m: topics.agg(m).name for m in METRICS}
    out = output or WindowOutput(settings.kafka, f"{app.conf.id}-windows")
    windows = app.Table("windows", default=None, partitions=REPARTITIONS, schema=JSON_SCHEMA,
                        options=table_options(config), help="window key -> accumulator")
    changed: dict[str, tuple[int, dict, dict]] = {}  # window key -> (partition, window, accumulator), for the timer
    stats = {"events": 0, "skipped": 0, "emitted": 0}

    decode = CodecDecoder(codec)
    window_keys = WindowKeys(config.window_seconds)

    @app.agent(canonical, name="observe")
    async def observe_events(stream):  # type: ignore[no-untyped-def]
        # in batches, pre-aggregated: one partial accumulator per window key per batch, and one repartition
        # message per partition per batch (Faust's per-message cost dominated: 764-882 records/s one by one, see
        # docs/performance.md); the batch's events are acknowledged only after it is handled, so at least once holds
        async for events in stream.take_events(BATCH, within=BATCH_WITHIN_S):
            grouped: dict[str, dict] = {}
            for ev in events:
                value = ev.message.value
                try:
                    event = read_canonical(decode, value)
                except Exception:  # noqa: BLE001 - the registry is unreachable: wait for it (`retrying`)
                    event = await retrying("decoding", lambda value=value: read_canonical(decode, value))
                if isinstance(event, Exception):  # not a canonical event (cannot happen behind the gatekeeper)
                    stats["skipped"] += 1
                    log.warning("skipping %s:%s:%s: %s", ev.message.topic, ev.message.partition, ev.message.offset,
                                event)
                    continue
                stats["events"] += 1
                for obs in observe(event):
                    for key, label, start, end in window_keys(obs):
                        item = grouped.get(key)
                        if item is None:
                            item = grouped[key] = {"key": key, "window": label, "start": start, "end": end,
                                                   "metric": obs.metric, "regency_code": obs.regency_code,
                                                   "dimension": obs.dimension, "dimension_value": obs.dimension_value,
                                                   "acc": accumulators.empty()}
                        accumulators.fold_into(item["acc"], obs.counts, obs.values, obs.ratios)
            for partition, items in by_partition(grouped):
                await by_window.send(key=items[0]["key"].encode(), value={"windows": items}, partition=partition)

    @app.agent(by_window, name="fold")
    async def fold(stream):  # type: ignore[no-untyped-def]
        # one message holds the partial accumulators of one batch of `observe` whose window keys share this
        # partition: one table write per window key (the table's changelog partition comes from the message being
        # iterated, which is the window key's own partition)
        async for ev in stream.events():
            message, partition = ev.value, ev.message.partition
            if "windows" not in message:  # one window's observations, as sent before the pre-aggregation
                key = message["key"]
                acc, window = _observations(message, windows.get(key), config.agg_sample_size)
                windows[key] = acc
                changed[key] = (partition, window, acc)
                continue
            for item in message["windows"]:
                key = item["key"]
                acc = accumulators.merge(windows.get(key), item["acc"], sample_size=config.agg_sample_size)
                windows[key] = acc
                changed[key] = (partition, {k: item[k] for k in WINDOW_FIELDS}, acc)

    @app.timer(config.agg_flush_seconds)
    async def emit() -> None:
        # the accumulator just written is emitted as it is (reading it back from RocksDB was 40% of this timer's
        # time); only for partitions this worker still owns, as the table would hold none after a rebalance
        if not changed:
            return
        batch = dict(changed)
        changed.clear()
        owned = {tp.partition for tp in app.consumer.assignment() if tp.topic == by_window.get_topic_name()}
        now = datetime.now(UTC)
        for key, (partition, w, acc) in batch.items():
            if partition not in owned:
                continue
            record = Aggregate(metric=w["metric"], regency_code=w["regency_code"], dimension=w["dimension"],
                               dimension_value=w["dimension_value"], window=w["window"],
                               window_start=datetime.fromisoformat(w["start"]),
                               window_end=datetime.fromisoformat(w["end"]),
                               values=accumulators.snapshot(acc), events=acc["events"], updated_at=now)
            out.send(agg_names[w["metric"]], key.encode(), record.to_bytes(), key)
            stats["emitted"] += 1
        for key in await out.flush():  # refused by the broker: emitted again next time, unless a newer value is
            changed.setdefault(key, batch[key])  # type: ignore[index]

    @app.timer(10.0)
    async def report() -> None:
        log.info("aggregates: %s", stats)

    return app
