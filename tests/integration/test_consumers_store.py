"""The store sink on real Kafka + registry, into real SQLite and real PostgreSQL.

A seeded simulation's valid events (tokenised as the gatekeeper would) go to the family topics, some twice, plus
one poison record, JSON aggregates (several values per window, out of order) and alerts (the manifest's subjects,
some twice). The sink must store exactly the manifest's counts, survive a SIGKILL mid-batch, and not change on replay.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from functools import cache

import pytest
import sqlalchemy as sa
from confluent_kafka import Producer

from consumers.report import transparency
from consumers.store.db import connect
from consumers.store.tables import TABLES, aggregates, counts
from producers.simulator import plan
from producers.simulator.traffic import Expect, nik_token
from schemas.nik import NikContext, validation_context
from schemas.catalog import FAMILIES, nik_fields
from simpul import bootstrap
from simpul.settings import Settings
from schemas.records import Aggregate, Alert, alert_id
from topics.catalog import topic_names

SEED = 20250303
NIK_KEY = "store-test-nik-key"  # the store only sees tokens; any key gives them


# ---- fixtures: a store per test on each database ----------------------------------------------------------------

def provisioned(settings: Settings, prefix: str) -> Settings:
    s = settings.model_copy(update={"topic_prefix": prefix})
    bootstrap.provision(s)
    return s


def sink_env(s: Settings) -> dict[str, str]:
    return {**os.environ, "SIMPUL_KAFKA_BOOTSTRAP": s.kafka.bootstrap, "SIMPUL_REGISTRY_URL": s.registry,
            "SIMPUL_TOPIC_PREFIX": s.topic_prefix, "SIMPUL_STATE_DIR": str(s.state_dir),
            # static membership: the restarted sink takes the killed one's partitions back without waiting
            "SIMPUL_SINK_INSTANCE_ID": f"sink-{s.topic_prefix}"}


def run_sink(s: Settings, store_url: str, *args: str, timeout: float = 180) -> dict:
    cmd = [sys.executable, "-m", "simpul", "sink", "store", "--store-url", store_url, "--json", "--loglevel", "warning", *args]
    done = subprocess.run(cmd, env=sink_env(s), capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


# ---- the traffic ------------------------------------------------------------------------------------------------

@cache
def simulation(events: int):
    """(plan, canonical events in plan order, the duplicates to re-send)."""
    p = plan(events, SEED, nik_hmac_key=NIK_KEY)
    canonical, dupes = [], []
    for r in p.records:
        if r.expect not in (Expect.EVENT, Expect.DUPLICATE):
            continue
        ev = r.event
        tokens = {f: nik_token(NIK_KEY, getattr(ev, f)) for f in nik_fields(r.event_type) if getattr(ev, f)}
        ev = type(ev).model_validate({**ev.model_dump(), **tokens}, context=validation_context(NikContext.CANONICAL))
        (canonical if r.expect is Expect.EVENT else dupes).append(ev)
    return p, canonical, dupes


def expected_cases(canonical) -> tuple[int, int]:
    sr = {(e.regency_code, e.case_id) for e in canonical
          if type(e).event_type in ("ServiceRequestSubmitted", "ServiceRequestCompleted")}
    cp = {(e.regency_code, e.case_id) for e in canonical if type(e).event_type in ("ComplaintFiled", "ComplaintStatusChanged")}
    return len(sr), len(cp)


def produce_events(s: Settings, events, *, poison: int = 0) -> None:
    codec = bootstrap.codec(s)
    topics = topic_names(s.topic_prefix)
    producer = Producer(s.kafka.librdkafka(**{"linger.ms": 20, "compression.type": "zstd", "acks": "all"}))
    for ev in events:
        producer.produce(topics.events(type(ev).family).name, key=ev.ordering_key.encode(), value=codec.encode(ev))
        producer.poll(0)
    for i in range(poison):
        producer.produce(topics.events(FAMILIES[i % len(FAMILIES)]).name, key=b"x", value=b"\x00\x00\x00\x27garbage")
    assert producer.flush(60) == 0


def derived_records(p) -> tuple[list[Aggregate], int, list[Alert], int]:
    """Aggregates (3 values per window, the newest not last) and alerts (every expected subject, a third twice)."""
    aggs: list[Aggregate] = []
    base = datetime(2025, 3, 3, tzinfo=UTC)
    keys = 0
    for i, code in enumerate(sorted(p.manifest.regencies)):
        for h in range(4):
            keys += 1
            start = base + timedelta(hours=h)
            versions = [Aggregate(metric="service_requests", regency_code=code, dimension="service_code",
                                  dimension_value="KTP_EL", window="1h", window_start=start,
                                  window_end=start + timedelta(hours=1), values={"requests": n, "fee_anomalies": 0},
                                  events=n, updated_at=base + timedelta(days=7, minutes=n)) for n in (1, 3, 2)]
            aggs.extend(versions)
    alerts: list[Alert] = []
    now = datetime(2025, 3, 10, tzinfo=UTC)
    for rule, subjects in p.manifest.expected_alert_subjects.items():
        for subject in subjects:
            alerts.append(Alert(alert_id=alert_id(rule, subject), rule=rule, severity="warning", regency_code=subject[0]
                                if subject[0].isdigit() else "3374", window_start=now, window_end=now,
                                subject=subject, message=f"{rule} {subject}", evidence_event_ids=[], raised_at=now))
    distinct_alerts = len({a.alert_id for a in alerts})
    alerts += alerts[::3]
    return aggs, keys, alerts, distinct_alerts


def produce_derived(s: Settings, aggs: list[Aggregate], alerts: list[Alert]) -> None:
    topics = topic_names(s.topic_prefix)
    producer = Producer(s.kafka.librdkafka(**{"linger.ms": 20, "acks": "all"}))
    for a in aggs:
        producer.produce(topics.agg(a.metric).name, key=a.window_key.encode(), value=a.to_bytes())
    for a in alerts:
        producer.produce(topics.alerts.name, key=a.key(), value=a.to_bytes())
    producer.produce(topics.alerts.name, key=b"bad", value=b"{not json")
    assert producer.flush(60) == 0


def expected_counts(p, canonical, agg_keys: int, alerts: int) -> dict[str, int]:
    sr, cp = expected_cases(canonical)
    return {**{f"events_{f}": p.manifest.events[f] for f in FAMILIES}, "service_requests": sr, "complaints": cp,
            "aggregates": agg_keys, "alerts": alerts, "alert_deliveries": 0}


def store_counts(url: str) -> dict[str, int]:
    engine = connect(url)
    try:
        with engine.connect() as conn:
            return counts(conn)
    finally:
        engine.dispose()


# ---- tests -----------------------------------------------------------------------------------------------------

def test_seeded_simulation_counts_equal_the_manifest(settings: Settings, unique: str, store_url: str) -> None:
    s = provisioned(settings, f"t{unique}")
    p, canonical, dupes = simulation(4000)
    assert dupes, "the plan re-sends some events"
    produce_events(s, [*canonical, *dupes, *canonical[:300]], poison=3)
    aggs, agg_keys, alerts, n_alerts = derived_records(p)
    produce_derived(s, aggs, alerts)

    stats = run_sink(s, store_url, "--once", "--batch-size", "1500")
    assert stats["poison"] == 4  # three garbage events and one non-JSON alert, skipped
    expected = expected_counts(p, canonical, agg_keys, n_alerts)
    assert sum(expected[f"events_{f}"] for f in FAMILIES) == len(canonical) == sum(p.manifest.events.values())
    assert store_counts(store_url) == expected

    engine = connect(store_url)
    try:
        with engine.connect() as conn:
            # the newest value of each window won, though it was not the last one written
            assert {r for (r,) in conn.execute(sa.select(aggregates.c.events))} == {3}
            # the SQL view agrees with the report, and both with the events
            view = {(r.regency_code, r.service_code, r.period): r for r in conn.execute(sa.text("select * from transparency"))}
            submitted = sum(1 for e in canonical if type(e).event_type == "ServiceRequestSubmitted")
            filed = sum(1 for e in canonical if type(e).event_type == "ComplaintFiled")
            stored_at = conn.execute(sa.select(TABLES["events_governance"].c.occurred_at).limit(1)).scalar_one()
            assert stored_at.tzinfo is not None
        cells = transparency(engine)
        assert sum(c.complaints for c in cells) == filed
        assert sum(c.requests for c in cells) >= submitted
        assert len(cells) == len(view)
        for c in cells:
            v = view[(c.regency_code, c.service_code, c.period)]
            assert (v.requests, v.completed, v.issued, v.sla_met, v.sla_known, v.fee_anomalies, v.complaints) == (
                c.requests, c.completed, c.issued, c.sla_met, c.sla_known, c.fee_anomalies, c.complaints)
            if c.sla_met_pct is not None:
                assert float(v.sla_met_pct) == pytest.approx(c.sla_met_pct)
        # fee anomalies injected by the simulator are visible in the read model
        assert sum(c.fee_anomalies for c in cells) == p.manifest.alerts["fee_above_tariff"]
    finally:
        engine.dispose()

    # a replay of everything by a new consumer group changes nothing
    again = run_sink(s, store_url, "--once", "--group", f"replay-{unique}")
    assert again["records"] == stats["records"]
    assert store_counts(store_url) == expected


def test_sigkill_mid_batch_then_restart_loses_nothing_and_doubles_nothing(
        settings: Settings, unique: str, store_url: str) -> None:
    s = provisioned(settings, f"k{unique}")
    p, canonical, dupes = simulation(20_000)
    produce_events(s, [*canonical, *dupes])
    cmd = [sys.executable, "-m", "simpul", "sink", "store", "--store-url", store_url, "--batch-size", "2000",
           "--loglevel", "warning"]
    proc = subprocess.Popen(cmd, env=sink_env(s), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen = 0
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                seen = sum(v for k, v in store_counts(store_url).items() if k.startswith("events_"))
            except sa.exc.DBAPIError:  # tables not created yet
                seen = 0
            if seen > 0:
                break
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert 0 < seen < len(canonical), f"killed after {seen} of {len(canonical)} events (want mid-way)"
    assert proc.returncode == -signal.SIGKILL

    run_sink(s, store_url, "--once", "--batch-size", "2000")
    sr, cp = expected_cases(canonical)
    got = store_counts(store_url)
    assert got == {**{f"events_{f}": p.manifest.events[f] for f in FAMILIES}, "service_requests": sr,
                   "complaints": cp, "aggregates": 0, "alerts": 0, "alert_deliveries": 0}
    engine = connect(store_url)
    try:
        with engine.connect() as conn:
            ids = []
            for f in FAMILIES:
                ids += [r for (r,) in conn.execute(sa.select(TABLES[f"events_{f}"].c.event_id))]
    finally:
        engine.dispose()
    assert len(ids) == len(set(ids)) == len({str(e.event_id) for e in canonical})
