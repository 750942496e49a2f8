"""Roads and public works through the real pipeline: a seeded simulation heavy in road reports and works contracts,
with planted late handlings, payments ahead of progress, invalid and spoofed records and duplicates, runs through
the gatekeeper, the alerts processor and the store sink (subprocesses, as an operator runs them).

The canonical topics must hold exactly the manifest's events, the DLQ exactly its rejects (the infrastructure ones
naming their field), the alerts exactly the planted subjects; the store then answers `simpul report --measure
roads|works` with what the plan's own events say. A clean run of the same kind raises no alert.
"""

from __future__ import annotations

import collections
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import harness as h
from consumers.infrastructure import build_road_rows, build_works_rows
from producers.simulator import FaultMix, plan
from producers.simulator.send import send_sdk
from producers.simulator.traffic import Expect, Plan
from schemas.outcomes import AlertRule
from schemas.records import Alert
from simpul import bootstrap
from simpul.cli import app
from simpul.settings import Settings
from streams.alerts.app import unpack

pytestmark = pytest.mark.integration

EVENTS = 900
SEED = 20250304
INFRA_TYPES = ("RoadDamageReported", "RoadDamageHandled", "PublicWorksProgress")
# Only the infrastructure anomalies, plus the faults every run has (so the DLQ and dedup paths are exercised).
MIX = FaultMix.clean().model_copy(update={"road_overdue": 1.0, "payment_ahead": 1.0, "invalid": 3.0,
                                          "spoofing": 0.5, "duplicates": 2.0})


@pytest.fixture
def pipeline(settings: Settings, tmp_path: Path) -> Iterator[h.Pipeline]:
    p = h.Pipeline(settings, f"in{uuid.uuid4().hex[:8]}", tmp_path / "state")
    p.store_url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    p.provision()
    try:
        yield p
    finally:
        p.stop_all()
        print(p.tails())
        p.cleanup()


def _send(p: h.Pipeline, pl: Plan) -> None:
    send_sdk(pl.records, kafka=p.settings.kafka, codec=bootstrap.codec(p.settings), topic_prefix=p.prefix,
             show_progress=False)


def forwarded(settings: Settings, repartition: str) -> int:
    """Records the alerts processor's first stage forwarded (packed several to a repartition message)."""
    return sum(1 for x in h.read_all(settings, [repartition]) for _ in unpack(x.value(), x.key()))


def _outputs(p: h.Pipeline) -> list[str]:
    return [*p.events, p.topics.dlq.name]


