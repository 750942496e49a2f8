"""Alert rules as pure functions over typed events and a small state mapping, configured by rules.yaml.

A rule reads an event through its attributes only: the worker hands it the decoded datum (`schemas.datum.EventView`,
no pydantic model per record), the tests the model or the view; both raise the same alerts.

Every rule has the signature `rule(event, config, state) -> list[Alert]`; `state` is a mutable mapping of JSON
values (a Faust table in the worker, a dict in tests) keyed by the rule's subject. State updates are idempotent
per event id where a replay could otherwise change the outcome (spike counts, price series, aid payers).
Which events share state is decided by `partition_key`, which the worker uses to repartition the stream.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, MutableMapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas import reference
from schemas.reference import roads
from schemas.datum import EventView
from schemas.models import Event
from schemas.outcomes import AlertRule
from streams.config import DEFAULT_RULES_FILE
from streams.exceptions import RulesConfigError
from schemas.records import Alert, Severity, alert_id
from topics.catalog import parse_duration_ms

State = MutableMapping[str, Any]
AnyEvent = Event | EventView  # the model, or the canonical datum seen through the model's attribute names


# ---- configuration ---------------------------------------------------------------------------------------------

class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    enabled: bool = True
    severity: Severity = "warning"


class SlaBreachRule(_Rule):
    critical_severity: Severity = "critical"
    critical_multiple: float = Field(default=2.0, gt=1)


class FeeAboveTariffRule(_Rule):
    severity: Severity = "critical"


class ComplaintOverdueRule(_Rule):
    pass


class ComplaintSpikeRule(_Rule):
    min_count: int = Field(default=10, ge=1)
    multiple: float = Field(default=3.0, gt=0)
    baseline_hours: int = Field(default=24, ge=1)
    window: str = "1h"
    keep_ids: int = Field(default=1000, ge=1, description="event ids kept per window (idempotent counting)")

    @property
    def window_seconds(self) -> int:
        return parse_duration_ms(self.window) // 1000


class AirQualityRule(_Rule):
    critical_severity: Severity = "critical"
    pm25: float = 55.4
    pm10: float = 150.0
    pm25_critical: float = 150.4
    pm10_critical: float = 350.0
    window: str = "1h"

    @property
    def window_seconds(self) -> int:
        return parse_duration_ms(self.window) // 1000


class PriceJumpRule(_Rule):
    jump_ratio: float = Field(default=1.20, gt=1)
    trailing: int = Field(default=5, ge=1)
    min_history: int = Field(default=3, ge=1)


class AidDoublePaymentRule(_Rule):
    severity: Severity = "critical"
    min_regencies: int = Field(default=2, ge=2)


class AdmissionOverQuotaRule(_Rule):
    severity: Severity = "critical"


class AdmissionAfterDeadlineRule(_Rule):
    pass


class AdmissionDoubleRule(_Rule):
    min_schools: int = Field(default=2, ge=2)


# -- infrastructure --
class RoadHandlingOverdueRule(_Rule):
    critical_severity: Severity = "critical"
    critical_multiple: float = Field(default=3.0, gt=1)


class PaymentAheadOfProgressRule(_Rule):
    margin_pct: float = Field(default=0.0, ge=0, le=100, description="points of payment over progress tolerated")
    critical_severity: Severity = "critical"
    critical_gap_pct: float = Field(default=20.0, gt=0, le=100)


class RulesConfig(BaseModel):
    """rules.yaml; a rule missing from the file is disabled."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sla_breach: SlaBreachRule = SlaBreachRule(enabled=False)
    fee_above_tariff: FeeAboveTariffRule = FeeAboveTariffRule(enabled=False)
    complaint_overdue: ComplaintOverdueRule = ComplaintOverdueRule(enabled=False)
    complaint_spike: ComplaintSpikeRule = ComplaintSpikeRule(enabled=False)
    air_quality: AirQualityRule = AirQualityRule(enabled=False)
    price_jump: PriceJumpRule = PriceJumpRule(enabled=False)
    aid_double_payment: AidDoublePaymentRule = AidDoublePaymentRule(enabled=False)
    admission_over_quota: AdmissionOverQuotaRule = AdmissionOverQuotaRule(enabled=False)
    admission_after_deadline: AdmissionAfterDeadlineRule = AdmissionAfterDeadlineRule(enabled=False)
    admission_double: AdmissionDoubleRule = AdmissionDoubleRule(enabled=False)
    # -- infrastructure --
    road_handling_overdue: RoadHandlingOverdueRule = RoadHandlingOverdueRule(enabled=False)
    payment_ahead_of_progress: PaymentAheadOfProgressRule = PaymentAheadOfProgressRule(enabled=False)


