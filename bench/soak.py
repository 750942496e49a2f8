"""The soak: `python -m bench.soak [--minutes 60] [--rate 200] [--kill-every 4]` (`make soak`).

The chaos machinery of bench/chaos.py held for a long time at a steady rate: a private secure platform (SASL/SCRAM
and ACLs; one broker unless `--brokers 3`), every stage running as its own principal (gatekeeper, aggregates,
alerts, store sink, alert dispatch, transparency log), a seeded simulation sent at `--rate` events/s for
`--minutes`, and a stage SIGKILLed every few minutes (seeded times and victims; restarted a few seconds later).

At the end it checks and reports:
- lost 0 and duplicated 0: the store against the manifest, the DLQ, the webhook and the transparency log, exactly
  as the chaos run does (harness.chaos_run);
- memory: every process's RSS (each stage's current incarnation, each broker, the registry, PostgreSQL's
  postmaster), sampled every `--sample-seconds`; after the first `--steady-minutes` of the run and of each
  restarted incarnation's life (`--restart-warmup-minutes`, the same ten by default: a restarted stage starts
  with empty caches and memtables, as the first one did) its largest sample may exceed its smallest by at most
  `--rss-tolerance` (20%), and every stage must have an incarnation that lived long enough to be judged;
- latency: from the record's ingress timestamp to its row in the store (`stored_at`), p50/p99/max per
  `--window-minutes` window of sending time (kills included: a window with a kill shows its outage).
Prints the figures, writes them as JSON (`--json-out`), exits 1 if any check fails.
"""

from __future__ import annotations

import argparse
import collections
import functools
import json
import random
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.chaos import STAGES, LOG, Kill, SecurePipeline, SecurePlatform, _stderr, secure_pipeline, \
    transparency_check, warm_up
from consumers.store.db import connect
from consumers.store.tables import EVENT_TABLES
from harness import chaos_run, count, scan, wait_for

ROOT = Path(__file__).resolve().parents[1]


def soak_faults() -> Any:
    """The default FaultMix with its anomalies (the cases that raise alerts) at a tenth, the rest as they are: the
    defaults are sized for runs up to ~100,000 records, and 720,000 records (an hour at 200/s) leave no room in the
    simulated week for 0.1% complaint bursts or 0.2% price jumps (PlanError)."""
    from producers.simulator.faults import FAULTS, FaultMix

    keep = {"duplicates", "invalid", "spoofing", "late"}
    default = FaultMix()
    return FaultMix(**{f: getattr(default, f) if f in keep else getattr(default, f) / 10 for f in FAULTS})


@contextmanager
def planned_with(faults: Any) -> Iterator[None]:
    """harness.chaos_run plans with the default FaultMix; for the soak it plans with `faults`."""
    import harness.chaos
    from producers.simulator import plan

    harness.chaos.plan = functools.partial(plan, faults=faults)  # type: ignore[assignment]
    try:
        yield
    finally:
        harness.chaos.plan = plan


