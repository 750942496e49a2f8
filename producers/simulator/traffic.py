"""The assembly of a plan: `plan(N, seed, faults)` -> the ordered records to send and their manifest.

The anomalies come first (they reserve the pairs, series and station-hours clean traffic must then avoid), then
clean cases from the per-domain factories (`producers.simulator.factories`), duplicates, the order of sending,
and the manifest counted from the records; the records themselves are the plan model (`model.py`).

Nothing here reads the clock, the network or global randomness: one `random.Random(seed)` drives every choice,
timestamps are a fixed base time plus seeded offsets, and event ids are UUIDs drawn from the same generator, so
the same arguments give the same records and a byte-identical manifest on every machine.

Clean traffic keeps the spec's "Simulator guarantees" (it raises no alert and fills no DLQ); every injected
anomaly is its own fresh case, series or subject and is meant to raise exactly one alert or one DLQ record, which
the planned record names (`alert`, `alert_subject`, `dlq_reason`).
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import fastavro

from producers.simulator.factories import INERT_KINDS, KINDS, Traffic
from producers.simulator.factories.complaints import SPIKE_MIN_COUNT
from producers.simulator.factories.draw import MS_DAY, MS_HOUR
from producers.simulator.factories.services import SERVICE_WEIGHTS
from producers.simulator.faults import FAULTS, FaultMix
from producers.simulator.manifest import Manifest, Via
from producers.simulator.model import BASE_TIME, WINDOW, Expect, Plan, PlanError, PlannedRecord, nik_token
from producers.simulator.regions import regions
from schemas.catalog import FAMILIES, event_types
from schemas.models import Event
from schemas.outcomes import AlertRule, GatewayRejection, RejectReason
from schemas.reference import standard_for


# ---- drafts: mutable while the plan is assembled ----------------------------------------------------------------

@dataclass
class _Draft:
    event: Event
    send_ms: int
    ingress: str = ""
    expect: Expect = Expect.EVENT
    raw: bytes | None = None
    override: dict[str, Any] | None = None
    dlq_reason: RejectReason | None = None
    gateway_rejection: GatewayRejection | None = None
    fault: str | None = None
    alert: AlertRule | None = None
    alert_subject: tuple[str, ...] | None = None
    group: str | None = None  # bursts and double payments: the alert goes to the n-th record in plan order
    late: bool = False
    seq: int = -1
    duplicate_of: int | None = None

    def __post_init__(self) -> None:
        self.ingress = self.ingress or self.event.regency_code


def _ms(event: Event, base: datetime) -> int:
    return (event.occurred_at - base) // timedelta(milliseconds=1)


def _invalid_override(gen: Traffic, event: Event) -> dict[str, Any]:
    """A value Avro writes but the model refuses (a rule of the contract, not of the wire format)."""
    if event.event_type == "StapleFoodPriceObserved":
        return {"price_idr": -event.price_idr}  # type: ignore[attr-defined]
    if event.event_type == "HealthFacilityVisit":
        return {"patient_nik": event.patient_nik[:8]}  # type: ignore[attr-defined]
    if event.event_type == "SocialAidDisbursed":
        return {"period": f"{gen.draw.year}-13"}
    if event.event_type == "SchoolAdmissionApplied":
        return {"school_level": "SD", "route": "PRESTASI"}  # no merit route at SD
    # -- infrastructure --
    if event.event_type == "RoadDamageReported":
        return {"latitude": 3.5952, "longitude": 98.6722}  # Medan: a valid place, outside Central Java
    if event.event_type == "PublicWorksProgress":
        return {"payment_pct": 100.0 + gen.draw.rng.randrange(5, 50)}
    return {"service_code": "SIM_C"}  # a police service that is not in the regency standards catalog


def _garbage(gen: Traffic, event: Event) -> bytes:
    """Bytes a misconfigured client would send: JSON text, or Avro without the Confluent header."""
    if gen.draw.rng.random() < 0.5:
        return json.dumps(event.model_dump(mode="json"), sort_keys=True).encode()
    body = io.BytesIO()
    fastavro.schemaless_writer(body, type(event).event_schema.parsed, event.to_avro())
    return body.getvalue()


def plan(events: int, seed: int, faults: FaultMix | None = None, base_time: datetime = BASE_TIME, *,
         via: Via = "sdk", nik_hmac_key: str) -> Plan:
    """Plan exactly `events` records (faults and duplicates included) for `seed`; pure and reproducible.

    `nik_hmac_key` is the installation's NIK key (`Settings.secret("nik_hmac_key")`): the plan names the tokens
    the gatekeeper will mint (alert subjects of double payments); there is no default key."""
    if events < 0:
        raise PlanError("--events must be >= 0")
    faults = faults if faults is not None else FaultMix()
    base = base_time.astimezone(UTC)
    gen = Traffic(seed, base, nik_hmac_key)
    counts = faults.counts(events)
    drafts: list[_Draft] = []

    def add(evs: Sequence[Event], **kw: Any) -> list[_Draft]:
        out = [_Draft(e, _ms(e, base), **kw) for e in evs]
        drafts.extend(out)
        return out

    # Anomalies first: they reserve the pairs, series and station-hours that clean traffic must then avoid.
    _inject_anomalies(gen, counts, add)
    remaining = events - len(drafts) - counts["duplicates"]
    if remaining < 0:
        raise PlanError(f"the fault mix needs {len(drafts) + counts['duplicates']} records but --events is {events}; "
                        "raise --events or lower the fault percentages")
    # Clean traffic: first one case per regency cycling through the kinds (so every regency and event type
    # appears), then cases drawn by kind and population; the last case is cut to fit N exactly.
    kinds = list(KINDS)
    queue = [(kinds[i % len(kinds)], code) for i, code in enumerate(gen.draw.codes)]
    while remaining > 0:
        kind, reg = queue.pop(0) if queue else (gen.draw.pick(KINDS), gen.draw.regency())
        evs = gen.case(kind, reg)[:remaining]
        add(evs)
        remaining -= len(evs)

    for i, d in enumerate(drafts):
        d.seq = i
    ordered = sorted(drafts, key=lambda d: (d.send_ms, d.seq))
    window_end = WINDOW // timedelta(milliseconds=1)
    eligible = [d for d in ordered if d.expect is Expect.EVENT and not d.late and d.send_ms < window_end]
    if counts["duplicates"] and not eligible:
        raise PlanError("no valid record to duplicate: raise --events")
    for _ in range(counts["duplicates"]):
        original = gen.draw.rng.choice(eligible)
        drafts.append(_Draft(original.event, original.send_ms + gen.draw.rng.randint(1_000, 2 * MS_HOUR),
                             expect=Expect.DUPLICATE, fault="duplicates", seq=len(drafts),
                             duplicate_of=original.seq))
    ordered = sorted(drafts, key=lambda d: (d.send_ms, d.seq))
    _assign_group_alerts(ordered)
    records = tuple(_freeze(d, base) for d in ordered)
    return Plan(records, _manifest(records, seed, events, faults, counts, base, via))


def _inject_anomalies(gen: Traffic, counts: dict[str, int], add: Callable[..., list[_Draft]]) -> None:
    """Every fault but duplicates, each anomaly a fresh case/series/subject, marked with what it must raise."""
    for n in range(counts["complaint_burst"]):
        evs, subject = gen.complaints.burst()
        add(evs, fault="complaint_burst", group=f"burst:{n}", alert_subject=subject)
    for _ in range(counts["price_jump"]):
        evs, subject = gen.prices.jump()
        *_, jump = add(evs, fault="price_jump")
        jump.alert, jump.alert_subject = AlertRule.PRICE_JUMP, subject
    for _ in range(counts["air_quality"]):
        evs, subject = gen.air.exceedance()
        (reading,) = add(evs, fault="air_quality")
        reading.alert, reading.alert_subject = AlertRule.AIR_QUALITY, subject
    for n in range(counts["double_aid"]):
        evs, (nik, programme, period) = gen.aid.double_payment()
        subject = (nik_token(gen.draw.nik_key, nik), programme, period)
        add(evs, fault="double_aid", group=f"aid:{n}", alert_subject=subject)
    for _ in range(counts["complaint_overdue"]):
        evs, subject = gen.complaints.overdue_case(gen.draw.regency())
        *_, last = add(evs, fault="complaint_overdue")
        last.alert, last.alert_subject = AlertRule.COMPLAINT_OVERDUE, subject
    for _ in range(counts["sla_breach"]):
        reg = gen.draw.regency()
        service = gen.draw.rng.choice(sorted(s for s in SERVICE_WEIGHTS if standard_for(s, reg).completion_time_hours))
        evs = gen.services.case(reg, sla_factor=gen.draw.rng.uniform(1.2, 3.5), service=service)
        *_, done = add(evs, fault="sla_breach")
        done.alert, done.alert_subject = AlertRule.SLA_BREACH, (reg, done.event.case_id)
    for _ in range(counts["fee_above_tariff"]):
        reg = gen.draw.regency()
        tariffed = sorted(s for s in SERVICE_WEIGHTS if standard_for(s, reg).official_fee_idr is not None)
        service = gen.draw.rng.choice(tariffed)
        evs = gen.services.case(reg, fee_extra=gen.draw.rng.randrange(4, 60) * 5_000, service=service)
        submitted, *_ = add(evs, fault="fee_above_tariff")
        submitted.alert, submitted.alert_subject = AlertRule.FEE_ABOVE_TARIFF, (reg, submitted.event.case_id)
    # -- education --
    for _ in range(counts["admission_over_quota"]):
        evs, subject = gen.schools.over_quota(gen.draw.regency())
        *_, beyond = add(evs, fault="admission_over_quota")  # one alert per school x route, whichever decision
        beyond.alert, beyond.alert_subject = AlertRule.ADMISSION_OVER_QUOTA, subject
    for _ in range(counts["admission_late"]):
        evs, subject = gen.schools.after_deadline(gen.draw.regency())
        *_, late = add(evs, fault="admission_late")
        late.alert, late.alert_subject = AlertRule.ADMISSION_AFTER_DEADLINE, subject
    for n in range(counts["double_admission"]):
        rest, decisions, nik, level = gen.schools.double_admission()
        add(rest, fault="double_admission")
        add(decisions, fault="double_admission", group=f"admit:{n}",
            alert_subject=(nik_token(gen.draw.nik_key, nik), level, str(gen.draw.year)))
    # -- infrastructure --
    for _ in range(counts["road_overdue"]):
        evs, subject = gen.roads.overdue_case(gen.draw.regency())
        _, crew, _ = add(evs, fault="road_overdue")
        crew.alert, crew.alert_subject = AlertRule.ROAD_HANDLING_OVERDUE, subject
    for _ in range(counts["payment_ahead"]):
        evs, subject = gen.works.ahead_case(gen.draw.regency())
        *_, ahead = add(evs, fault="payment_ahead")
        ahead.alert, ahead.alert_subject = AlertRule.PAYMENT_AHEAD_OF_PROGRESS, subject
    for _ in range(counts["late"]):
        reg, send = gen.draw.regency(), gen.draw.moment()
        ms = send - 2 * MS_DAY - gen.draw.rng.randrange(28 * MS_DAY)
        kind = gen.draw.rng.choice((*INERT_KINDS, "air"))
        (late,) = add([gen.single(kind, reg, ms)], fault="late", late=True)
        late.send_ms = send
    for _ in range(counts["spoofing"]):
        owner = gen.draw.regency()
        writer = gen.draw.regency(exclude=owner)
        add([gen.single(gen.draw.rng.choice(INERT_KINDS), owner)], fault="spoofing", ingress=writer, expect=Expect.DLQ,
            dlq_reason=RejectReason.REGENCY_MISMATCH, gateway_rejection=GatewayRejection.REGENCY_FORBIDDEN)
    undecodable = (counts["invalid"] + 1) // 2
    for i in range(counts["invalid"]):
        reg = gen.draw.regency()
        if i < undecodable:
            base_event = gen.single(gen.draw.rng.choice(("health", "tourism", "disaster", "aid")), reg)
            add([base_event], fault="invalid", expect=Expect.DLQ, raw=_garbage(gen, base_event),
                override={"occurred_at": "kemarin sore"}, dlq_reason=RejectReason.UNDECODABLE,
                gateway_rejection=GatewayRejection.INVALID_EVENT)
        else:
            kind = gen.draw.rng.choice(("price", "health", "aid", "service", "school", "road", "works"))
            base_event = gen.services.case(reg)[0] if kind == "service" else gen.single(kind, reg)
            add([base_event], fault="invalid", expect=Expect.DLQ, override=_invalid_override(gen, base_event),
                dlq_reason=RejectReason.INVALID_EVENT, gateway_rejection=GatewayRejection.INVALID_EVENT)


def _assign_group_alerts(ordered: list[_Draft]) -> None:
    """Bursts alert at their 10th complaint, double payments at the second payment, double admissions at the second
    admission, in plan order."""
    seen: Counter[str] = Counter()
    for d in ordered:
        if d.group is None or d.expect is not Expect.EVENT:
            continue
        seen[d.group] += 1
        kind = d.group.split(":")[0]
        if (kind, seen[d.group]) in (("burst", SPIKE_MIN_COUNT), ("aid", 2), ("admit", 2)):
            d.alert = {"burst": AlertRule.COMPLAINT_SPIKE, "aid": AlertRule.AID_DOUBLE_PAYMENT,
                       "admit": AlertRule.ADMISSION_DOUBLE}[kind]


def _freeze(d: _Draft, base: datetime) -> PlannedRecord:
    return PlannedRecord(
        seq=d.seq, ingress=d.ingress, key=d.event.ordering_key.encode(), event=d.event, expect=d.expect,
        send_at=base + timedelta(milliseconds=d.send_ms), raw=d.raw, override=d.override, dlq_reason=d.dlq_reason,
        gateway_rejection=d.gateway_rejection, fault=d.fault, alert=d.alert,
        alert_subject=d.alert_subject if d.alert else None, duplicate_of=d.duplicate_of, late=d.late)


def _manifest(records: Sequence[PlannedRecord], seed: int, requested: int, faults: FaultMix, counts: dict[str, int],
              base: datetime, via: Via) -> Manifest:
    """Count the plan's records into the spec's manifest (every key present, subjects sorted)."""
    valid = [r for r in records if r.expect is Expect.EVENT]
    rejected = [r for r in records if r.expect is Expect.DLQ]
    families = Counter(r.family for r in valid)
    types = Counter(r.event_type for r in valid)
    by_regency = Counter(r.event.regency_code for r in valid)
    ingress = Counter(r.ingress for r in records)
    dlq = Counter(r.dlq_reason for r in rejected)
    gateway = Counter(r.gateway_rejection for r in rejected)
    subjects: dict[str, list[list[str]]] = {rule.value: [] for rule in AlertRule}
    for r in records:
        if r.alert is not None and r.alert_subject is not None:
            subjects[r.alert.value].append(list(r.alert_subject))
    codes = sorted(regions())
    return Manifest(
        seed=seed,
        events={f: families[f] for f in FAMILIES},
        dlq={reason.value: dlq[reason] if via == "sdk" else 0 for reason in RejectReason},
        alerts={rule: len(v) for rule, v in subjects.items()},
        duplicates_sent=sum(1 for r in records if r.expect is Expect.DUPLICATE),
        gateway_rejected={g.value: gateway[g] for g in GatewayRejection} if via == "http" else None,
        regencies={c: by_regency[c] for c in codes},
        expected_alert_subjects={rule: sorted(v) for rule, v in subjects.items()},
        total_sent=len(records),
        via=via, requested_events=requested, base_time=base, fault_mix=faults.model_dump(),
        injected={f: counts[f] for f in FAULTS},
        events_by_type={t: types[t] for t in event_types()},
        ingress={c: ingress[c] for c in codes},
        late_events=sum(1 for r in valid if r.late),
    )

__all__ = ["BASE_TIME", "WINDOW", "Expect", "Plan", "PlanError", "PlannedRecord", "nik_token", "plan"]
