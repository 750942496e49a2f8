"""The gatekeeper's Faust agent: reads every ingress topic, feeds `screen`, writes the outcome."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime

import faust

from schemas.codec import AvroCodec
from streams.app import JSON_SCHEMA, app_id, ensure_internal_topics, make_app, retrying, topic_set
from streams.config import StreamsConfig, StreamsSettings
from streams.gatekeeper.logic import Counters, DedupMemory, RecentSources, Rejected, Routed, Routing, screen
from streams.gatekeeper.recovery import Recovered, read_tail

log = logging.getLogger("simpul.streams.gatekeeper")


def _headers(raw: object) -> list[tuple[str, bytes | None]]:
    if raw is None:
        return []
    if isinstance(raw, Mapping):
        return list(raw.items())
    return [(str(k), v) for k, v in raw]  # type: ignore[attr-defined]


def build_gatekeeper(settings: StreamsSettings, config: StreamsConfig, *, codec: AvroCodec | None = None,
                     recovered: Recovered | None = None) -> faust.App:
    """The gatekeeper app. Unless `recovered` is given, the output tail is read now, before any processing."""
    topics = topic_set(settings.topic_prefix)
    routing = Routing.from_topic_set(topics)
    if recovered is None:
        outputs = [*routing.canonical.values(), routing.dlq]
        started = time.monotonic()
        recovered = read_tail(settings.kafka, outputs, config.recovery_tail_records)
        log.info("recovery: read %d output records in %.1fs; %d inputs already done, %d event ids",
                 recovered.records_read, time.monotonic() - started, len(recovered.done_sources),
                 len(recovered.event_sources))
    codec = codec or AvroCodec.from_url(settings.registry)
    hmac_key = settings.nik_hmac_key.get_secret_value().encode("utf-8")

    ingress = topics.role("ingress")
    ensure_internal_topics(settings, config, {
        f"{app_id('gatekeeper', settings)}-dedup-changelog": (ingress[0].partitions, True)})
    app = make_app("gatekeeper", settings, config)
    source = app.topic(*[t.name for t in ingress], key_serializer="raw", value_serializer="raw")
    outputs_by_name = {name: app.topic(name, key_serializer="raw", value_serializer="raw")
                       for name in [*routing.canonical.values(), routing.dlq]}
    dedup = app.Table("dedup", default=None, partitions=ingress[0].partitions,
                      schema=JSON_SCHEMA,
                      help="event_id -> [first seen ms, source topic:partition:offset]")
    memory = DedupMemory(dedup, config.dedup_horizon_ms, recovered.event_sources)
    counters = Counters()
    written = RecentSources()

    def already_done(source: str) -> bool:
        return source in recovered.done_sources or source in written

    @app.agent(source, name="gatekeep")
    async def gatekeep(stream):  # type: ignore[no-untyped-def]
        async for ev in stream.events():
            m = ev.message
            now = datetime.now(UTC)
            now_ms = int(now.timestamp() * 1000)
            outcome = await retrying(f"screening {m.topic}:{m.partition}:{m.offset}", lambda: screen(
                m.topic, m.partition, m.offset, m.key, m.value, _headers(m.headers),
                codec=codec, routing=routing, hmac_key=hmac_key,
                first_seen=lambda event_id: memory.first_seen(event_id, now_ms),
                already_done=already_done, now=now,
            ))
            if isinstance(outcome, Routed):
                await outputs_by_name[outcome.topic].send(key=outcome.key, value=outcome.value,
                                                          headers=outcome.headers)
                memory.remember(outcome.event_id, outcome.source, now_ms)
                written.add(outcome.source)
            elif isinstance(outcome, Rejected):
                await outputs_by_name[outcome.topic].send(key=outcome.key, value=outcome.value,
                                                          headers=outcome.headers)
                written.add(outcome.source)
                log.debug("rejected %s: %s %s", outcome.source, outcome.reason.value, outcome.message)
            counters.count(outcome)

    @app.timer(10.0)
    async def report() -> None:
        log.info("gatekeeper: routed=%d rejected=%s duplicates=%d already_done=%d", counters.routed,
                 counters.rejected, counters.duplicates, counters.already_done)

    app.simpul_counters = counters  # type: ignore[attr-defined]
    return app
