"""The aggregates processor: canonical events -> observations, repartitioned by window key -> windowed tables.

Stage 1 decodes each canonical event and sends one observation per configured window to an internal topic keyed
by the window key, so every update of one window lands on one partition (and one worker). Stage 2 folds it into
a RocksDB table (window key -> accumulator, changelog-backed) and marks the window changed; a timer emits the
changed windows to `agg.<metric>` keyed by window key (compacted topics keep the latest value per window).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import faust

from schemas.codec import AvroCodec
from schemas.records import Aggregate
from streams.aggregates import accumulators
from streams.aggregates.logic import METRICS, Observation, keys_for, observe
from streams.config import StreamsConfig, StreamsSettings
from streams.faust_app import JSON_SCHEMA, make_app, retrying
from streams.runtime import InternalTopics, app_id, decode_canonical
from topics.catalog import TopicSet

log = logging.getLogger("simpul.streams.aggregates")

REPARTITIONS = 6
BATCH = 1000  # canonical records per batch of `observe`
BATCH_WITHIN_S = 0.2  # a batch that does not fill is handled after this long


def internal_topics(settings: StreamsSettings) -> InternalTopics:
    """The table's changelog and the repartition topic, created before the app starts."""
    ident = app_id("aggregates", settings)
    return {f"{ident}-windows-changelog": (REPARTITIONS, True),
            f"{ident}-observations-repartition": (REPARTITIONS, False)}


def build_aggregates(settings: StreamsSettings, config: StreamsConfig, *, topics: TopicSet,
                     codec: AvroCodec) -> faust.App:
    """The aggregates app over `topics` (its internal topics must exist: `internal_topics`)."""
    app = make_app("aggregates", settings, config)
    canonical = app.topic(*[t.name for t in topics.role("events")], key_serializer="raw", value_serializer="raw")
    by_window = app.topic(f"{app.conf.id}-observations-repartition", internal=True, partitions=REPARTITIONS,
                          key_serializer="raw", value_serializer="json")
    agg_topics = {m: app.topic(topics.agg(m).name, key_serializer="raw", value_serializer="raw") for m in METRICS}
    windows = app.Table("windows", default=None, partitions=REPARTITIONS, schema=JSON_SCHEMA, help="window key -> accumulator")
    changed: dict[str, dict] = {}  # window key -> window description, emitted by the timer
    windows_cfg = config.window_seconds
    stats = {"events": 0, "skipped": 0, "emitted": 0}

    @app.agent(canonical, name="observe")
    async def observe_events(stream):  # type: ignore[no-untyped-def]
        # in batches: one repartition message per window key per batch instead of one per observation (Faust's
        # per-message cost dominated: 764-882 records/s one by one, see docs/performance.md); the batch's events are
        # acknowledged only after it is handled, so at least once holds
        async for events in stream.take_events(BATCH, within=BATCH_WITHIN_S):
            grouped: dict[str, dict] = {}
            for ev in events:
                event = await retrying("decoding", lambda ev=ev: decode_canonical(codec, ev.message.value))
                if isinstance(event, Exception):  # not a canonical event (cannot happen behind the gatekeeper)
                    stats["skipped"] += 1
                    log.warning("skipping %s:%s:%s: %s", ev.message.topic, ev.message.partition, ev.message.offset,
                                event)
                    continue
                stats["events"] += 1
                for obs in observe(event):
                    for key, label, start, end in keys_for(obs, windows_cfg):
                        item = grouped.get(key)
                        if item is None:
                            item = grouped[key] = {"key": key, "window": label, "start": start.isoformat(),
                                                   "end": end.isoformat(), "obs": []}
                        item["obs"].append(obs.to_json())
            for key, item in grouped.items():  # a window's observations in the order their events came
                await by_window.send(key=key.encode(), value=item)

    @app.agent(by_window, name="fold")
    async def fold(stream):  # type: ignore[no-untyped-def]
        # one message holds a window's observations from one batch of `observe`: one table write for them all
        # (the table's changelog partition comes from the message being iterated, so writes stay per message)
        async for item in stream:
            key = item["key"]
            acc = windows.get(key)
            listed = item["obs"] if isinstance(item["obs"], list) else [item["obs"]]  # one, before batching
            for data in listed:
                obs = Observation.from_json(data)
                acc = accumulators.add(acc, obs.counts, obs.values, obs.ratios, sample_size=config.agg_sample_size)
            windows[key] = acc
            changed[key] = {"metric": obs.metric, "regency_code": obs.regency_code, "dimension": obs.dimension,
                            "dimension_value": obs.dimension_value, "window": item["window"],
                            "start": item["start"], "end": item["end"]}

    @app.timer(config.agg_flush_seconds)
    async def emit() -> None:
        if not changed:
            return
        batch = list(changed.items())
        changed.clear()
        now = datetime.now(UTC)
        for key, w in batch:
            acc = windows.get(key)
            if acc is None:
                continue
            record = Aggregate(metric=w["metric"], regency_code=w["regency_code"], dimension=w["dimension"],
                               dimension_value=w["dimension_value"], window=w["window"],
                               window_start=datetime.fromisoformat(w["start"]),
                               window_end=datetime.fromisoformat(w["end"]),
                               values=accumulators.snapshot(acc), events=acc["events"], updated_at=now)
            await agg_topics[w["metric"]].send(key=key.encode(), value=record.to_bytes())
            stats["emitted"] += 1

    @app.timer(10.0)
    async def report() -> None:
        log.info("aggregates: %s", stats)

    return app