def rss_kib(pid: int) -> int | None:
    """Resident set size of `pid` in KiB (None: it has gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


@dataclass
class Sampler:
    """Samples the RSS of every stage (per incarnation) and platform process every `every` seconds."""

    p: SecurePipeline
    platform: SecurePlatform
    every: float
    samples: dict[str, list[tuple[float, int]]] = field(default_factory=lambda: collections.defaultdict(list))
    born: dict[str, float] = field(default_factory=dict)  # series -> seconds since t0 when first seen

    def __post_init__(self) -> None:
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="soak-rss", daemon=True)

    def start(self, t0: float) -> None:
        self.t0 = t0
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(self.every):
            now = time.monotonic() - self.t0
            procs = {f"{name}#{self.p.starts[name]}": proc.pid for name, proc in self.p.procs.items()
                     if proc.poll() is None and name not in self.p.bouncing}
            for series, pid in {**procs, **self.platform.pids()}.items():
                kib = rss_kib(pid)
                if kib is not None:
                    self.born.setdefault(series, now)
                    self.samples[series].append((now, kib))

    def verdict(self, steady_s: float, restart_warmup_s: float, tolerance: float) -> tuple[list[dict[str, Any]], list[str]]:
        return judge_rss(self.samples, self.born, steady_s, restart_warmup_s, tolerance)


def judge_rss(samples: dict[str, list[tuple[float, int]]], born: dict[str, float], steady_s: float,
              restart_warmup_s: float, tolerance: float) -> tuple[list[dict[str, Any]], list[str]]:
    """Per series (a process, or a stage's incarnation `<stage>#<n>`): its samples from `steady_s` into the run
    and `restart_warmup_s` into a restarted incarnation's life, their min, max and spread; a problem for each
    spread above `tolerance`, and for a stage none of whose incarnations lived long enough to be judged (its
    memory would go unchecked)."""
    rows, problems = [], []
    judged_stages: set[str] = set()
    stages: set[str] = set()
    for series, kept_samples in sorted(samples.items()):
        stage, _, n = series.partition("#")
        restarted = bool(n) and n != "1"
        if n:
            stages.add(stage)
        start = max(steady_s, born[series] + (restart_warmup_s if restarted else 0.0))
        kept = [kib for t, kib in kept_samples if t >= start]
        if len(kept) < 2:
            rows.append({"process": series, "samples": len(kept), "judged": False})
            continue
        if n:
            judged_stages.add(stage)
        low, high = min(kept), max(kept)
        spread = high / low - 1
        rows.append({"process": series, "samples": len(kept), "judged": True, "from_min": round(start / 60, 1),
                     "first_mib": round(kept[0] / 1024, 1), "last_mib": round(kept[-1] / 1024, 1),
                     "min_mib": round(low / 1024, 1), "max_mib": round(high / 1024, 1), "spread": round(spread, 3)})
        if spread > tolerance:
            problems.append(f"RSS of {series} not flat: {low / 1024:.0f}-{high / 1024:.0f} MiB "
                            f"({spread:.0%} > {tolerance:.0%}) after minute {start / 60:.1f}")
    problems += [f"RSS of {stage} never judged: no incarnation lived past its warm-up" for stage in
                 sorted(stages - judged_stages)]
    return rows, problems


@dataclass
class TimedKiller:
    """Kills a stage at seeded times (every `every_s` on average, ±40%), victims in seeded shuffled rounds of all
    stages, until `until_s`."""

    p: SecurePipeline
    seed: int
    every_s: float
    until_s: float
    down_seconds: float = 3.0
    log: LOG = _stderr
    kills: list[Kill] = field(default_factory=list)
    error: BaseException | None = None

    def __post_init__(self) -> None:
        rng = random.Random(self.seed)
        self.plan: list[tuple[float, str]] = []
        t, victims = 0.0, []
        while True:
            t += rng.uniform(0.6, 1.4) * self.every_s
            if t > self.until_s:
                break
            if not victims:
                victims = list(STAGES)
                rng.shuffle(victims)
            self.plan.append((t, victims.pop()))
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="soak-killer", daemon=True)

    def start(self, t0: float) -> None:
        self.t0 = t0
        self.thread.start()

    def _run(self) -> None:
        try:
            for at, victim in self.plan:
                if self.stop.wait(max(0.0, at - (time.monotonic() - self.t0))):
                    return
                self.p.bounce(victim, self.down_seconds)
                self.kills.append(Kill(victim, float("nan"), float("nan"), time.monotonic() - self.t0, 0.0))
                self.log(f"soak: kill {len(self.kills)}: t={self.kills[-1].at_s / 60:.1f} min {victim}")
        except BaseException as exc:  # noqa: BLE001 - re-raised by the caller
            self.error = exc


def _scan(p: SecurePipeline, topics: list[str], each: Any, timeout: float = 900.0) -> None:
    """Call `each(message)` for every record of `topics` up to their current end (nothing kept in memory)."""
    scan(p.settings, topics, each, timeout)


def ingress_times(p: SecurePipeline) -> dict[tuple[str, int, int], int]:
    """Each canonical record's coordinates -> the broker timestamp (ms; the producer's create time) of the ingress
    record it came from (its `simpul.source` header names that record)."""
    sent: dict[tuple[str, int, int], int] = {}
    _scan(p, p.ingress, lambda m: sent.__setitem__((m.topic(), m.partition(), m.offset()), m.timestamp()[1]))
    out: dict[tuple[str, int, int], int] = {}

    def canonical(m: Any) -> None:
        source = dict(m.headers() or []).get("simpul.source", b"").decode()
        topic, _, rest = source.partition(":")
        part, _, off = rest.partition(":")
        if part.isdigit() and off.isdigit() and (topic, int(part), int(off)) in sent:
            out[(m.topic(), m.partition(), m.offset())] = sent[(topic, int(part), int(off))]

    _scan(p, p.events, canonical)
    return out


def latency_windows(p: SecurePipeline, t0_ms: int, window_s: float) -> list[dict[str, Any]]:
    """p50/p99/max from the ingress record's timestamp to its row in the store (`stored_at`) per window of ingress
    time (the first window starts at `t0_ms`)."""
    sent = ingress_times(p)
    per: dict[int, list[float]] = collections.defaultdict(list)
    engine = connect(p.store_url)
    try:
        with engine.connect() as conn:
            for table in EVENT_TABLES.values():
                rows = conn.execute(sa.select(table.c.source_topic, table.c.source_partition, table.c.source_offset,
                                              table.c.stored_at))
                for topic, part, off, stored_at in rows:
                    ts = sent.get((topic, part, off))
                    if ts is None:
                        continue
                    stored_ms = stored_at.replace(tzinfo=stored_at.tzinfo or UTC).timestamp() * 1000
                    per[int((ts - t0_ms) / 1000 // window_s)].append((stored_ms - ts) / 1000)
    finally:
        engine.dispose()
    out = []
    for w in sorted(per):
        xs = sorted(per[w])
        out.append({"window": w, "from_min": round(w * window_s / 60, 1), "events": len(xs),
                    "p50_s": round(xs[len(xs) // 2], 3), "p99_s": round(xs[min(len(xs) - 1, int(len(xs) * 0.99))], 3),
                    "max_s": round(xs[-1], 3)})
    return out


def rejudge(raw_path: Path, steady_s: float, warmup_s: float, tolerance: float) -> int:
    """Print the RSS verdict of a finished soak's kept samples under these rules; 1 if any problem."""
    raw = json.loads(raw_path.read_text())
    samples = {k: [(t, kib) for t, kib in v] for k, v in raw["rss_samples"].items()}
    rows, problems = judge_rss(samples, raw["born"], steady_s, warmup_s, tolerance)
    print_rss(rows)
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    print(f"rss: {'OK' if not problems else 'FAILED'} (from minute {steady_s / 60:g}, restarts from minute "
          f"{warmup_s / 60:g} of their life, tolerance {tolerance:.0%})")
    return 1 if problems else 0


