"""`python -m bench` (`make bench`): Simpul's hot paths against a raw Kafka passthrough on the same platform.

    python -m bench [--events N] [--repetitions 3]
                    [--only raw,sdk,gateway,gatekeeper,gatekeeper+log,sink,aggregates,alerts,faust,log,latency]
                    [--json-out F] [--json] [--quick]
                    [--latency-rate R] [--log-nice N]

Cases (one module each under bench/cases/): a raw baseline (confluent-kafka consume -> produce), b SDK ingest,
c gateway ingest (HTTP, batches of 500), d gatekeeper throughput + end-to-end latency at half its rate,
d+h the gatekeeper's throughput with the transparency log running beside it (divided by d's of the same
repetition: the log's cost), e store sink rows/s on SQLite and PostgreSQL, g the aggregates processor's catch-up
rate and alerts the alerts processor's (each also over the gatekeeper's rate of its repetition, and its CPU per
record), faust the floor of any stage on Faust (bench/faust_floor.py: an agent doing nothing with batches or with
single events, and one writing a table entry per event), h the transparency log's own catch-up (leaves/s, where
its time goes), latency the end-to-end p50/p99 at fixed rates of 200 and 2,000 events/s to the canonical topic
and to the stored row; peak memory of every process under test. Repetitions are interleaved (a b c d d+h e g h,
a b c d+h d e g h, ...: d and d+h swap places every other repetition) and every throughput is divided by the raw
baseline of its own repetition.
Prints a table, writes JSON (default bench/results/<timestamp>.json), exits 1 naming every acceptance bound that
fails. Runs on the platform the settings point at (default the local one), on fresh topic prefixes that are
deleted afterwards. The method is in docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench import env
from bench.records import build
from bench.replay import replay
from bench.stats import AGREEMENT, Summary, ratios

CASES = ("raw", "sdk", "gateway", "gatekeeper", "gatekeeper+log", "sink", "aggregates", "alerts", "faust", "log",
         "latency")
RESULTS = Path(__file__).resolve().parent / "results"
BOUNDS = {"gatekeeper_ratio_min": 0.30, "sink_pg_rows_per_s_min": 20_000.0,
          "log_cost_max": 0.10, "agreement": AGREEMENT, "faust_ratio_to_gatekeeper_min": 0.50,
          # case latency (issue 19): end-to-end p99 at the province's rates, medians of the repetitions
          "latency_200_p99_ms_max": 150.0, "latency_2000_p99_ms_max": 250.0, "latency_2000_store_p99_ms_max": 1000.0}
LATENCY_BOUNDS = (("latency_200", "p99_ms", "latency_200_p99_ms_max", "p99 to the canonical topic"),
                  ("latency_2000", "p99_ms", "latency_2000_p99_ms_max", "p99 to the canonical topic"),
                  ("latency_2000", "store_p99_ms", "latency_2000_store_p99_ms_max", "p99 to the stored row"))

console = Console(stderr=True)


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"python": sys.version.split()[0], "platform": platform.platform(),
                            "cpus": os.cpu_count()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split()
        info["memory_gb"] = round(int(mem[1]) / 1024 / 1024, 1)
        info["load_before"] = os.getloadavg()
    except OSError:
        pass
    return info


def summarise(reps: list[dict[str, Any]]) -> dict[str, Any]:
    """Per metric: min/median/max over repetitions, and the ratio of each throughput to its repetition's raw rate."""
    def series(path: tuple[str, ...]) -> list[float] | None:
        out = []
        for rep in reps:
            node: Any = rep
            for part in path:
                if not isinstance(node, dict) or part not in node:
                    return None
                node = node[part]
            out.append(float(node))
        return out or None

    metrics: dict[str, Any] = {}
    raw = series(("raw", "rate"))
    throughput = {"raw": ("raw", "rate"), "sdk": ("sdk", "rate"), "gateway": ("gateway", "rate"),
                  "gatekeeper": ("gatekeeper", "rate"), "gatekeeper+log": ("gatekeeper+log", "rate"),
                  "sink_sqlite": ("sink", "sqlite", "rate"), "sink_postgresql": ("sink", "postgresql", "rate"),
                  "aggregates": ("aggregates", "rate"), "alerts": ("alerts", "rate"),
                  "faust_batches": ("faust", "batches", "rate"), "faust_events": ("faust", "events", "rate"),
                  "faust_table": ("faust", "table", "rate"),
                  "log": ("log", "rate")}
    for name, path in throughput.items():
        values = series(path)
        if values is None:
            continue
        entry: dict[str, Any] = {"throughput": Summary.of(values).as_dict()}
        if raw is not None:
            entry["ratio"] = Summary.of(ratios(values, raw)).as_dict()
        metrics[name] = entry
    for name, path in {"latency_p50_ms": ("gatekeeper", "p50_ms"), "latency_p99_ms": ("gatekeeper", "p99_ms"),
                       "latency_p99_to_gatekeeper_ms": ("gatekeeper", "to_gatekeeper_p99_ms"),
                       "latency_rate": ("gatekeeper", "latency_rate"),
                       "latency_broker_cores": ("gatekeeper", "latency_broker_cores"),
                       "latency_gatekeeper_cores": ("gatekeeper", "latency_gatekeeper_cores"),
                       "latency_load_cores": ("gatekeeper", "latency_load_cores")}.items():
        values = series(path)
        if values is not None:
            metrics[name] = Summary.of(values).as_dict()
    for rate in {key for rep in reps for key in rep.get("latency", {})}:  # case latency: one entry per fixed rate
        figures = {k for rep in reps for k in rep.get("latency", {}).get(rate, {})}
        entry = {k: Summary.of(v).as_dict() for k in sorted(figures) if (v := series(("latency", rate, k)))}
        if entry:
            metrics[f"latency_{rate}"] = entry
    faust = {"aggregates": ("aggregates",), "alerts": ("alerts",), "faust_batches": ("faust", "batches"),
             "faust_events": ("faust", "events"), "faust_table": ("faust", "table")}
    for stage, where in faust.items():  # a Faust stage's rate over the gatekeeper's of the same repetition
        pairs = [(float(node["rate"]), rep["gatekeeper"]["rate"]) for rep in reps
                 if "rate" in (node := _at(rep, where)) and "rate" in rep.get("gatekeeper", {})]
        if pairs and stage in metrics:
            metrics[stage]["ratio_to_gatekeeper"] = Summary.of([a / g for a, g in pairs]).as_dict()
        cpu = series((*where, "cpu_us_per_record"))
        if cpu is not None and stage in metrics:
            metrics[stage]["cpu_us_per_record"] = Summary.of(cpu).as_dict()
    with_log, without = series(("gatekeeper+log", "rate")), series(("gatekeeper", "rate"))
    if with_log is not None and without is not None:  # the log's cost: paired by repetition like the raw ratios
        metrics["gatekeeper_with_log"] = Summary.of(ratios(with_log, without)).as_dict()
        nice = series(("gatekeeper+log", "log_nice"))
        metrics["log_nice"] = max(nice) if nice else 0.0
    for name, path in {"catchup_gatekeeper_cores": ("gatekeeper", "catchup_gatekeeper_cores"),
                       "catchup_broker_cores": ("gatekeeper", "catchup_broker_cores"),
                       "log_lag_at_end": ("gatekeeper+log", "log_lag_at_end"),
                       "log_behind_s": ("gatekeeper+log", "log_behind_s"),
                       "with_log_gatekeeper_cores": ("gatekeeper+log", "gatekeeper_cores"),
                       "with_log_log_cores": ("gatekeeper+log", "log_cores"),
                       "with_log_broker_cores": ("gatekeeper+log", "broker_cores")}.items():
        values = series(path)
        if values is not None:
            metrics[name] = Summary.of(values).as_dict()
    appended = series(("log", "appended"))
    if appended is not None:  # the log's own catch-up: per leaf, CPU and the wall time of its steps
        for name, key in {"log_cpu_us_per_leaf": "cpu_seconds", "log_append_us_per_leaf": "append_s",
                          "log_checkpoint_us_per_leaf": "checkpoint_s", "log_publish_us_per_leaf": "publish_s"}.items():
            values = series(("log", key))
            if values is not None:
                metrics[name] = Summary.of([v / a * 1e6 for v, a in zip(values, appended, strict=True)]).as_dict()
    store = series(("sink", "postgresql", "records_per_s"))
    if store is not None:  # the sink's rate in records (a record is one or more rows), for the replay figure
        metrics["store_records"] = {"throughput": Summary.of(store).as_dict()}
    figure = replay(metrics)
    if figure is not None:
        metrics["replay"] = figure
    memory: dict[str, float] = {}
    for name, path in {"raw passthrough": ("raw",), "sdk producer": ("sdk",), "gateway": ("gateway",),
                       "gatekeeper": ("gatekeeper",), "sink (sqlite)": ("sink", "sqlite"),
                       "sink (postgresql)": ("sink", "postgresql"), "aggregates": ("aggregates",), "alerts": ("alerts",),
                       "gatekeeper (beside the log)": ("gatekeeper+log",), "transparency log (catch-up)": ("log",)}.items():
        values = series((*path, "peak_rss_mb"))
        if values is not None:
            memory[name] = max(values)
    values = series(("gatekeeper+log", "log_peak_rss_mb"))
    if values is not None:
        memory["transparency log (beside the gatekeeper)"] = max(values)
    metrics["peak_rss_mb"] = memory
    return metrics