def rules_source(path: Path | str | None = None) -> Path:
    """The rules file `load_rules(path)` reads."""
    return Path(path) if path is not None else DEFAULT_RULES_FILE


def rules_digest(path: Path | str | None = None) -> str:
    """SHA-256 (hex) of the rules file's bytes: what the ops audit trail records when the rules change. Plain, not
    keyed: the rules are not secret, and anyone holding the file can check the digest."""
    source = rules_source(path)
    try:
        return hashlib.sha256(source.read_bytes()).hexdigest()
    except OSError as exc:
        raise RulesConfigError(f"cannot read the alert rules {source}: {exc}") from exc


def load_rules(path: Path | str | None = None) -> RulesConfig:
    """Read and check a rules file (streams/rules.yaml by default)."""
    source = rules_source(path)
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise RulesConfigError(f"cannot read the alert rules {source}: {exc}") from exc
    rules = raw.get("rules") if isinstance(raw, dict) else None
    if not isinstance(rules, dict):
        raise RulesConfigError(f"{source}: expected a mapping with `rules:` (one entry per rule)")
    unknown = sorted(set(rules) - {r.value for r in AlertRule})
    if unknown:
        raise RulesConfigError(f"{source}: unknown rule(s) {unknown}; known: {', '.join(r.value for r in AlertRule)}")
    try:
        return RulesConfig.model_validate({name: (body or {}) for name, body in rules.items()})
    except ValidationError as exc:
        raise RulesConfigError(f"{source}: {exc}") from exc


# ---- helpers ---------------------------------------------------------------------------------------------------

def _utc(ts: datetime) -> datetime:
    return ts.astimezone(UTC)


def window_of(ts: datetime, seconds: int) -> tuple[datetime, datetime]:
    """The tumbling window (UTC, aligned on the epoch) holding `ts`."""
    epoch = int(_utc(ts).timestamp())
    start = epoch - epoch % seconds
    return datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(start + seconds, UTC)


def _day_window(ts: datetime) -> tuple[datetime, datetime]:
    day = _utc(ts).date()
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def _make(rule: AlertRule, severity: Severity, regency: str, window: tuple[datetime, datetime], subject: list[str],
          message: str, evidence: list[str], now: datetime, **details: Any) -> Alert:
    return Alert(alert_id=alert_id(rule.value, subject), rule=rule, severity=severity, regency_code=regency,
                 window_start=window[0], window_end=window[1], subject=subject, message=message,
                 evidence_event_ids=evidence, raised_at=now, details=details)


# ---- the rules -------------------------------------------------------------------------------------------------

def sla_breach(event: AnyEvent, cfg: RulesConfig, state: State, now: datetime) -> list[Alert]:
    rule = cfg.sla_breach
    if not rule.enabled or type(event).event_type != "ServiceRequestCompleted" or event.outcome != "ISSUED":
        return []
    standard = reference.standard_for(event.service_code, event.regency_code).completion_time_hours
    if standard is None:
        return []
    hours = (event.occurred_at - event.submitted_at).total_seconds() / 3600
    if hours <= standard:
        return []
    severity = rule.critical_severity if hours > rule.critical_multiple * standard else rule.severity
    return [_make(AlertRule.SLA_BREACH, severity, event.regency_code, (_utc(event.submitted_at), _utc(event.occurred_at)),
                  [event.regency_code, event.case_id],
                  f"{event.service_code} case {event.case_id} in {event.regency_code} took {hours:.1f} h; "
                  f"the standard is {standard:g} h", [str(event.event_id)], now,
                  service_code=event.service_code, hours=round(hours, 3), standard_hours=standard)]