def test_roads_and_works_run_exactly_as_the_manifest_says(pipeline: h.Pipeline, tmp_path: Path) -> None:
    started = time.monotonic()
    p = pipeline
    pl = plan(EVENTS, SEED, MIX, nik_hmac_key=p.settings.secret("nik_hmac_key"))
    m = pl.manifest
    valid = [r.event for r in pl.records if r.expect is Expect.EVENT]
    types = collections.Counter(type(e).event_type for e in valid)
    assert all(types[t] >= 20 for t in INFRA_TYPES), types
    assert m.alerts[AlertRule.ROAD_HANDLING_OVERDUE] == m.alerts[AlertRule.PAYMENT_AHEAD_OF_PROGRESS] == 9
    assert sum(m.alerts.values()) == 18 and m.duplicates_sent and m.dlq["invalid_event"] and m.dlq["undecodable"]
    bootstrap.store_engine(p.settings, p.store_url).dispose()  # migrate the fresh store once
    for name in ("gatekeeper", "alerts", "sink-store"):
        p.start(name)
    _send(p, pl)

    # canonical topics: exactly the unique valid events, per family; the DLQ: exactly the rejects
    h.wait_for("the gatekeeper's output", lambda: h.count(p.settings, _outputs(p)) >= sum(m.events.values())
               + sum(m.dlq.values()), timeout=180, alive=p.alive)
    canonical = h.read_all(p.settings, p.events)
    ids = collections.Counter(h.headers(r)["simpul.event_id"] for r in canonical)
    assert set(ids) == {str(e.event_id) for e in valid} and set(ids.values()) == {1}
    per_family = collections.Counter(r.topic().rsplit(".", 1)[1] for r in canonical)
    assert {f: per_family.get(f, 0) for f in m.events} == m.events
    dlq = h.read_all(p.settings, [p.topics.dlq.name])
    reasons = collections.Counter(h.headers(r)["simpul.reason"] for r in dlq)
    assert {r: reasons.get(r, 0) for r in m.dlq} == m.dlq
    infra_rejects = [r for r in pl.records if r.expect is Expect.DLQ and r.raw is None and r.override
                     and r.event_type in INFRA_TYPES]
    assert infra_rejects
    messages = [h.headers(r)["simpul.reason_message"] for r in dlq]
    for r in infra_rejects:
        field = "payment_pct" if r.event_type == "PublicWorksProgress" else "latitude"
        assert any(r.event_type in msg and field in msg for msg in messages), (r.event_type, messages)

    # alerts: exactly the planted subjects, each once
    expected = sum(m.alerts.values())
    repartition = f"{p.prefix}-alerts-subjects-repartition"
    h.wait_for("the alerts", lambda: h.count(p.settings, [p.topics.alerts.name]) >= expected
               and forwarded(p.settings, repartition) >= len(valid)
               and h.lag(p.settings, p.group("alerts"), [*p.events, repartition]) == 0, timeout=180, alive=p.alive)
    alerts = [Alert.model_validate_json(r.value()) for r in h.read_all(p.settings, [p.topics.alerts.name])]
    assert len({a.alert_id for a in alerts}) == len(alerts)
    assert {rule: sorted(a.subject for a in alerts if a.rule == rule) for rule in m.alerts} == \
        {rule: sorted(s) for rule, s in m.expected_alert_subjects.items()}

    # the store and the report: what the plan's own events say, per regency
    total = sum(m.events.values())
    h.wait_for("the store", lambda: sum(v for k, v in h.store_counts(p.store_url).items()
                                        if k.startswith("events_")) >= total, timeout=180, alive=p.alive)
    stored = [(type(e).event_type, e.regency_code, e.case_id, e.occurred_at, json.loads(e.model_dump_json()))
              for e in valid if type(e).event_type in INFRA_TYPES]
    env = {"SIMPUL_STATE_DIR": str(tmp_path / "cli")}
    roads = CliRunner().invoke(app, ["report", "--store-url", p.store_url, "--measure", "roads", "--json"], env=env)
    works = CliRunner().invoke(app, ["report", "--store-url", p.store_url, "--measure", "works", "--json"], env=env)
    assert roads.exit_code == 0 and works.exit_code == 0, roads.output + works.output
    road_rows, works_rows = json.loads(roads.stdout), json.loads(works.stdout)
    assert road_rows == [r.as_dict() for r in build_road_rows(stored)]
    assert works_rows == [r.as_dict() for r in build_works_rows(stored)]
    assert sum(r["handled_late"] for r in road_rows) == m.alerts[AlertRule.ROAD_HANDLING_OVERDUE]
    assert sum(r["contracts_payment_ahead"] for r in works_rows) == m.alerts[AlertRule.PAYMENT_AHEAD_OF_PROGRESS]
    assert any(r["median_hours_to_repair"] for r in road_rows)
    print(f"infrastructure run: {EVENTS} records, {len(alerts)} alerts, {time.monotonic() - started:.1f}s")


def test_a_clean_run_with_roads_and_works_raises_no_alert(pipeline: h.Pipeline) -> None:
    p = pipeline
    pl = plan(600, SEED + 1, FaultMix.clean(), nik_hmac_key=p.settings.secret("nik_hmac_key"))
    valid = sum(pl.manifest.events.values())
    assert sum(pl.manifest.alerts.values()) == 0 and len(pl.records) == valid
    assert {type(r.event).event_type for r in pl.records} >= set(INFRA_TYPES)
    for name in ("gatekeeper", "alerts"):
        p.start(name)
    _send(p, pl)
    h.wait_for("the gatekeeper's output", lambda: h.count(p.settings, p.events) >= valid, timeout=180, alive=p.alive)
    repartition = f"{p.prefix}-alerts-subjects-repartition"
    h.wait_for("the alerts processor", lambda: forwarded(p.settings, repartition) >= valid
               and h.lag(p.settings, p.group("alerts"), [*p.events, repartition]) == 0, timeout=180, alive=p.alive)
    assert h.count(p.settings, [p.topics.dlq.name]) == 0
    alerts = [Alert.model_validate_json(r.value()) for r in h.read_all(p.settings, [p.topics.alerts.name])]
    assert alerts == [], [(a.rule, a.subject) for a in alerts[:5]]
