"""`python -m bench.produce_requests`: what live traffic costs the broker, in produce requests and CPU.

librdkafka (under the SDK, the gateway and the gatekeeper) sends one ProduceRequest per partition
(confluentinc/librdkafka#1700), so records spread over the 105 ingress partitions at a few thousand a second go
out one or two per request. This produces at a fixed rate to the
ingress topics of a fresh prefix with the SDK's producer settings and reports the requests sent (librdkafka's own
statistics) and the broker's CPU during the sends (from /proc; local platform only), so that a linger or a broker
setting can be judged by what it saves the broker.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from confluent_kafka import Producer
from rich.console import Console

from bench import env
from producers.delivery import PRODUCER_DEFAULTS
from topics.catalog import topic_names


def measure(rate: float, seconds: float, linger_ms: int) -> dict[str, Any]:
    """Produce `rate` records/s for `seconds` to every ingress partition; requests and broker CPU of the sends."""
    settings = env.base_settings()
    broker = env.broker_pid(settings)
    if broker is None:
        raise SystemExit("no local broker running under the state folder: run `simpul platform up` first")
    stats: list[dict[str, Any]] = []
    value = os.urandom(250)  # about one event's Avro body
    with env.fresh_prefix(settings, "req") as s:
        ingress = [t.name for t in topic_names(s.topic_prefix).role("ingress")]
        producer = Producer(s.kafka.librdkafka(**{**PRODUCER_DEFAULTS, "linger.ms": linger_ms,
                                                  "statistics.interval.ms": 500,
                                                  "stats_cb": lambda raw: stats.append(json.loads(raw))}))
        time.sleep(2.0)  # let the new partitions settle before measuring
        cpu0, t0, sent = env.cpu_seconds(broker), time.monotonic(), 0
        while (now := time.monotonic()) - t0 < seconds:
            if sent % 10 == 0 and (delay := t0 + sent / rate - now) > 0:
                time.sleep(delay)
            producer.produce(ingress[sent % len(ingress)], value, key=str(sent).encode())
            producer.poll(0)
            sent += 1
        producer.flush(60)
        elapsed, cpu1 = time.monotonic() - t0, env.cpu_seconds(broker)
        time.sleep(0.6)  # one more statistics interval: the counts include the last requests
        producer.poll(0)
    env.delete_deferred()
    requests = sum(b["req"].get("Produce", 0) for b in stats[-1]["brokers"].values() if b["nodeid"] >= 0)
    broker_cores = (cpu1 - cpu0) / elapsed
    return {"rate": rate, "linger_ms": linger_ms, "records": sent, "seconds": round(elapsed, 2),
            "produce_requests": requests, "records_per_request": round(sent / max(1, requests), 2),
            "broker_cores": round(broker_cores, 3),
            "broker_cpu_us_per_request": round(broker_cores * elapsed / max(1, requests) * 1e6, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.produce_requests", description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, nargs="+", default=[500.0, 3000.0], help="records/s, one run each")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--linger-ms", type=int, default=PRODUCER_DEFAULTS["linger.ms"])
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    console = Console(stderr=True)
    results = []
    for rate in args.rate:
        with console.status(f"producing {rate:,.0f} records/s for {args.seconds:.0f} s"):
            results.append(measure(rate, args.seconds, args.linger_ms))
        r = results[-1]
        if not args.json:
            console.print(f"{r['rate']:,.0f} rec/s, linger {r['linger_ms']} ms: {r['produce_requests']:,} produce "
                          f"requests ({r['records_per_request']} records each), broker {r['broker_cores']} cores "
                          f"= {r['broker_cpu_us_per_request']} µs of broker CPU per request")
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
