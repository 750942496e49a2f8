"""The alerts processor: canonical events, repartitioned by rule subject, evaluated against rules.yaml.

Stage 1 forwards each canonical record (its Avro bytes) to an internal topic keyed by `partition_key`, so events
sharing rule state (a complaint category of a regency, a price series, an aid recipient) meet on one partition.
Stage 2 runs the rules with their state in a RocksDB table and emits each new alert id once to `<prefix>.alerts`
(a second table remembers the raised ids).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import faust

from schemas.codec import AvroCodec
from streams.alerts.rules import Deduplicator, RulesConfig, evaluate, partition_keys
from streams.config import StreamsConfig, StreamsSettings
from streams.faust_app import JSON_SCHEMA, make_app, retrying
from streams.runtime import InternalTopics, app_id, decode_canonical
from topics.catalog import TopicSet

log = logging.getLogger("simpul.streams.alerts")

REPARTITIONS = 6


def internal_topics(settings: StreamsSettings) -> InternalTopics:
    """The two tables' changelogs and the repartition topic, created before the app starts."""
    ident = app_id("alerts", settings)
    return {f"{ident}-rule_state-changelog": (REPARTITIONS, True),
            f"{ident}-raised-changelog": (REPARTITIONS, True),
            f"{ident}-subjects-repartition": (REPARTITIONS, False)}


def build_alerts(settings: StreamsSettings, config: StreamsConfig, *, topics: TopicSet, codec: AvroCodec,
                 rules: RulesConfig) -> faust.App:
    """The alerts app over `topics` with `rules` (its internal topics must exist: `internal_topics`)."""
    app = make_app("alerts", settings, config)
    canonical = app.topic(*[t.name for t in topics.role("events")], key_serializer="raw", value_serializer="raw")
    by_subject = app.topic(f"{app.conf.id}-subjects-repartition", internal=True, partitions=REPARTITIONS,
                           key_serializer="raw", value_serializer="raw")
    alerts_topic = app.topic(topics.alerts.name, key_serializer="raw", value_serializer="raw")
    state = app.Table("rule_state", default=None, partitions=REPARTITIONS, schema=JSON_SCHEMA, help="rule subject -> rule state")
    raised = app.Table("raised", default=None, partitions=REPARTITIONS, schema=JSON_SCHEMA, help="alert id -> raised at")
    dedup = Deduplicator(raised)
    stats = {"events": 0, "skipped": 0, "alerts": 0}

    async def decode(ev):  # type: ignore[no-untyped-def]
        event = await retrying("decoding", lambda: decode_canonical(codec, ev.message.value))
        if isinstance(event, Exception):  # not a canonical event (cannot happen behind the gatekeeper)
            exc = event
            stats["skipped"] += 1
            log.warning("skipping %s:%s:%s: %s", ev.message.topic, ev.message.partition, ev.message.offset, exc)
            return None
        return event

    @app.agent(canonical, name="route")
    async def route(stream):  # type: ignore[no-untyped-def]
        async for ev in stream.events():
            event = await decode(ev)
            if event is not None:
                for key in partition_keys(event):  # one key for most; a school admission decision goes under two
                    await by_subject.send(key=key.encode(), value=ev.message.value)

    @app.agent(by_subject, name="evaluate")
    async def evaluate_events(stream):  # type: ignore[no-untyped-def]
        async for ev in stream.events():
            event = await decode(ev)
            if event is None:
                continue
            stats["events"] += 1
            key = ev.message.key.decode() if ev.message.key is not None else None
            for alert in dedup.new(evaluate(event, rules, state, datetime.now(UTC), key=key)):
                await alerts_topic.send(key=alert.key(), value=alert.to_bytes())
                stats["alerts"] += 1
                log.info("alert %s %s %s %s", alert.rule.value, alert.severity, alert.alert_id, alert.subject)

    @app.timer(10.0)
    async def report() -> None:
        log.info("alerts: %s", stats)

    return app
