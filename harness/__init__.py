"""The test and bench harness: drives the whole pipeline from outside, as an operator would.

One `Pipeline` = one topic prefix, one state folder, one fresh store, and the processes it started (stream
processors and sinks, run as `python -m simpul ...` subprocesses). Helpers read the real broker; waiting is always
on a condition with a generous deadline, never on a fixed sleep. Nothing here is a pytest fixture, so the suite
(tests/integration) and the long runs (`python -m bench.chaos`, `python -m bench.fuzz`) share the same code. It is
not part of the installed product: it runs from the repository's root and may import every layer.
"""

from harness.accounting import gatekeeper_accounting
from harness.broker import (committed_total, consumer, count, delete_topics, headers, lag, partitions, read_all, scan,
                            watermarks)
from harness.chaos import DEFAULT_KILLS, ChaosResult, chaos_run
from harness.cluster import Cluster
from harness.fuzz import (
    HEADER_NAMES,
    REGENCIES,
    Input,
    Mutation,
    collect,
    framed_mutation,
    mutated_event_input,
    mutated_events,
    mutations,
    oracle,
    random_bytes,
)
from harness.processes import ROOT, SINKS, STREAM_PROCESSORS, WEBHOOK_SECRET, Pipeline, terminate
from harness.receiver import Receiver
from harness.stores import create_pg_database, drop_pg_database, store_counts
from harness.waiting import Deadline, wait_for

__all__ = [
    "DEFAULT_KILLS", "HEADER_NAMES", "REGENCIES", "ROOT", "SINKS", "STREAM_PROCESSORS", "WEBHOOK_SECRET",
    "ChaosResult", "Cluster", "Deadline", "Input", "Mutation", "Pipeline", "Receiver",
    "chaos_run", "collect", "committed_total", "consumer", "count", "create_pg_database", "delete_topics",
    "drop_pg_database", "framed_mutation", "gatekeeper_accounting", "headers", "lag", "mutated_event_input",
    "mutated_events", "mutations", "oracle", "partitions", "read_all", "random_bytes", "scan", "store_counts",
    "terminate",
    "wait_for",
    "watermarks",
]
