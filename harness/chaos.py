"""Chaos: a seeded run with every worker SIGKILLed in turn, then the store and topics against the manifest."""

from __future__ import annotations

import collections
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from confluent_kafka import KafkaException

from consumers.store.db import connect
from consumers.store.tables import EVENT_TABLES, alert_deliveries
from consumers.store.tables import alerts as alerts_table
from harness.broker import committed_total, count, headers, lag, read_all
from harness.processes import SINKS, STREAM_PROCESSORS, Pipeline
from harness.stores import store_counts
from harness.waiting import Deadline, wait_for
from producers.simulator import plan
from producers.simulator.send import send_sdk
from producers.simulator.model import Expect
from schemas.catalog import FAMILIES
from simpul import bootstrap


#: (victim, fraction of its own work done before it is killed): each kill lands while it still has work to do.
DEFAULT_KILLS: tuple[tuple[str, float], ...] = (
    ("gatekeeper", 0.15), ("aggregates", 0.25), ("alerts", 0.35), ("sink-store", 0.45), ("sink-alerts", 0.4))


@dataclass
class ChaosResult:
    events: int
    kills: list[str]
    lost: int
    duplicated: int
    figures: dict[str, Any]
    problems: list[str]

    def line(self) -> str:
        extra = " ".join(f"{k}={v}" for k, v in self.figures.items())
        return (f"events={self.events} kills={len(self.kills)} lost={self.lost} duplicated={self.duplicated} "
                f"{extra}")


def _progress(p: Pipeline, victim: str, manifest: Any) -> float:
    """How much of its whole job `victim` has done (0..1), from the broker's and the store's view."""
    s = p.settings
    valid = sum(manifest.events.values())
    if victim in ("gatekeeper", "broker"):
        return count(s, [*p.events, p.topics.dlq.name]) / max(1, valid + sum(manifest.dlq.values()))
    if victim in ("aggregates", "alerts"):
        return committed_total(s, p.group(victim), p.events) / max(1, valid)
    if victim == "sink-store":
        return committed_total(s, p.group(victim), p.events) / max(1, valid)
    if victim == "sink-alerts":
        return committed_total(s, p.group(victim), [p.topics.alerts.name]) / max(1, sum(manifest.alerts.values()))
    raise ValueError(victim)


def _quiet(p: Pipeline, manifest: Any) -> bool:
    """Every worker has committed past everything on its inputs, and the gatekeeper wrote all it must."""
    s = p.settings
    if count(s, [*p.events, p.topics.dlq.name]) < sum(manifest.events.values()) + sum(manifest.dlq.values()):
        return False
    inputs = {
        "gatekeeper": p.ingress,
        "alerts": [*p.events, f"{p.prefix}-alerts-subjects-repartition"],
        "aggregates": [*p.events, f"{p.prefix}-aggregates-observations-repartition"],
        "sink-store": [*p.events, *p.names("agg"), p.topics.alerts.name],
        "sink-alerts": [p.topics.alerts.name],
    }
    return all(lag(s, p.group(name), topics) == 0 for name, topics in inputs.items() if name in p.procs)


