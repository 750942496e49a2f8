"""The site from a PostgreSQL store equals the site from a SQLite store holding the same events (both filled by the
store's own writer), download for download: the read model, complaint resolution included, is the same on both."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from consumers.report import transparency
from consumers.store import writer
from consumers.store.db import connect, migrate
from consumers.store.rows import BatchRows, Coordinates
from producers.simulator import plan
from producers.simulator.model import Expect
from producers.simulator.traffic import nik_token
from schemas.catalog import nik_fields
from schemas.nik import NikContext, validation_context
from transparency.site.build import build_site

NIK_KEY = "site-store-test-nik-key"
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def _fill(engine: sa.Engine) -> None:
    events = []
    for r in plan(4000, 777, nik_hmac_key=NIK_KEY).records:
        if r.expect is Expect.EVENT:
            ev = r.event
            tokens = {f: nik_token(NIK_KEY, getattr(ev, f)) for f in nik_fields(type(ev).event_type) if getattr(ev, f)}
            events.append(type(ev).model_validate({**ev.model_dump(), **tokens},
                                                  context=validation_context(NikContext.CANONICAL)))
    for start in range(0, len(events), 1000):
        batch = BatchRows()
        for i, ev in enumerate(events[start:start + 1000], start):
            batch.add_event(ev, Coordinates(f"p.events.{type(ev).family}", 0, i), NOW)
        with engine.begin() as conn:
            writer.write_batch(conn, batch)


def _files(site: Path) -> dict[str, bytes]:
    return {str(p.relative_to(site)): p.read_bytes() for p in sorted(site.rglob("*")) if p.is_file()}


def test_the_site_is_the_same_on_both_databases(store_url: str, tmp_path: Path) -> None:
    reference_store = connect(f"sqlite:///{tmp_path / 'reference.sqlite'}")
    migrate(reference_store)
    _fill(reference_store)
    engine = connect(store_url)
    try:
        migrate(engine)
        _fill(engine)
        cells = transparency(engine)
        assert sum(c.complaints_resolved for c in cells) > 0
        assert [c.as_dict() for c in cells] == [c.as_dict() for c in transparency(reference_store)]
        build_site(engine, tmp_path / "site", now=NOW)
    finally:
        engine.dispose()
    build_site(reference_store, tmp_path / "reference-site", now=NOW)
    got, expected = _files(tmp_path / "site"), _files(tmp_path / "reference-site")
    assert got.keys() == expected.keys() and len(got) > 100
    assert [name for name in got if got[name] != expected[name]] == []
    # The sector measures (SPMB, roads, works) are in both, with rows: their figures are the same on both databases.
    for table in ("provinsi-spmb", "provinsi-jalan", "provinsi-pekerjaan"):
        assert got[f"data/{table}.json"].count(b'"regency_code"') > 0, table
