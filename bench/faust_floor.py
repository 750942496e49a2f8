"""The fastest a Faust stage can go on this host: an agent over the canonical topics that does no work of its own.

`python -m bench.faust_floor batches` takes the records in batches (`take_events`, the aggregates' batch size) and
does nothing with them; `events` takes them one event at a time (`stream.events()`, as `fold` iterates); `table`
also writes one table entry per event (a key of its own, as the bench's traffic gives the aggregates stage ~1.2 new
window keys a record), with its changelog record: Faust's table needs the current event to place a write, which
a batch of `take_events` does not give.
All three run on `streams.faust_app.make_app`, the settings every Simpul Faust stage has. Case `faust` of `python -m
bench` measures them as it measures the aggregates stage: what they reach bounds what any stage on Faust reaches.
"""

from __future__ import annotations

import sys

from schemas.catalog import FAMILIES
from simpul.settings import load_settings
from streams.aggregates.app import BATCH, BATCH_WITHIN_S
from streams.faust_app import JSON_SCHEMA, make_app, run_worker
from streams.runtime import app_id, ensure_internal_topics, table_options
from topics.catalog import topic_names

MODES = ("batches", "events", "table")


def processor(mode: str) -> str:
    """The floor's processor name (its consumer group is `<prefix>-<processor>`)."""
    return f"faust-floor-{mode}"


def main(mode: str) -> None:
    if mode not in MODES:
        raise SystemExit(f"usage: python -m bench.faust_floor {'|'.join(MODES)}")
    settings = load_settings()
    topics = topic_names(settings.topic_prefix)
    names = [topics.events(f).name for f in FAMILIES]
    partitions = topics.events(FAMILIES[0]).partitions
    name = processor(mode)
    if mode == "table":
        ensure_internal_topics(settings, settings, {f"{app_id(name, settings)}-floor-changelog": (partitions, True)})
    app = make_app(name, settings, settings)
    source = app.topic(*names, key_serializer="raw", value_serializer="raw")
    table = app.Table("floor", default=None, partitions=partitions, schema=JSON_SCHEMA,
                      options=table_options(settings)) if mode == "table" else None

    @app.agent(source, name="floor")
    async def floor(stream):  # type: ignore[no-untyped-def]
        if mode == "batches":
            async for _ in stream.take_events(BATCH, within=BATCH_WITHIN_S):
                pass
            return
        async for event in stream.events():
            if table is not None:
                m = event.message
                table[f"{m.topic}:{m.partition}:{m.offset}"] = m.offset

    run_worker(app, loglevel="warning")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "")
