"""(e) The store sink: N canonical events pre-loaded, then `simpul sink store --once` drains them into a fresh
SQLite file and, separately, a fresh PostgreSQL database (created and dropped for the run).

Like the raw baseline, the sink would drain N records in a few seconds, and such short runs swung 40% between
repetitions: the events are loaded as often as makes at least MIN_RECORDS, each copy with fresh event ids (a
copy with the same ids would only hit the upsert's conflict path).

rows/s is the steady state read from the sink's own log: rows written between its first and its last batch over
the time between those two log lines (start-up, migrations and the group join are not counted).
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime

from bench import env
from bench.cases import Context, last_json, preload
from bench.cases.raw import rounds
from schemas.codec import HEADER_SIZE
from topics.catalog import topic_names

MIN_RECORDS = 300_000
UUID_STRING = 0x48  # Avro's zigzag length of a 36-character string: event_id, every schema's first field


def with_fresh_id(value: bytes) -> bytes:
    """A framed Avro event with a new event_id written over the old one (same length, same encoding)."""
    start = HEADER_SIZE + 1  # after the Confluent header and the string's length byte
    if value[HEADER_SIZE] != UUID_STRING:
        raise ValueError("the event does not start with a 36-character event_id; see schemas/avro/Envelope.avsc")
    return value[:start] + str(uuid.uuid4()).encode() + value[start + 36:]

BATCH_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO simpul\.consumers\.store: batch (\d+): "
                        r"(\d+) records, (\d+) rows$", re.M)


def steady_rate(log: str) -> tuple[float, int, int]:
    """(rows/s between the first and last batch, total rows, batches) from the sink's log."""
    lines = [(datetime.strptime(m[1], "%Y-%m-%d %H:%M:%S,%f"), int(m[4])) for m in BATCH_LINE.finditer(log)]
    if len(lines) < 3:
        return float("nan"), lines[-1][1] if lines else 0, len(lines)
    (t0, r0), (t1, r1) = lines[0], lines[-1]
    return (r1 - r0) / (t1 - t0).total_seconds(), r1, len(lines)


def _drain(ctx: Context, s, name: str, store_url: str, count: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    child = env.spawn(name, ["-m", "simpul", "sink", "store", "--once", "--json", "--store-url", store_url,
                             "--group", f"bench-{uuid.uuid4().hex[:8]}"],
                      env.child_env(s, SIMPUL_STATE_DIR=str(ctx.workdir)), ctx.workdir)
    if child.wait(1800) != 0:
        raise RuntimeError(f"{name} failed:\n{child.output()[-3000:]}")
    log = child.output()
    rate, rows, batches = steady_rate(log)
    stats = last_json(log)
    if rate != rate:  # too few batches for a steady state: whole run, start-up included
        rate = stats["rows"] / stats["seconds"]
    if stats["records"] != count or stats["poison"]:
        raise RuntimeError(f"{name}: {stats['records']} records, {stats['poison']} poison; expected {count}")
    return {"rate": rate, "rows": float(rows), "records_per_s": rate * count / rows,
            "batches": float(batches), "peak_rss_mb": child.peak_rss_mb or 0.0}


def run(ctx: Context, rep: int) -> dict[str, dict[str, float]]:
    with env.fresh_prefix(ctx.settings, "sink") as s:
        topics = topic_names(s.topic_prefix)
        items = [(topics.events(fam).name, k, v, t) for fam, k, v, t, _ in ctx.records.canonical]
        copies = rounds(len(items), MIN_RECORDS)
        preload(s, items + [(t, k, with_fresh_id(v), e) for _ in range(copies - 1) for t, k, v, e in items])
        count = len(items) * copies
        sqlite_url = f"sqlite:///{(ctx.workdir / f'store-{rep}.sqlite').resolve()}"
        out = {"sqlite": _drain(ctx, s, f"sink-sqlite-{rep}", sqlite_url, count)}
        with env.pg_database(s, f"bench_store_{uuid.uuid4().hex[:8]}") as pg_url:
            out["postgresql"] = _drain(ctx, s, f"sink-pg-{rep}", pg_url, count)
        return out