def print_rss(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        if row["judged"]:
            print(f"rss {row['process']}: {row['min_mib']}-{row['max_mib']} MiB spread {row['spread']:.1%} "
                  f"({row['samples']} samples from minute {row['from_min']}; first {row['first_mib']}, "
                  f"last {row['last_mib']})")
        else:
            print(f"rss {row['process']}: not judged ({row['samples']} samples in the steady part)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=60.0, help="how long the traffic runs")
    ap.add_argument("--rate", type=float, default=200.0, help="events per second")
    ap.add_argument("--kill-every", type=float, default=4.0, help="minutes between kills, on average")
    ap.add_argument("--seed", type=int, default=20261202)
    ap.add_argument("--brokers", type=int, choices=(1, 3), default=1)
    ap.add_argument("--steady-minutes", type=float, default=10.0, help="RSS is judged after this many minutes")
    ap.add_argument("--restart-warmup-minutes", type=float, default=None,
                    help="and this long into a restarted stage's life (default: --steady-minutes)")
    ap.add_argument("--rejudge", type=Path, default=None, metavar="RAW_JSON",
                    help="judge the RSS samples a finished soak kept (var/soak-<time>.raw.json) and stop")
    ap.add_argument("--rss-tolerance", type=float, default=0.20)
    ap.add_argument("--window-minutes", type=float, default=5.0, help="latency percentiles per window")
    ap.add_argument("--sample-seconds", type=float, default=15.0)
    ap.add_argument("--down-seconds", type=float, default=3.0)
    ap.add_argument("--json-out", type=Path, default=None, help="default var/soak-<UTC time>.json")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args(argv)
    warmup_s = (args.steady_minutes if args.restart_warmup_minutes is None else args.restart_warmup_minutes) * 60
    if args.rejudge is not None:
        return rejudge(args.rejudge, args.steady_minutes * 60, warmup_s, args.rss_tolerance)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    events = int(args.rate * args.minutes * 60)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out_path = args.json_out or ROOT / "var" / f"soak-{stamp}.json"
    log = _stderr
    log(f"soak: {events} events at {args.rate:.0f}/s over {args.minutes:.0f} min, a kill every "
        f"~{args.kill_every:.0f} min; figures to {out_path}")
    started = time.monotonic()
    # The brokers' heaps are committed at start, as production brokers run (-Xms = -Xmx, pre-touched): a JVM heap
    # filling up to its -Xmx over the hour is growth by design, not the leak the RSS check looks for.
    committed = {"SIMPUL_KAFKA_HEAP_COMMITTED": "1"}
    with secure_pipeline("soak", brokers=args.brokers, keep=args.keep, log=log, platform_env=committed) as (
            platform, p, rx):
        warm_up(p, STAGES, log=log)
        sampler = Sampler(p, platform, args.sample_seconds)
        killer = TimedKiller(p, args.seed, args.kill_every * 60, args.minutes * 60 - 60,
                             down_seconds=args.down_seconds, log=log)
        log("soak: kills at " + ", ".join(f"{t / 60:.1f} min {v}" for t, v in killer.plan) + " of sending")
        clock: dict[str, float] = {}

        def on_first_record() -> None:
            """The clocks of the kills, the samples and the latency windows start with the traffic (harness.
            chaos_run plans the whole run first, which takes a while at 720,000 events)."""
            wait_for("the first ingress record", lambda: count(p.settings, p.ingress) > 0,
                     timeout=3600, every=1.0)
            clock["t0"], clock["t0_ms"] = time.monotonic(), time.time() * 1000
            sampler.start(clock["t0"])
            killer.start(clock["t0"])
            log("soak: traffic started; kills and samples from now")

        starter = threading.Thread(target=on_first_record, name="soak-start", daemon=True)
        starter.start()
        def keep_raw(outcome: str, problems: list[str]) -> None:
            """The samples and kills as they are, whatever happens next (a run that fails keeps them too)."""
            raw = {"rss_samples": dict(sampler.samples), "born": sampler.born, "outcome": outcome,
                   "kills": [{"victim": k.victim, "at_min": round(k.at_s / 60, 2)} for k in killer.kills],
                   "problems": problems}
            out_path.parent.mkdir(parents=True, exist_ok=True)
            out_path.with_suffix(".raw.json").write_text(json.dumps(raw))

        try:
            with planned_with(soak_faults()):
                result = chaos_run(p, events=events, seed=args.seed, kills=(), rate=args.rate,
                                   timeout=args.minutes * 60 + 1800, log=log)
        except BaseException as exc:
            keep_raw(f"{exc.__class__.__name__}: {exc}"[:3000], [])
            raise
        finally:
            killer.stop.set()
            sampler.stop.set()
        killer.thread.join(60)
        sampler.thread.join(60)
        if killer.error is not None:
            raise killer.error
        keep_raw(result.line(), result.problems)
        log_lost, log_dup, log_figures = transparency_check(p, log=log)
        rss_rows, rss_problems = sampler.verdict(args.steady_minutes * 60, warmup_s, args.rss_tolerance)
        try:
            windows = latency_windows(p, int(clock["t0_ms"]), args.window_minutes * 60)
        except Exception as exc:  # noqa: BLE001 - the other figures still count; the error is a problem
            windows = []
            rss_problems.append(f"latency could not be measured: {exc!r}")
        if not windows:
            rss_problems.append("no latency figures: no stored event was matched to its ingress record")
    lost, duplicated = result.lost + log_lost, result.duplicated + log_dup
    problems = [*result.problems, *rss_problems]
    if lost or duplicated:
        problems.append(f"lost {lost}, duplicated {duplicated}")
    figures = {k: v for k, v in result.figures.items() if k != "killed"}
    report = {"events": events, "rate": args.rate, "minutes": args.minutes, "brokers": args.brokers,
              "secure": "SASL_PLAINTEXT/SCRAM-SHA-512+ACLs", "lost": lost, "duplicated": duplicated,
              "kills": [{"victim": k.victim, "at_min": round(k.at_s / 60, 2)} for k in killer.kills], "figures": {**figures, **log_figures},
              "rss": rss_rows, "latency": windows, "problems": problems, "ok": not problems,
              "wall_s": round(time.monotonic() - started, 1)}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(report, indent=2))
    print(f"soak: events={events} rate={args.rate:.0f}/s minutes={args.minutes:g} kills={len(killer.kills)} "
          f"lost={lost} duplicated={duplicated} " + " ".join(f"{k}={v}" for k, v in report["figures"].items()))
    print_rss(rss_rows)
    for w in windows:
        print(f"latency {w['from_min']:>5.1f} min: events={w['events']} p50={w['p50_s']}s p99={w['p99_s']}s "
              f"max={w['max_s']}s")
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    print(f"soak: {'OK' if not problems else 'FAILED'}; wall {report['wall_s']:.0f}s; figures in {out_path}")
    return 0 if not problems else 1


if __name__ == "__main__":
    raise SystemExit(main())
