"""SPMB school admission through the real pipeline: a seeded simulation whose faults are the education anomalies
(plus invalid records and duplicates) runs through the gatekeeper, alerts, aggregates and store sink, each a
subprocess on the test platform, and the outputs equal the manifest exactly: the canonical topics hold the
manifest's events (the SPMB types counted per type), the DLQ its rejects (an SD merit application among them,
named by field), the alerts exactly the planted subjects (the clean schools of the same run raise none), the
aggregates add up, and `simpul report --measure admissions` on the store counts what the plan admitted."""

from __future__ import annotations

import collections
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import harness as h
from consumers.admissions import admissions
from producers.simulator import FaultMix, plan
from producers.simulator.model import Expect
from producers.simulator.send import send_sdk
from schemas.codec import AvroCodec
from schemas.outcomes import AlertRule
from schemas.records import Aggregate, Alert
from simpul import bootstrap
from streams.alerts.app import unpack
from simpul.cli import app
from simpul.settings import Settings

pytestmark = pytest.mark.integration

EVENTS = 1200
SEED = 23
EDUCATION = ("admission_over_quota", "admission_after_deadline", "admission_double")
SPMB = ("SchoolQuotaPublished", "SchoolAdmissionApplied", "SchoolAdmissionDecided")


@pytest.fixture
def pipeline(settings: Settings, tmp_path: Path) -> Iterator[h.Pipeline]:
    p = h.Pipeline(settings, f"edu{uuid.uuid4().hex[:8]}", tmp_path / "state")
    p.store_url = f"sqlite:///{p.state / 'store.sqlite'}"
    p.provision()
    bootstrap.store_engine(p.settings, p.store_url).dispose()
    try:
        yield p
    finally:
        p.stop_all()
        print(p.tails())
        p.cleanup()


def mix() -> FaultMix:
    return FaultMix(**{**FaultMix.clean().model_dump(), "admission_over_quota": 0.2, "admission_late": 0.2,
                       "double_admission": 0.2, "invalid": 1.0, "duplicates": 2.0})


