"""`simpul site build`: the store's read model and the log's latest checkpoint, rendered into a static site."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from consumers.admissions import admissions
from consumers.infrastructure import road_reports, works_progress
from consumers.report import transparency
from transparency.site.labels import LABELS, Lang
from transparency.site.model import Measures, build_model
from transparency.site.render import Checkpoint, render, write


def latest_checkpoint(engine: sa.Engine) -> Checkpoint | None:
    """The log's newest signed checkpoint, or None before the first (or where the log is not part of the build)."""
    try:
        from transparency.log_store import latest_checkpoint as newest
    except ImportError:  # the log's reader is not there: the page says "no checkpoint yet"
        return None
    record = newest(engine)
    if record is None:
        return None
    return Checkpoint(origin=record.origin, size=record.size, root_hash=record.root_hash,
                      signed_at=record.signed_at, note=record.note, verifier_key=record.verifier_key)


def read_measures(engine: sa.Engine, level: str = "SMA") -> Measures:
    """The sector measures exactly as `simpul report --measure admissions --level SMA|roads|works` reads them."""
    return Measures(admissions=admissions(engine, level=level), roads=road_reports(engine),
                    works=works_progress(engine), level=level)


@dataclass(frozen=True)
class BuildResult:
    """What a build wrote (the `--json` of `simpul site build`)."""

    out: Path
    pages: int
    files: int
    regencies: int
    cells: int
    checkpoint_size: int | None
    lang: str
    languages: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"out": str(self.out), "index": str(self.out / "index.html"), "pages": self.pages,
                "files": self.files, "regencies": self.regencies, "cells": self.cells,
                "checkpoint_size": self.checkpoint_size, "lang": self.lang,
                "trees": {lang: str(self.out / ("" if lang == self.lang else lang)) for lang in self.languages}}


def build_site(engine: sa.Engine, out: Path, *, lang: Lang = "id", now: datetime | None = None) -> BuildResult:
    """Render the site from the store behind `engine` into `out` (replacing a previous build there): `lang` at
    the root, every other language in a parallel tree under `<lang>/`."""
    cells = transparency(engine, period="month")
    measures = read_measures(engine)
    checkpoint = latest_checkpoint(engine)
    models = [build_model(cells, lang, measures)] + [build_model(cells, other, measures)  # type: ignore[arg-type]
                                                     for other in LABELS if other != lang]
    files = render(models, checkpoint, now or datetime.now(UTC))
    write(files, out)
    return BuildResult(out=out.resolve(), pages=sum(1 for n in files if n.endswith(".html")), files=len(files),
                       regencies=sum(1 for p in models[0].pages if p.regency_code), cells=len(cells),
                       checkpoint_size=None if checkpoint is None else checkpoint.size, lang=lang,
                       languages=tuple(m.lang for m in models))