def chaos_run(p: Pipeline, *, events: int, seed: int, kills: Sequence[tuple[str, float]] = DEFAULT_KILLS,
              down_seconds: float = 3.0, rate: float = 0.0, timeout: float = 1800.0,
              log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True)) -> ChaosResult:
    """Send a seeded simulation (default FaultMix) while every worker runs; SIGKILL each victim in turn once it
    has done its share of the work, restart it after `down_seconds`; wait for quiet; compare with the manifest.

    `p` must be provisioned, with `store_url` set (a fresh store) and `webhook` a Receiver's URL.
    """
    t0 = time.monotonic()
    pl = plan(events, seed, nik_hmac_key=p.settings.secret("nik_hmac_key"))
    manifest = pl.manifest
    planned_s = time.monotonic() - t0
    log(f"chaos: planned {events} records in {planned_s:.1f}s; valid={sum(manifest.events.values())} "
        f"dlq={sum(manifest.dlq.values())} alerts={sum(manifest.alerts.values())} dupes={manifest.duplicates_sent}")
    codec = bootstrap.codec(p.settings)
    # Migrate the fresh store once before the two sinks start: each sink migrates at start-up, and two first
    # migrations of one fresh PostgreSQL database at the same moment race.
    bootstrap.store_engine(p.settings, p.store_url).dispose()
    for name in (*STREAM_PROCESSORS, *SINKS):
        p.start(name)

    sent: dict[str, Any] = {}

    def send() -> None:
        try:
            sent["report"] = send_sdk(pl.records, kafka=p.settings.kafka, codec=codec, topic_prefix=p.prefix,
                                      rate=rate, show_progress=False)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            sent["error"] = exc
        sent["at"] = time.monotonic()

    started = time.monotonic()
    sender = threading.Thread(target=send, name="chaos-sender", daemon=True)
    sender.start()
    deadline = started + timeout
    killed: list[str] = []
    for victim, share in kills:
        waited = wait_for(f"{victim} to do {share:.0%} of its work",
                          lambda: _progress(p, victim, manifest) >= share,
                          timeout=max(60.0, deadline - time.monotonic()), alive=p.alive, every=1.0)
        try:
            done = _progress(p, victim, manifest)
        except KafkaException:
            done = share
        p.kill(victim)
        killed.append(victim)
        log(f"chaos: t={time.monotonic() - started:.0f}s SIGKILL {victim} at {done:.0%} of its work "
            f"(waited {waited:.0f}s); restart in {down_seconds:.0f}s")
        if victim == "broker":
            continue  # the cluster carries on with two of three brokers (min.insync.replicas 2)
        time.sleep(down_seconds)  # the outage itself, not a wait for a condition
        p.start(victim)
    sender.join(max(60.0, deadline - time.monotonic()))
    assert not sender.is_alive(), "the sender did not finish"
    if "error" in sent:
        raise sent["error"]
    log(f"chaos: sent {sent['report'].sent} records in {sent['report'].seconds:.0f}s; waiting for quiet")
    wait_for("the pipeline to be quiet", lambda: _quiet(p, manifest),
             timeout=max(120.0, deadline - time.monotonic()), alive=p.alive, every=2.0)
    quiet_at = time.monotonic()

    # ---- the store against the manifest (poll: the last batch may still be committing) ----
    expected_counts = {f"events_{f}": manifest.events[f] for f in FAMILIES}
    expected_alerts = sum(manifest.alerts.values())

    def store_done() -> bool:
        c = store_counts(p.store_url)
        return bool(c) and all(c.get(k) == v for k, v in expected_counts.items()) and c.get("alerts") == expected_alerts \
            and c.get("alert_deliveries", 0) >= expected_alerts * (1 if p.webhook else 0)

    try:
        wait_for("the store to equal the manifest", store_done, timeout=120.0, alive=p.alive, every=2.0)
    except Deadline:
        pass  # the exact comparison below says what differs
    stop_at = time.monotonic()
    p.stop_all()

    problems: list[str] = []
    expected_ids = {str(r.event.event_id): r.family for r in pl.records if r.expect is Expect.EVENT}
    engine = connect(p.store_url)
    try:
        with engine.connect() as conn:
            stored: collections.Counter[str] = collections.Counter()
            per_family: dict[str, int] = {}
            for f in FAMILIES:
                ids = [r for (r,) in conn.execute(sa.select(EVENT_TABLES[f].c.event_id))]
                per_family[f] = len(ids)
                stored.update(ids)
                wrong = [i for i in ids if expected_ids.get(i, f) != f]
                if wrong:
                    problems.append(f"{len(wrong)} events in events_{f} belong to another family")
            alert_rows = conn.execute(sa.select(alerts_table.c.alert_id, alerts_table.c.rule,
                                                alerts_table.c.subject)).all()
            deliveries = conn.execute(sa.select(alert_deliveries.c.status, sa.func.count())
                                      .group_by(alert_deliveries.c.status)).all()
    finally:
        engine.dispose()
    store_twice = sum(n - 1 for n in stored.values() if n > 1)
    store_missing = len(set(expected_ids) - set(stored))
    store_unexpected = len(set(stored) - set(expected_ids))
    if per_family != manifest.events:
        problems.append(f"events per family {per_family} != manifest {manifest.events}")
    got_alerts = {rule: sorted(list(s) for (_, r, s) in alert_rows if r == rule) for rule in manifest.alerts}
    want_alerts = {rule: sorted(list(s) for s in subjects) for rule, subjects in
                   manifest.expected_alert_subjects.items()}
    alerts_per_rule = {rule: len(v) for rule, v in got_alerts.items()}
    if alerts_per_rule != manifest.alerts:
        problems.append(f"alerts per rule {alerts_per_rule} != manifest {manifest.alerts}")
    alerts_missing = sum(len(v) for v in want_alerts.values()) - sum(
        1 for rule, subjects in got_alerts.items() for s in subjects if s in want_alerts.get(rule, []))
    alerts_unexpected = sum(1 for rule, subjects in got_alerts.items() for s in subjects
                            if s not in want_alerts.get(rule, []))
    if got_alerts != want_alerts:
        problems.append(f"alert subjects differ: {alerts_missing} missing, {alerts_unexpected} unexpected")

    # ---- the topics: canonical events once each, the DLQ exactly the manifest's ----
    canonical = read_all(p.settings, p.events)
    on_topic = collections.Counter(headers(m)["simpul.event_id"] for m in canonical)
    topic_twice = sum(n - 1 for n in on_topic.values() if n > 1)
    topic_missing = len(set(expected_ids) - set(on_topic))
    dlq = read_all(p.settings, [p.topics.dlq.name])
    reasons = collections.Counter(headers(m)["simpul.reason"] for m in dlq)
    sources = collections.Counter((headers(m)["simpul.source_topic"], headers(m)["simpul.source_partition"],
                                   headers(m)["simpul.source_offset"]) for m in dlq)
    dlq_twice = sum(n - 1 for n in sources.values() if n > 1)
    dlq_by_reason = {r: reasons.get(r, 0) for r in manifest.dlq}
    dlq_missing = sum(max(0, n - reasons.get(r, 0)) for r, n in manifest.dlq.items())
    if dlq_by_reason != manifest.dlq or set(reasons) - set(manifest.dlq):
        problems.append(f"DLQ by reason {dict(reasons)} != manifest {manifest.dlq}")
    if topic_twice:
        problems.append(f"{topic_twice} canonical records repeat an event id")
    if dlq_twice:
        problems.append(f"{dlq_twice} DLQ records repeat a source")
    alert_records = read_all(p.settings, [p.topics.alerts.name])
    delivered = dict((status, n) for status, n in deliveries)
    if p.webhook and delivered.get("delivered", 0) != expected_alerts:
        problems.append(f"alert deliveries {delivered} != {expected_alerts} delivered")

    lost = store_missing + alerts_missing + dlq_missing
    duplicated = store_twice + topic_twice + dlq_twice + store_unexpected + alerts_unexpected
    figures = {
        "stored": sum(per_family.values()), "dlq": sum(reasons.values()), "alerts": len(alert_rows),
        "alert_records": len(alert_records), "deliveries": delivered.get("delivered", 0),
        "duplicates_dropped": manifest.duplicates_sent, "canonical_missing": topic_missing,
        "plan_s": round(planned_s, 1), "send_s": round(sent["report"].seconds, 1),
        "quiet_s": round(quiet_at - started, 1), "total_s": round(stop_at - t0, 1),
        "killed": ",".join(killed),
    }
    return ChaosResult(events=events, kills=killed, lost=lost, duplicated=duplicated, figures=figures,
                       problems=problems)