def fee_above_tariff(event: AnyEvent, cfg: RulesConfig, state: State, now: datetime) -> list[Alert]:
    rule = cfg.fee_above_tariff
    if not rule.enabled or type(event).event_type not in ("ServiceRequestSubmitted", "ServiceRequestCompleted"):
        return []
    official = reference.standard_for(event.service_code, event.regency_code).official_fee_idr
    if official is None or event.fee_charged_idr <= official:
        return []
    at = _utc(event.occurred_at)
    return [_make(AlertRule.FEE_ABOVE_TARIFF, rule.severity, event.regency_code, (at, at),
                  [event.regency_code, event.case_id],
                  f"{event.service_code} case {event.case_id} in {event.regency_code} was charged "
                  f"Rp{event.fee_charged_idr:,}; the official fee is Rp{official:,}", [str(event.event_id)], now,
                  service_code=event.service_code, fee_charged_idr=event.fee_charged_idr, official_fee_idr=official)]


def _deadline(filed_at: datetime, category: str) -> datetime:
    return reference.complaint_resolution_deadline(_utc(filed_at), category)


def complaint_overdue(event: AnyEvent, cfg: RulesConfig, state: State, now: datetime) -> list[Alert]:
    rule = cfg.complaint_overdue
    kind = type(event).event_type
    if not rule.enabled or kind not in ("ComplaintFiled", "ComplaintStatusChanged"):
        return []
    key = f"overdue|{event.regency_code}|{event.case_id}"
    entry = dict(state.get(key) or {})
    if kind == "ComplaintFiled":
        filed = _utc(event.occurred_at)
        entry.update(filed_at=filed.isoformat(), deadline=_deadline(filed, event.category).isoformat(),
                     filed_event=str(event.event_id))
        state[key] = entry
        return []
    to, at = event.to_status, _utc(event.occurred_at)
    deadline = datetime.fromisoformat(entry["deadline"]) if "deadline" in entry else None
    if to in ("IN_PROGRESS", "RESOLVED") and deadline is not None and at <= deadline:
        entry["followed_up_in_time"] = True
        state[key] = entry
        return []
    if entry.get("followed_up_in_time"):
        return []
    late = to == "UNANSWERED" or (to in ("IN_PROGRESS", "RESOLVED") and deadline is not None and at > deadline)
    if not late:
        return []
    filed_at = datetime.fromisoformat(entry["filed_at"]) if "filed_at" in entry else at
    evidence = [e for e in (entry.get("filed_event"), str(event.event_id)) if e]
    return [_make(AlertRule.COMPLAINT_OVERDUE, rule.severity, event.regency_code, (filed_at, deadline or at),
                  [event.regency_code, event.case_id],
                  f"complaint {event.case_id} ({event.category}) in {event.regency_code} went {to} at "
                  f"{at.isoformat()}" + (f", past its deadline {deadline.isoformat()}" if deadline else ""),
                  evidence, now, category=event.category, to_status=to,
                  deadline=deadline.isoformat() if deadline else None)]