@pytest.mark.timeout(600)
def test_a_seeded_spmb_run_equals_its_manifest_through_the_pipeline(pipeline: h.Pipeline, tmp_path: Path) -> None:
    started = time.monotonic()
    p, s = pipeline, pipeline.settings
    planned = plan(EVENTS, SEED, mix(), nik_hmac_key=s.secret("nik_hmac_key"))
    m = planned.manifest
    assert all(m.alerts[r] > 0 for r in EDUCATION) and sum(m.alerts.values()) == sum(m.alerts[r] for r in EDUCATION)
    sd_merit = [r for r in planned.records if r.expect is Expect.DLQ and r.event_type == "SchoolAdmissionApplied"
                and r.override == {"school_level": "SD", "route": "PRESTASI"}]
    assert sd_merit, "the seed must plan an invalid SPMB application"
    for name in ("gatekeeper", "alerts", "aggregates", "sink-store"):
        p.start(name)
    send_sdk(planned.records, kafka=s.kafka, codec=AvroCodec.from_url(s.registry), topic_prefix=p.prefix,
             show_progress=False)
    valid = [r.event for r in planned.records if r.expect is Expect.EVENT]
    h.wait_for("the gatekeeper's output", lambda: h.count(s, [*p.events, p.topics.dlq.name]) >= len(valid) + sum(
        m.dlq.values()), alive=p.alive)

    # canonical topics: exactly the manifest's events, per family and per SPMB type
    canonical = h.read_all(s, p.events)
    ids = collections.Counter(h.headers(x)["simpul.event_id"] for x in canonical)
    assert set(ids) == {str(e.event_id) for e in valid} and set(ids.values()) == {1}
    assert dict(collections.Counter(x.topic().rsplit(".", 1)[1] for x in canonical)) == {
        f: n for f, n in m.events.items() if n}
    types = collections.Counter(h.headers(x)["simpul.event_type"] for x in canonical)
    assert {t: types[t] for t in SPMB} == {t: m.events_by_type[t] for t in SPMB} and all(types[t] for t in SPMB)

    # the DLQ: exactly its rejects; the SD merit applications named by their field
    dlq = h.read_all(s, [p.topics.dlq.name])
    reasons = collections.Counter(h.headers(x)["simpul.reason"] for x in dlq)
    assert {r: reasons.get(r, 0) for r in m.dlq} == m.dlq
    named = [h.headers(x)["simpul.reason_message"] for x in dlq
             if "SchoolAdmissionApplied" in h.headers(x)["simpul.reason_message"]]
    assert len(named) == len(sd_merit) and all("route" in msg and "is not an SPMB route of SD" in msg for msg in named)

    # alerts: each planted anomaly once, nothing from the clean schools
    h.wait_for("the alerts", lambda: h.count(s, [p.topics.alerts.name]) >= sum(m.alerts.values()), alive=p.alive)
    h.wait_for("the alerts processor to catch up", lambda: h.lag(s, p.group("alerts"), [
        *p.events, f"{p.prefix}-alerts-subjects-repartition"]) == 0 and sum(  # records, packed per message
        1 for x in h.read_all(s, [f"{p.prefix}-alerts-subjects-repartition"]) for _ in unpack(x.value(), x.key())
    ) >= len(valid), alive=p.alive)
    alerts = [Alert.model_validate_json(x.value()) for x in h.read_all(s, [p.topics.alerts.name])]
    assert len({a.alert_id for a in alerts}) == len(alerts)
    got = {rule.value: sorted(a.subject for a in alerts if a.rule == rule) for rule in AlertRule}
    assert got == {rule: sorted(subjects) for rule, subjects in m.expected_alert_subjects.items()}

    # aggregates: the day windows of agg.school_admissions add up to the decisions
    decisions = collections.Counter(e.decision for e in valid if type(e).event_type == "SchoolAdmissionDecided")  # type: ignore[attr-defined]

    def day_windows() -> dict[bytes, Aggregate]:
        latest = {x.key(): Aggregate.model_validate_json(x.value())
                  for x in h.read_all(s, [p.topics.agg("school_admissions").name])}
        return {k: a for k, a in latest.items() if a.window == "1d"}

    h.wait_for("the admissions aggregates", lambda: sum(a.values.get("admitted", 0) for a in day_windows().values())
               == decisions["ADMITTED"], alive=p.alive)
    day = day_windows().values()
    assert sum(a.values.get("rejected", 0) for a in day) == decisions["REJECTED"]
    assert sum(a.values.get("applied", 0) for a in day) == m.events_by_type["SchoolAdmissionApplied"]

    # the store and the report: admitted per regency x route of the SMA level, against the planted over-quota schools
    engine = bootstrap.store_engine(p.settings, p.store_url)
    h.wait_for("the store sink", lambda: h.lag(s, p.group("sink-store"), p.events) == 0 and sum(
        r.applied for r in admissions(engine, level="SMA")) == sum(
        1 for e in valid if type(e).event_type == "SchoolAdmissionApplied" and e.school_level == "SMA"),  # type: ignore[attr-defined]
        alive=p.alive)
    expected: collections.Counter[tuple[str, str]] = collections.Counter(
        (e.regency_code, e.route) for e in valid  # type: ignore[attr-defined]
        if type(e).event_type == "SchoolAdmissionDecided" and e.school_level == "SMA"  # type: ignore[attr-defined]
        and e.decision == "ADMITTED")  # type: ignore[attr-defined]
    result = CliRunner().invoke(app, ["report", "--measure", "admissions", "--store-url", p.store_url, "--json"],
                                env={"SIMPUL_STATE_DIR": str(p.state)})
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    assert {(r["regency_code"], r["route"]): r["admitted"] for r in rows if r["admitted"]} == dict(expected)
    over = collections.Counter((reg, route) for reg, _, level, _, route in m.expected_alert_subjects[
        "admission_over_quota"] if level == "SMA")
    assert {(r["regency_code"], r["route"]): r["schools_over_quota"] for r in rows if r["schools_over_quota"]} == \
        dict(over)
    assert all(r["quota_seats"] > 0 for r in rows) and {r["school_level"] for r in rows} == {"SMA"}
    engine.dispose()
    print(f"spmb run: {EVENTS} records, {len(alerts)} alerts, {time.monotonic() - started:.1f}s")