def _at(rep: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    """The result at `path` of one repetition's document, or {} when that case did not run."""
    node: Any = rep
    for part in path:
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return node if isinstance(node, dict) else {}


def acceptance(metrics: dict[str, Any]) -> list[tuple[str, bool, str]]:
    checks: list[tuple[str, bool, str]] = []
    if "gatekeeper" in metrics and "ratio" in metrics["gatekeeper"]:
        r = metrics["gatekeeper"]["ratio"]["median"]
        checks.append(("gatekeeper >= 30% of raw", r >= BOUNDS["gatekeeper_ratio_min"], f"median ratio {r:.1%}"))
    for name, figure, bound, what in LATENCY_BOUNDS:
        if figure in metrics.get(name, {}):
            m, limit = metrics[name][figure], BOUNDS[bound]
            rate = name.split("_", 1)[1]
            checks.append((f"at {int(rate):,} events/s: {what} < {limit:,.0f} ms ({bound})", m["median"] < limit,
                           f"median {m['median']:,.0f} ms ({m['min']:,.0f}–{m['max']:,.0f} ms)"))
    for stage in ("aggregates", "alerts"):
        if "ratio_to_gatekeeper" in metrics.get(stage, {}):
            r, limit = metrics[stage]["ratio_to_gatekeeper"], BOUNDS["faust_ratio_to_gatekeeper_min"]
            checks.append((f"{stage} >= {limit:.0%} of the gatekeeper (faust_ratio_to_gatekeeper_min)",
                           r["median"] >= limit, f"median ratio {r['median']:.1%} ({r['min']:.1%}–{r['max']:.1%})"))
    if "gatekeeper_with_log" in metrics:
        r = metrics["gatekeeper_with_log"]
        nice = metrics.get("log_nice", 0)
        checks.append((f"the log costs the gatekeeper at most {BOUNDS['log_cost_max']:.0%} (log_cost_max)"
                       + (f", the log at nice {nice:.0f}" if nice else ""),
                       r["median"] >= 1 - BOUNDS["log_cost_max"],
                       f"gatekeeper with / without the log: median {r['median']:.1%} "
                       f"({r['min']:.1%}–{r['max']:.1%}), cost {1 - r['median']:.1%}"))
    if "sink_postgresql" in metrics:
        v = metrics["sink_postgresql"]["throughput"]["median"]
        checks.append(("store sink >= 20,000 rows/s on PostgreSQL", v >= BOUNDS["sink_pg_rows_per_s_min"],
                       f"median {v:,.0f} rows/s"))
    for name, entry in metrics.items():
        if isinstance(entry, dict) and "throughput" in entry and name != "store_records":  # = sink_postgresql's
            t = entry["throughput"]
            if len(t["values"]) >= 2:
                checks.append((f"{name}: repetitions within 20% of the median", t["agrees"],
                               f"spread {t['spread']:.1%}"))
    return checks


def table(metrics: dict[str, Any], events: int) -> Table:
    t = Table(title=f"Simpul benchmark ({events:,} records per case)")
    for col in ("case", "unit", "min", "median", "max", "spread", "ratio to raw (min/med/max)"):
        t.add_column(col, justify="right" if col not in ("case", "unit") else "left")
    units = {"raw": "records/s", "sdk": "events/s", "gateway": "events/s", "gatekeeper": "records/s",
             "gatekeeper+log": "records/s", "sink_sqlite": "rows/s", "sink_postgresql": "rows/s",
             "aggregates": "records/s", "alerts": "records/s", "faust_batches": "records/s",
             "faust_events": "records/s", "faust_table": "records/s", "log": "leaves/s"}
    for name, unit in units.items():
        if name not in metrics:
            continue
        th, ra = metrics[name]["throughput"], metrics[name].get("ratio")
        t.add_row(name, unit, f"{th['min']:,.0f}", f"{th['median']:,.0f}", f"{th['max']:,.0f}", f"{th['spread']:.0%}",
                  f"{ra['min']:.1%} / {ra['median']:.1%} / {ra['max']:.1%}" if ra else "")
    if "gatekeeper_with_log" in metrics:
        m = metrics["gatekeeper_with_log"]
        t.add_row("gatekeeper_with_log", "ratio", f"{m['min']:.1%}", f"{m['median']:.1%}", f"{m['max']:.1%}",
                  f"{m['spread']:.0%}", "")
    for name in ("latency_rate", "latency_p50_ms", "latency_p99_ms", "latency_p99_to_gatekeeper_ms",
                 "latency_broker_cores", "latency_gatekeeper_cores", "latency_load_cores", "catchup_gatekeeper_cores",
                 "catchup_broker_cores", "with_log_gatekeeper_cores",
                 "with_log_log_cores", "with_log_broker_cores", "log_lag_at_end", "log_behind_s",
                 "log_cpu_us_per_leaf", "log_append_us_per_leaf", "log_checkpoint_us_per_leaf",
                 "log_publish_us_per_leaf"):
        if name in metrics:
            m = metrics[name]
            unit, fmt = ("cores", ".2f") if name.endswith("_cores") else (
                "records/s" if name == "latency_rate" else "records" if name == "log_lag_at_end"
                else "s" if name.endswith("_s") else "µs" if name.endswith("_us_per_leaf") else "ms",
                ".1f" if name.endswith("_s") else ",.0f")
            t.add_row(name, unit, f"{m['min']:{fmt}}", f"{m['median']:{fmt}}", f"{m['max']:{fmt}}",
                      f"{m['spread']:.0%}", "")
    for name in sorted((n for n in metrics if n.startswith("latency_") and isinstance(metrics[n], dict)
                        and "p99_ms" in metrics[n]), key=lambda n: int(n.split("_")[1])):
        for figure in LATENCY_ROWS:
            if figure in metrics[name]:
                m = metrics[name][figure]
                fmt = ".2f" if figure.endswith(("_cores", "_average")) else ",.0f"
                t.add_row(f"{name}.{figure}", LATENCY_ROWS[figure], f"{m['min']:{fmt}}", f"{m['median']:{fmt}}",
                          f"{m['max']:{fmt}}", f"{m['spread']:.0%}", "")
    if "replay" in metrics:
        r = metrics["replay"]
        t.add_row(f"replay of a year ({r['year_events'] / 1e6:,.0f} M events), one worker a stage", "hours", "",
                  f"{r['hours_one_worker']:,.1f}", "", "", f"slowest: {r['slowest']}")
        t.add_row("replay of a year, scaled out (" + ", ".join(f"{k} {v}" for k, v in r["scale_out"].items()) + ")",
                  "hours", "", f"{r['hours_scaled']:,.1f}", "", "", f"slowest: {r['slowest_scaled']}")
    for proc, mb in metrics.get("peak_rss_mb", {}).items():
        t.add_row(f"peak RSS: {proc}", "MiB", "", f"{mb:,.0f}", "", "", "")
    return t


LATENCY_ROWS = {"sent_rate": "events/s", "p50_ms": "ms", "p99_ms": "ms", "store_p50_ms": "ms", "store_p99_ms": "ms",
                "ack_p99_ms": "ms", "gatekeeper_p50_ms": "ms", "gatekeeper_p99_ms": "ms", "folded_p99_ms": "ms",
                "broker_cores": "cores", "gatekeeper_cores": "cores", "sink_cores": "cores", "load_cores": "cores",
                "load_average": ""}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=None, help="records per case (default 30000; --quick 4000)")
    ap.add_argument("--repetitions", type=int, default=3)
    ap.add_argument("--only", default=",".join(CASES), help=f"comma-separated subset of {','.join(CASES)}")
    ap.add_argument("--json-out", type=Path, default=None)
    ap.add_argument("--quick", action="store_true", help="a small smoke run (4000 records, 5 s latency phase)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (logs of every process)")
    ap.add_argument("--json", action="store_true", help="print the result document on stdout instead of the table")
    ap.add_argument("--gatekeeper-workers", type=int, default=1,
                    help="gatekeeper processes in one consumer group, to measure scale-out (the gatekeeper bounds "
                         "are for one and are then not judged)")
    ap.add_argument("--latency-rate", type=float, default=None,
                    help="records/s of case gatekeeper's latency phase instead of half the measured rate, to "
                         "compare settings at one load (case latency runs at its fixed rates either way)")
    ap.add_argument("--log-nice", type=int, default=19,
                    help="the transparency log's niceness in case gatekeeper+log (default 19: the stage's own "
                         "default, SIMPUL_TLOG_NICE; 0 runs it at the gatekeeper's priority); stated in the result")
    args = ap.parse_args(argv)
    only = [c.strip() for c in args.only.split(",") if c.strip()]
    unknown = set(only) - set(CASES)
    if unknown:
        ap.error(f"unknown case(s) {', '.join(sorted(unknown))}; choose from {', '.join(CASES)}")
    events = args.events or (4000 if args.quick else 30_000)

    from bench import cases
    from bench.cases import (aggregates, alerts, faust, gatekeeper, gatekeeper_log, gateway, latency, raw, sdk, sink,
                             tlog)

    modules = {"raw": raw, "sdk": sdk, "gateway": gateway, "gatekeeper": gatekeeper, "gatekeeper+log": gatekeeper_log,
               "sink": sink, "aggregates": aggregates, "alerts": alerts, "faust": faust, "log": tlog,
               "latency": latency}
    settings = env.base_settings()
    started_at = datetime.now(UTC)
    workdir = Path(tempfile.mkdtemp(prefix="simpul-bench-"))
    info = machine()
    records = build(settings, events, log=lambda m: console.print(m))
    ctx = cases.Context(settings, records, records.dump(workdir / "records.pkl"), workdir,
                        log=lambda m: console.print(m), quick=args.quick, latency_rate=args.latency_rate,
                        gatekeeper_workers=args.gatekeeper_workers, log_nice=args.log_nice)
    reps: list[dict[str, Any]] = []
    failed: list[str] = []
    try:
        for rep in range(1, args.repetitions + 1):
            result: dict[str, Any] = {}
            for name in order(only, rep):
                t0 = time.monotonic()
                console.print(f"[bold]repetition {rep}/{args.repetitions}[/]: {name} ...")
                try:
                    result[name] = modules[name].run(ctx, rep)
                except Exception as exc:  # noqa: BLE001 - report and go on with the other cases
                    failed.append(f"rep {rep} {name}: {exc}")
                    console.print(f"[red]{name} failed[/]: {exc}")
                    traceback.print_exc()
                    continue
                console.print(f"  {name}: {_short(result[name])} ({time.monotonic() - t0:.0f}s)")
                waited = env.settle_deleted(settings)
                console.print(f"  {name}: its topics deleted and their files removed ({waited:.0f}s)")
            reps.append(result)
    finally:
        env.delete_deferred()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            console.print(f"work folder kept: {workdir}")

    metrics = summarise(reps) if reps else {}
    checks = acceptance(metrics)
    if args.gatekeeper_workers != 1:  # case d+h runs one gatekeeper: no pair for the log's cost either
        checks = [c for c in checks if not c[0].startswith(("gatekeeper >=", "the log costs"))]
    info["load_after"] = os.getloadavg()
    doc = {"started_at": started_at.isoformat(), "events": events, "repetitions": args.repetitions, "cases": only,
           "latency_rate": args.latency_rate or "half the measured rate", "gatekeeper_workers": args.gatekeeper_workers,
           "log_nice": args.log_nice,
           "machine": info, "bounds": BOUNDS, "repetitions_raw": reps, "metrics": metrics,
           "replay_hours_per_year": metrics.get("replay", {}).get("hours_one_worker"),
           "acceptance": [{"bound": n, "holds": ok, "measured": m} for n, ok, m in checks], "errors": failed}
    out = args.json_out or RESULTS / f"{started_at.strftime('%Y%m%dT%H%M%SZ')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    if args.json:
        print(json.dumps(doc, indent=2, default=str))
    else:
        Console(width=None if sys.stdout.isatty() else 160).print(table(metrics, events))  # a log keeps its columns
    for name, ok, measured in checks:
        console.print(f"{'[green]PASS[/]' if ok else '[red]FAIL[/]'} {name}: {measured}")
    console.print(f"load average before/after: {info.get('load_before')} / {info['load_after']}; JSON: {out}")
    bad = [n for n, ok, _ in checks if not ok] + failed
    if bad:
        console.print("[red]failed:[/] " + "; ".join(bad))
        return 1
    return 0


def order(only: list[str], rep: int) -> list[str]:
    """The cases of repetition `rep` (1-based) in CASES order, but with the gatekeeper with and without the log
    swapped every other repetition, so that neither always runs first on a broker that just took the other's load."""
    names = [c for c in CASES if c in only]
    if rep % 2 == 0 and "gatekeeper" in names and "gatekeeper+log" in names:
        i, j = names.index("gatekeeper"), names.index("gatekeeper+log")
        names[i], names[j] = names[j], names[i]
    return names


def _short(result: dict[str, Any]) -> str:
    flat = []
    for k, v in result.items():
        if isinstance(v, dict):
            flat.append(f"{k}: {_short(v)}")
        elif isinstance(v, float):
            flat.append(f"{k}={v:,.1f}")
    return ", ".join(flat)


if __name__ == "__main__":
    raise SystemExit(main())
