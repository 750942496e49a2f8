"""The long fuzz run: `python -m bench.fuzz [--examples 10000] [--seed 1] [--only ingress|gateway|dashboard]`.

Runs the suite's fuzz tests (tests/integration/test_fuzz_ingress.py, test_fuzz_gateway.py and
test_fuzz_dashboard.py) with many more hypothesis examples (`make test-long` runs them at 10,000 too, through
SIMPUL_LONG_TESTS=1): random bytes, mutated framed Avro and mutated valid events written straight onto the ingress
topics of a fresh prefix with a gatekeeper running (every input must end exactly once on a canonical topic or in
the DLQ with a reason, the gatekeeper must stay up and reach lag 0); arbitrary or mutated JSON posted to the
gateway (202 or a 4xx naming a field, never a 5xx; accepted events on the topic exactly once, then delivered or
dead-lettered with a reason); arbitrary requests to the dashboard's API with an operator's session (2xx or 4xx,
never a 5xx; replayed records delivered or dead-lettered). Each test prints and asserts its accounting
(`inputs=... delivered=... dlq=... 4xx=...`). Exits with pytest's status.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__.split("\n\n")[0])
    ap.add_argument("--examples", type=int, default=10_000, help="ingress examples per strategy")
    ap.add_argument("--gateway-examples", type=int, default=None, help="gateway examples per strategy "
                                                                       "(default: --examples)")
    ap.add_argument("--dashboard-examples", type=int, default=None, help="dashboard API requests "
                                                                         "(default: --examples)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the ingress inputs (the suite uses 0)")
    ap.add_argument("--only", choices=("ingress", "gateway", "dashboard"), default=None)
    args = ap.parse_args(argv)

    import pytest

    os.environ["SIMPUL_FUZZ_EXAMPLES"] = str(args.examples)
    os.environ["SIMPUL_FUZZ_SEED"] = str(args.seed)
    gateway = args.gateway_examples or args.examples
    dashboard = args.dashboard_examples or args.examples
    os.environ["SIMPUL_FUZZ_GATEWAY_EXAMPLES"] = str(gateway)
    os.environ["SIMPUL_FUZZ_DASHBOARD_EXAMPLES"] = str(dashboard)
    files = {"ingress": "tests/integration/test_fuzz_ingress.py", "gateway": "tests/integration/test_fuzz_gateway.py",
             "dashboard": "tests/integration/test_fuzz_dashboard.py"}
    chosen = [files[args.only]] if args.only else list(files.values())
    started = time.monotonic()
    code = pytest.main([*(str(ROOT / f) for f in chosen), "-q", "-s", "-p", "no:cacheprovider",
                        "-o", "timeout=7200", "--rootdir", str(ROOT)])
    print(f"fuzz: examples={args.examples} gateway_examples={gateway} dashboard_examples={dashboard} exit={int(code)} "
          f"seconds={time.monotonic() - started:.0f}", file=sys.stderr)
    return int(code)


if __name__ == "__main__":
    raise SystemExit(main())