def complaint_spike(event: AnyEvent, cfg: RulesConfig, state: State, now: datetime) -> list[Alert]:
    rule = cfg.complaint_spike
    if not rule.enabled or type(event).event_type != "ComplaintFiled":
        return []
    size = rule.window_seconds
    start, end = window_of(event.occurred_at, size)
    key = f"spike|{event.regency_code}|{event.category}"
    entry = dict(state.get(key) or {})
    windows: dict[str, list[str]] = dict(entry.get("windows") or {})
    bucket = str(int(start.timestamp()))
    ids = list(windows.get(bucket, []))
    event_id = str(event.event_id)
    if event_id in ids:  # replayed: already counted
        return []
    if len(ids) < rule.keep_ids:
        ids.append(event_id)
    counts = dict(entry.get("counts") or {})
    counts[bucket] = int(counts.get(bucket, 0)) + 1
    windows[bucket] = ids
    newest = max(int(b) for b in counts)
    horizon = newest - 31 * 86_400  # keep a month of windows (late events reach 30 days back)
    counts = {b: c for b, c in counts.items() if int(b) >= horizon}
    windows = {b: v for b, v in windows.items() if int(b) >= horizon}
    state[key] = {"counts": counts, "windows": windows}
    count = counts[bucket]
    base = int(start.timestamp())
    previous = [int(counts.get(str(base - i * size), 0)) for i in range(1, rule.baseline_hours + 1)]
    baseline = sum(previous) / len(previous)
    if count < rule.min_count or count <= rule.multiple * baseline:
        return []
    return [_make(AlertRule.COMPLAINT_SPIKE, rule.severity, event.regency_code, (start, end),
                  [event.regency_code, event.category, start.isoformat()],
                  f"{count} {event.category} complaints in {event.regency_code} between {start.isoformat()} and "
                  f"{end.isoformat()}; trailing mean {baseline:.2f} per window", ids[: rule.min_count * 5], now,
                  category=event.category, count=count, baseline_mean=round(baseline, 4))]


def air_quality(event: AnyEvent, cfg: RulesConfig, state: State, now: datetime) -> list[Alert]:
    rule = cfg.air_quality
    if not rule.enabled or type(event).event_type != "AirQualityReading":
        return []
    pm25, pm10 = event.pm25, event.pm10
    over25 = pm25 is not None and pm25 > rule.pm25
    over10 = pm10 is not None and pm10 > rule.pm10
    if not (over25 or over10):
        return []
    critical = (pm25 is not None and pm25 > rule.pm25_critical) or (pm10 is not None and pm10 > rule.pm10_critical)
    start, end = window_of(event.occurred_at, rule.window_seconds)
    return [_make(AlertRule.AIR_QUALITY, rule.critical_severity if critical else rule.severity, event.regency_code,
                  (start, end), [event.regency_code, event.station_code, start.isoformat()],
                  f"station {event.station_code} in {event.regency_code}: PM2.5 {pm25} / PM10 {pm10} ug/m3 over "
                  f"{rule.pm25} / {rule.pm10}", [str(event.event_id)], now,
                  station_code=event.station_code, pm25=pm25, pm10=pm10)]


def price_jump(event: AnyEvent, cfg: RulesConfig, state: State, now: datetime) -> list[Alert]:
    rule = cfg.price_jump
    if not rule.enabled or type(event).event_type != "StapleFoodPriceObserved":
        return []
    key = f"price|{event.regency_code}|{event.market_code}|{event.commodity_code}"
    recent = [list(x) for x in (state.get(key) or {}).get("recent", [])]
    event_id = str(event.event_id)
    if any(x[0] == event_id for x in recent):  # replayed: already in the series
        return []
    state[key] = {"recent": (recent + [[event_id, event.price_idr]])[-rule.trailing:]}
    if len(recent) < rule.min_history:
        return []
    mean = sum(x[1] for x in recent) / len(recent)
    if event.price_idr <= mean * rule.jump_ratio:
        return []
    day = _utc(event.occurred_at).date()
    return [_make(AlertRule.PRICE_JUMP, rule.severity, event.regency_code, _day_window(event.occurred_at),
                  [event.regency_code, event.market_code, event.commodity_code, day.isoformat()],
                  f"{event.commodity_code} at {event.market_code} ({event.regency_code}) costs Rp{event.price_idr:,}, "
                  f"{(event.price_idr / mean - 1) * 100:.0f}% above its trailing mean Rp{mean:,.0f}",
                  [event_id, *(x[0] for x in recent)], now,
                  commodity_code=event.commodity_code, price_idr=event.price_idr, trailing_mean_idr=round(mean, 2))]


def _period_window(period: str, fallback: datetime) -> tuple[datetime, datetime]:
    try:
        year, month = (int(p) for p in period.split("-")[:2])
        start = datetime(year, month, 1, tzinfo=UTC)
        end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
        return start, end
    except (ValueError, TypeError):
        return _day_window(fallback)


