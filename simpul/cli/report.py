"""`simpul report`: the transparency read model (regency x service x period) as CSV or JSON on stdout."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from simpul.cli.output import console, fail_on


class Format(str, Enum):
    csv = "csv"
    json = "json"


class PeriodOpt(str, Enum):
    month = "month"
    day = "day"


class Measure(str, Enum):
    """What the report counts: the services read model (the default, unchanged) or another sector's."""

    services = "services"
    admissions = "admissions"  # SPMB: admissions per route against quota (consumers/admissions.py)
    # -- infrastructure (consumers/infrastructure.py) --
    roads = "roads"  # road-damage reports received, repaired, median hours to repair, within target
    works = "works"  # works contracts, progress against payment, contracts paid ahead of progress


class LevelOpt(str, Enum):
    SD = "SD"
    SMP = "SMP"
    SMA = "SMA"
    SMK = "SMK"


def report(
    fmt: Annotated[Format, typer.Option("--format", help="csv or json")] = Format.csv,
    period: Annotated[PeriodOpt, typer.Option("--period", help="month or day")] = PeriodOpt.month,
    regency: Annotated[str | None, typer.Option("--regency", help="one regency code, e.g. 3374")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write to this file instead of stdout")] = None,
    store_url: Annotated[str | None, typer.Option("--store-url", help="SQLAlchemy URL of the store")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="the same as --format json")] = False,
    measure: Annotated[Measure, typer.Option("--measure", help="services (default) or admissions (SPMB: per regency x "
                                                               "route, admissions against quota), roads or works (per "
                                                               "regency)")] = Measure.services,
    level: Annotated[LevelOpt, typer.Option("--level", help="school level of --measure admissions")] = LevelOpt.SMA,
) -> None:
    """Requests, completed, SLA-met %, median completion hours, fee anomalies and complaints per regency x service;
    with --measure admissions, SPMB admissions per regency x route against the schools' quota (--level, SMA); with
    --measure roads, road-damage reports received and repaired per regency with the median hours to repair; with
    --measure works, works contracts per regency with those paid ahead of their verified progress."""
    import sys

    from consumers.report import export, transparency
    from schemas.reference import regency_codes
    from simpul import bootstrap
    from simpul.exceptions import SimpulError
    from simpul.settings import load_settings

    with fail_on():
        if regency is not None and regency not in regency_codes():
            raise SimpulError(f"{regency!r} is not a Central Java regency code (3301-3329, 3371-3376)")
        engine = bootstrap.store_engine(load_settings(), store_url)
        if measure is Measure.admissions:
            from consumers import admissions

            rows = admissions.admissions(engine, level=level.value, regency=regency)
            text = admissions.export(rows, "json" if as_json else fmt.value)  # type: ignore[arg-type]
            count = len(rows)
        elif measure in (Measure.roads, Measure.works):
            from consumers import infrastructure

            fmt_name = "json" if as_json else fmt.value
            if measure is Measure.roads:
                road_rows = infrastructure.road_reports(engine, regency=regency)
                text = infrastructure.export(road_rows, infrastructure.ROAD_COLUMNS, fmt_name)  # type: ignore[arg-type]
                count = len(road_rows)
            else:
                works_rows = infrastructure.works_progress(engine, regency=regency)
                text = infrastructure.export(works_rows, infrastructure.WORKS_COLUMNS, fmt_name)  # type: ignore[arg-type]
                count = len(works_rows)
        else:
            cells = transparency(engine, period=period.value, regency=regency)  # type: ignore[arg-type]
            text = export(cells, "json" if as_json else fmt.value)  # type: ignore[arg-type]
            count = len(cells)
        if output is not None:
            output.write_text(text, encoding="utf-8")
            console.print(f"{count} rows written to {output}")
        else:
            sys.stdout.write(text)


app = typer.Typer(help="The transparency read model.", pretty_exceptions_enable=False)
app.command("report")(report)
