"""The long chaos run: `python -m bench.chaos [--events 100000] [--seed N] [--store postgresql|sqlite]`.

A seeded simulation (default FaultMix, faults included) is sent through the SDK while the gatekeeper, aggregates
and alerts processors, the store sink and the alert dispatch run as subprocesses; each of them is SIGKILLed in
turn mid-run and restarted a few seconds later. Once the pipeline is quiet the store must equal the manifest
exactly (events per family, no event id twice, alerts per rule and subject, every alert delivered once to a
webhook) and the DLQ must hold exactly the manifest's rejects. Prints one line of figures
(`events=... kills=5 lost=0 duplicated=0 ...`) and exits 1 if anything differs.

Runs against the platform the settings point at (`SIMPUL_KAFKA_BOOTSTRAP` & co., default the local one), on a
fresh topic prefix and a fresh store; both are removed afterwards (`--keep` keeps them for inspection).
The same code runs in the suite at a smaller size (tests/integration/test_chaos.py).
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path

from simpul.settings import load_settings
from harness import (
    DEFAULT_KILLS,
    Cluster,
    Pipeline,
    Receiver,
    chaos_run,
    create_pg_database,
    drop_pg_database,
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=20250303)
    ap.add_argument("--store", choices=("postgresql", "sqlite"), default="postgresql")
    ap.add_argument("--down-seconds", type=float, default=3.0, help="how long each killed worker stays down")
    ap.add_argument("--rate", type=float, default=0.0, help="records per second sent (0 = as fast as possible)")
    ap.add_argument("--timeout", type=float, default=3600.0)
    ap.add_argument("--no-kills", action="store_true", help="the same run without kills (a baseline)")
    ap.add_argument("--brokers", type=int, choices=(1, 3), default=1,
                    help="3: run on a private three-broker cluster and SIGKILL one broker mid-run instead")
    ap.add_argument("--keep", action="store_true", help="keep the topics, store and logs")
    args = ap.parse_args(argv)
    # SIGTERM (e.g. from `timeout`) must still stop the workers and drop the store: turn it into SystemExit
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    settings = load_settings()
    unique = uuid.uuid4().hex[:8]
    state = Path(tempfile.mkdtemp(prefix=f"simpul-chaos-{unique}-"))
    cluster = None
    kills = () if args.no_kills else DEFAULT_KILLS
    if args.brokers == 3:
        cluster = Cluster.up(state / "cluster")
        p = Pipeline(settings.model_copy(update={"kafka_bootstrap": cluster.bootstrap}), f"chaos{unique}",
                     state / "pipeline", replication=3, broker_killer=cluster.kill_one)
        kills = () if args.no_kills else (("broker", 0.3),)
    else:
        p = Pipeline(settings, f"chaos{unique}", state)
    db = f"simpul_chaos_{unique}"
    p.store_url = create_pg_database(settings, db) if args.store == "postgresql" else f"sqlite:///{state / 'store.sqlite'}"
    receiver = Receiver()
    p.webhook = receiver.url
    print(f"chaos: prefix {p.prefix}, state {state}, store {args.store}", file=sys.stderr, flush=True)
    started = time.monotonic()
    try:
        p.provision()
        result = chaos_run(p, events=args.events, seed=args.seed, kills=kills,
                           down_seconds=args.down_seconds, rate=args.rate, timeout=args.timeout)
    except BaseException:
        print(p.tails(), file=sys.stderr)
        raise
    finally:
        p.stop_all()
        receiver.close()
        if not args.keep:
            p.cleanup()
        if cluster is not None:
            cluster.down()
            if args.store == "postgresql":
                drop_pg_database(settings, db)
    repeats = sum(n - 1 for n in receiver.received.values() if n > 1)
    print(f"{result.line()} webhook_repeats={repeats} wall_s={time.monotonic() - started:.1f}", flush=True)
    for problem in result.problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 0 if not result.problems and result.lost == 0 and result.duplicated == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