def aid_double_payment(event: AnyEvent, cfg: RulesConfig, state: State, now: datetime) -> list[Alert]:
    rule = cfg.aid_double_payment
    if not rule.enabled or type(event).event_type != "SocialAidDisbursed":
        return []
    key = f"aid|{event.recipient_nik}|{event.programme}|{event.period}"
    payers: dict[str, str] = dict((state.get(key) or {}).get("payers", {}))
    if event.regency_code in payers:
        return []
    payers[event.regency_code] = str(event.event_id)
    state[key] = {"payers": payers}
    if len(payers) < rule.min_regencies:
        return []
    return [_make(AlertRule.AID_DOUBLE_PAYMENT, rule.severity, event.regency_code,
                  _period_window(event.period, event.occurred_at),
                  [event.recipient_nik, event.programme, event.period],
                  f"recipient {event.recipient_nik} was paid {event.programme} for {event.period} by "
                  f"{len(payers)} regencies: {', '.join(sorted(payers))}", list(payers.values()), now,
                  regencies=sorted(payers), programme=event.programme, period=event.period)]


# -- infrastructure --
def road_handling_overdue(event: AnyEvent, cfg: RulesConfig, state: State, now: datetime) -> list[Alert]:
    """The first handling of a road report (crew on site, repaired or rejected) later than its owner's own target;
    measured on event time (occurred_at - reported_at), like the SLA breach, so a replay decides the same."""
    rule = cfg.road_handling_overdue
    if not rule.enabled or type(event).event_type != "RoadDamageHandled" or event.action not in roads.handling_actions():
        return []
    target = roads.handling_target_hours(event.road_status)
    if target is None:
        return []
    key = f"road|{event.regency_code}|{event.case_id}"
    first = (state.get(key) or {}).get("first_handling")
    event_id = str(event.event_id)
    if first is not None and first != event_id:  # an earlier handling of the case was the one measured
        return []
    state[key] = {"first_handling": event_id}
    hours = (event.occurred_at - event.reported_at).total_seconds() / 3600
    if hours <= target:
        return []
    reported = _utc(event.reported_at)
    severity = rule.critical_severity if hours > rule.critical_multiple * target else rule.severity
    return [_make(AlertRule.ROAD_HANDLING_OVERDUE, severity, event.regency_code,
                  (reported, reported + timedelta(hours=target)), [event.regency_code, event.case_id],
                  f"road report {event.case_id} ({event.road_status} road) in {event.regency_code} was first "
                  f"handled ({event.action}) after {hours:.1f} h; the owner's own target is {target:g} h",
                  [event_id], now, road_status=event.road_status, action=event.action, hours=round(hours, 3),
                  target_hours=target)]


def payment_ahead_of_progress(event: AnyEvent, cfg: RulesConfig, state: State, now: datetime) -> list[Alert]:
    """Cumulative payment above the verified physical progress of a works contract; one alert per contract."""
    rule = cfg.payment_ahead_of_progress
    if not rule.enabled or type(event).event_type != "PublicWorksProgress":
        return []
    gap = event.payment_pct - event.physical_progress_pct
    if gap <= rule.margin_pct:
        return []
    at = _utc(event.occurred_at)
    overpaid = round(gap / 100 * event.contract_value_idr)
    severity = rule.critical_severity if gap >= rule.critical_gap_pct else rule.severity
    return [_make(AlertRule.PAYMENT_AHEAD_OF_PROGRESS, severity, event.regency_code, (at, at),
                  [event.regency_code, event.contract_id],
                  f"contract {event.contract_id} in {event.regency_code} is {event.payment_pct:g}% paid at "
                  f"{event.physical_progress_pct:g}% verified progress (about Rp{overpaid:,} ahead of the work)",
                  [str(event.event_id)], now, contract_id=event.contract_id, payment_pct=event.payment_pct,
                  physical_progress_pct=event.physical_progress_pct, overpaid_idr=overpaid)]


# ---- education (SPMB) ------------------------------------------------------------------------------------------
# A school's quota (SchoolQuotaPublished) and its decisions meet under the school's key; the same decisions meet
# again under the applicant's key for admission_double (`partition_keys`). The quota may arrive after admissions
# (they come from different cases, hence partitions), so every rule keeps the admissions it needs and checks again
# when the quota arrives; counts are per application (case_id), so a replay or a re-sent decision counts once.

_QUOTA_EVENTS = ("SchoolQuotaPublished", "SchoolAdmissionDecided")


def school_key(event: AnyEvent) -> str:
    """The key of a school's admission state: school, level, year."""
    return f"school|{event.school_id}|{event.school_level}|{event.admission_year}"


def applicant_key(event: AnyEvent) -> str:
    """The key of an applicant's admissions: NIK token, level, year."""
    return f"applicant|{event.applicant_nik}|{event.school_level}|{event.admission_year}"


def _year_window(year: int) -> tuple[datetime, datetime]:
    return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)


def _newer_quota(entry: dict[str, Any], event: AnyEvent) -> bool:
    """Whether `event` (a SchoolQuotaPublished) replaces the quota kept in `entry`: the latest published wins."""
    return entry.get("published_at") is None or _utc(event.occurred_at).isoformat() >= entry["published_at"]


def admission_over_quota(event: AnyEvent, cfg: RulesConfig, state: State, now: datetime) -> list[Alert]:
    rule = cfg.admission_over_quota
    kind = type(event).event_type
    if not rule.enabled or kind not in _QUOTA_EVENTS or (kind == "SchoolAdmissionDecided" and event.decision != "ADMITTED"):
        return []
    key = f"quota|{school_key(event)}"
    entry = dict(state.get(key) or {})
    admitted: dict[str, dict[str, str]] = {r: dict(v) for r, v in (entry.get("admitted") or {}).items()}
    if kind == "SchoolQuotaPublished":
        if not _newer_quota(entry, event):
            return []
        entry.update(published_at=_utc(event.occurred_at).isoformat(), quota_event=str(event.event_id),
                     quota={r: getattr(event, f"seats_{r.lower()}") for r in ("DOMISILI", "AFIRMASI", "MUTASI", "PRESTASI")})
        routes = sorted(admitted)
    else:
        # counted once per application (a replay or a re-sent decision), but checked again: after a crash between
        # the state write and the alert, the replay raises it (the `raised` table drops a second copy)
        admitted.setdefault(event.route, {}).setdefault(event.case_id, str(event.event_id))
        routes = [event.route]
    entry["admitted"] = admitted
    state[key] = entry
    quota = entry.get("quota")
    if quota is None:
        return []
    out = []
    for route in routes:
        cases = admitted.get(route, {})
        seats = int(quota.get(route, 0))
        if len(cases) <= seats:
            continue
        beyond = list(cases.values())[seats:]
        out.append(_make(AlertRule.ADMISSION_OVER_QUOTA, rule.severity, event.regency_code,
                         _year_window(event.admission_year),
                         [event.regency_code, event.school_id, event.school_level, str(event.admission_year), route],
                         f"school {event.school_id} ({event.school_level}, {event.regency_code}) admitted "
                         f"{len(cases)} applicants on the {route} route for {event.admission_year}; its published "
                         f"quota is {seats}", [entry["quota_event"], *beyond], now,
                         school_id=event.school_id, school_level=event.school_level, route=route,
                         admitted=len(cases), quota=seats))
    return out


def admission_after_deadline(event: AnyEvent, cfg: RulesConfig, state: State, now: datetime) -> list[Alert]:
    rule = cfg.admission_after_deadline
    kind = type(event).event_type
    if not rule.enabled or kind not in _QUOTA_EVENTS or (kind == "SchoolAdmissionDecided" and event.decision != "ADMITTED"):
        return []
    key = f"deadline|{school_key(event)}"
    entry = dict(state.get(key) or {})
    admitted: dict[str, list[str]] = {c: list(v) for c, v in (entry.get("admitted") or {}).items()}
    if kind == "SchoolQuotaPublished":
        if not _newer_quota(entry, event):
            return []
        entry.update(published_at=_utc(event.occurred_at).isoformat(), quota_event=str(event.event_id),
                     deadline=_utc(event.decision_deadline).isoformat())
        check = sorted(admitted)
    else:
        admitted.setdefault(event.case_id, [str(event.event_id), _utc(event.decided_at).isoformat()])
        check = [event.case_id]  # checked again on a replay, as admission_over_quota
    entry["admitted"] = admitted
    state[key] = entry
    if entry.get("deadline") is None:
        return []
    deadline = datetime.fromisoformat(entry["deadline"])
    out = []
    for case in check:
        event_id, decided = admitted[case]
        decided_at = datetime.fromisoformat(decided)
        if decided_at <= deadline:
            continue
        out.append(_make(AlertRule.ADMISSION_AFTER_DEADLINE, rule.severity, event.regency_code, (deadline, decided_at),
                         [event.regency_code, event.school_id, case],
                         f"school {event.school_id} ({event.school_level}, {event.regency_code}) admitted application "
                         f"{case} at {decided_at.isoformat()}, after its announced deadline {deadline.isoformat()}",
                         [event_id, entry["quota_event"]], now, school_id=event.school_id,
                         school_level=event.school_level, decided_at=decided_at.isoformat(),
                         deadline=deadline.isoformat()))
    return out


def admission_double(event: AnyEvent, cfg: RulesConfig, state: State, now: datetime) -> list[Alert]:
    rule = cfg.admission_double
    if not rule.enabled or type(event).event_type != "SchoolAdmissionDecided" or event.decision != "ADMITTED":
        return []
    key = f"admitted|{applicant_key(event)}"
    entry = state.get(key) or {}
    schools: dict[str, str] = dict(entry.get("schools", {}))
    schools.setdefault(event.school_id, str(event.event_id))  # once per school; checked again on a replay
    regencies = sorted({*entry.get("regencies", []), event.regency_code})
    state[key] = {"schools": schools, "regencies": regencies}
    if len(schools) < rule.min_schools:
        return []
    return [_make(AlertRule.ADMISSION_DOUBLE, rule.severity, event.regency_code, _year_window(event.admission_year),
                  [event.applicant_nik, event.school_level, str(event.admission_year)],
                  f"applicant {event.applicant_nik} was admitted to {event.school_level} for {event.admission_year} by "
                  f"{len(schools)} schools: {', '.join(sorted(schools))} (regencies {', '.join(regencies)})",
                  list(schools.values()), now, schools=sorted(schools), regencies=regencies,
                  school_level=event.school_level, admission_year=event.admission_year)]


_SCHOOL_RULES = frozenset({AlertRule.ADMISSION_OVER_QUOTA, AlertRule.ADMISSION_AFTER_DEADLINE})
_APPLICANT_RULES = frozenset({AlertRule.ADMISSION_DOUBLE})


RULES: dict[AlertRule, Callable[[AnyEvent, RulesConfig, State, datetime], list[Alert]]] = {
    AlertRule.SLA_BREACH: sla_breach,
    AlertRule.FEE_ABOVE_TARIFF: fee_above_tariff,
    AlertRule.COMPLAINT_OVERDUE: complaint_overdue,
    AlertRule.COMPLAINT_SPIKE: complaint_spike,
    AlertRule.AIR_QUALITY: air_quality,
    AlertRule.PRICE_JUMP: price_jump,
    AlertRule.AID_DOUBLE_PAYMENT: aid_double_payment,
    AlertRule.ADMISSION_OVER_QUOTA: admission_over_quota,
    AlertRule.ADMISSION_AFTER_DEADLINE: admission_after_deadline,
    AlertRule.ADMISSION_DOUBLE: admission_double,
    # -- infrastructure --
    AlertRule.ROAD_HANDLING_OVERDUE: road_handling_overdue,
    AlertRule.PAYMENT_AHEAD_OF_PROGRESS: payment_ahead_of_progress,
}


def evaluate(event: AnyEvent, cfg: RulesConfig, state: State, now: datetime | None = None, *,
             key: str | None = None) -> list[Alert]:
    """Every alert this event raises (before de-duplication by alert id). `key` is the partition key the event
    arrived under (`partition_keys`): an event sent under two keys runs under each only the rules whose state that
    key holds; None runs every rule (one process holding all state, as in tests)."""
    now = now or datetime.now(UTC)
    only: frozenset[AlertRule] | None = None
    if key is not None and type(event).event_type == "SchoolAdmissionDecided":
        only = _APPLICANT_RULES if key == applicant_key(event) else _SCHOOL_RULES
    out: list[Alert] = []
    for name, rule in RULES.items():
        if only is None or name in only:
            out.extend(rule(event, cfg, state, now))
    return out


_OWN_SUBJECTS = frozenset({"ComplaintFiled", "ComplaintStatusChanged", "StapleFoodPriceObserved", "SocialAidDisbursed",
                           *_QUOTA_EVENTS})


def keyed_by_case(event_type: str) -> bool:
    """Whether an event type's one subject is its `ordering_key`: the key the gatekeeper gives its canonical
    record, so routing it needs no decode (every type `partition_key` does not key by a subject of its own)."""
    return event_type not in _OWN_SUBJECTS


def partition_key(event: AnyEvent) -> str:
    """The key that puts every event sharing rule state on one partition (and so one worker)."""
    kind = type(event).event_type
    if keyed_by_case(kind):
        return event.ordering_key
    if kind in ("ComplaintFiled", "ComplaintStatusChanged"):
        return f"{event.regency_code}|{event.category}"  # spike state per category; a case keeps its category
    if kind == "StapleFoodPriceObserved":
        return f"{event.regency_code}|{event.market_code}|{event.commodity_code}"
    if kind == "SocialAidDisbursed":
        return f"{event.recipient_nik}|{event.programme}|{event.period}"
    return school_key(event)  # _QUOTA_EVENTS


def partition_keys(event: AnyEvent) -> tuple[str, ...]:
    """Every key the event must reach the rules under: `partition_key` alone for most; a school admission decision
    also goes under its applicant's key (one applicant admitted by two schools), since its school's quota state
    and its applicant's admissions live on different partitions."""
    if type(event).event_type == "SchoolAdmissionDecided":
        return (school_key(event), applicant_key(event))
    return (partition_key(event),)


class BufferedState(MutableMapping[str, Any]):
    """Rule state read through to `table` and written back once per key (`flush`): the worker evaluates a
    message's records against one buffer, so a subject's state costs one table write (one changelog record) per
    message instead of one per event. The rules copy what they read before changing it, so buffered values are
    never changed in place."""

    _MISSING = object()

    def __init__(self, table: MutableMapping[str, Any]) -> None:
        self.table = table
        self.values: dict[str, Any] = {}
        self.dirty: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        value = self.values.get(key, self._MISSING)
        if value is self._MISSING:
            value = self.values[key] = self.table.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:  # the rules' one read: without a KeyError per miss
        value = self.values.get(key, self._MISSING)
        if value is self._MISSING:
            value = self.values[key] = self.table.get(key)
        return default if value is None else value

    def __setitem__(self, key: str, value: Any) -> None:
        self.values[key] = value
        self.dirty.add(key)

    def __delitem__(self, key: str) -> None:
        raise TypeError("rule state is never deleted (a Faust table keeps its changelog)")

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)

    def flush(self) -> int:
        """Write every changed key to the table once; the number of writes."""
        for key in self.dirty:
            self.table[key] = self.values[key]
        written = len(self.dirty)
        self.dirty.clear()
        return written


class Deduplicator:
    """Raised alert ids, so one condition is emitted once (a Faust table in the worker)."""

    def __init__(self, raised: MutableMapping[str, Any]) -> None:
        self.raised = raised

    def new(self, alerts: list[Alert]) -> list[Alert]:
        fresh: list[Alert] = []
        for alert in alerts:
            if self.raised.get(alert.alert_id) is None:
                self.raised[alert.alert_id] = alert.raised_at.isoformat()
                fresh.append(alert)
        return fresh


