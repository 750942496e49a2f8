"""The pure, seeded traffic generator: `plan(N, seed, faults)` -> the ordered records to send and their manifest.

Nothing here reads the clock, the network or global randomness: one `random.Random(seed)` drives every choice,
timestamps are a fixed base time plus seeded offsets, and event ids are UUIDs drawn from the same generator, so
the same arguments give the same records and a byte-identical manifest on every machine.

Clean traffic keeps the spec's "Simulator guarantees" (it raises no alert and fills no DLQ); every injected
anomaly is its own fresh case, series or subject and is meant to raise exactly one alert or one DLQ record, which
the planned record names (`alert`, `alert_subject`, `dlq_reason`).
"""

from __future__ import annotations

import base64
import io
import json
import math
import random
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import fastavro

from producers.exceptions import ProducerError
from producers.simulator.faults import FAULTS, FaultMix
from producers.simulator.manifest import Manifest, Via
from producers.simulator.regions import COASTAL, HIGHLANDS, POPULATION_K, regions
from schemas.catalog import FAMILIES, event_types
from schemas.models import Event, model_for
from schemas.nik import tokenise_nik
from schemas.outcomes import AlertRule, GatewayRejection, RejectReason
from schemas.reference import commodities, complaint_categories, regencies, standard_for

BASE_TIME = datetime(2025, 3, 3, 0, 0, tzinfo=UTC)
"""Monday 3 March 2025, 07:00 WIB: the start of the simulated week (never the wall clock)."""
WINDOW = timedelta(days=7)
"""Clean traffic occurs within [base_time, base_time + WINDOW)."""

BURST_SIZE = 25
SPIKE_MIN_COUNT = 10  # streams/rules.yaml default: the burst's 10th complaint is where the alert is raised
CLEAN_COMPLAINTS_PER_HOUR = 9  # < SPIKE_MIN_COUNT per regency x category x hour
PRICE_JUMP = 1.35
CLEAN_PRICE_BAND = 0.03
MS_HOUR = 3_600_000
MS_DAY = 24 * MS_HOUR


class PlanError(ProducerError, ValueError):
    """The requested run cannot be planned (e.g. the fault mix needs more records than --events)."""


class Expect(StrEnum):
    """What the pipeline must do with a planned record."""

    EVENT = "event"  # reaches events.<family>
    DLQ = "dlq"  # moved to the DLQ (via sdk) or refused by the gateway (via http)
    DUPLICATE = "duplicate"  # dropped by the gatekeeper's dedup


@dataclass(frozen=True)
class PlannedRecord:
    """One record to send, in plan order, with the outcome the pipeline must give it.

    `event` is always set: the valid event, the spoofed event (another regency's, `ingress` differs), or the
    base of an invalid payload. `raw` are bytes to send as they are (undecodable); `override` are field values
    that break the contract, applied to the Avro datum (sdk) or the JSON body (http).
    """

    seq: int
    ingress: str
    key: bytes
    event: Event
    expect: Expect
    send_at: datetime
    raw: bytes | None = None
    override: dict[str, Any] | None = None
    dlq_reason: RejectReason | None = None
    gateway_rejection: GatewayRejection | None = None
    fault: str | None = None
    alert: AlertRule | None = None
    alert_subject: tuple[str, ...] | None = None
    duplicate_of: int | None = None
    late: bool = False

    @property
    def event_type(self) -> str:
        return type(self.event).event_type

    @property
    def family(self) -> str:
        return type(self.event).family

    @property
    def spoofed(self) -> bool:
        """A valid event written to another regency's ingress topic."""
        return self.ingress != self.event.regency_code

    def http_event(self) -> dict[str, Any]:
        """The event as the gateway takes it: `{"event_type": ..., fields...}`, with the breaking override."""
        return {"event_type": self.event_type, **self.event.model_dump(mode="json"), **(self.override or {})}

    def avro_datum(self) -> dict[str, Any]:
        """The Avro datum to write (the event's, with the override that a model refuses but Avro accepts)."""
        return {**self.event.to_avro(), **(self.override or {})}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe view, for comparing plans and for debugging."""
        return {
            "seq": self.seq, "ingress": self.ingress, "key": self.key.decode(), "event_type": self.event_type,
            "event": self.event.model_dump(mode="json"), "expect": self.expect.value,
            "send_at": self.send_at.isoformat(),
            "raw": base64.b64encode(self.raw).decode() if self.raw is not None else None,
            "override": self.override, "dlq_reason": self.dlq_reason, "gateway_rejection": self.gateway_rejection,
            "fault": self.fault, "alert": self.alert, "alert_subject": list(self.alert_subject or ()) or None,
            "duplicate_of": self.duplicate_of, "late": self.late,
        }


@dataclass(frozen=True)
class Plan:
    """The ordered records of one run and the manifest they imply."""

    records: tuple[PlannedRecord, ...]
    manifest: Manifest

    def to_json(self) -> str:
        """Every record as JSON, one line each: two plans are equal iff these texts are."""
        return "\n".join(json.dumps(r.to_dict(), sort_keys=True) for r in self.records) + "\n"


def nik_token(key: str | bytes, nik: str) -> str:
    """The token the gatekeeper mints for `nik` under the installation's NIK key (`schemas.nik.tokenise_nik`)."""
    return tokenise_nik(key.encode() if isinstance(key, str) else key, nik)


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


_SERVICE_WEIGHTS = {"KTP_EL": 30, "KARTU_KELUARGA": 25, "AKTA_KELAHIRAN": 20, "AKTA_KEMATIAN": 8, "NIB": 12, "PBG": 5}
_SOURCE = {"disdukcapil": "siak", "dpmptsp": "sicantik"}
_OFFICER = {"disdukcapil": "DKC", "dpmptsp": "PTSP"}
_CATEGORY_WEIGHTS = {"PUNGLI": 10, "ABUSE_OF_AUTHORITY": 5, "DISCRIMINATION": 3, "PROCEDURE_VIOLATION": 12,
                     "SLOW_SERVICE": 20, "SERVICE_QUALITY": 20, "INFRASTRUCTURE": 25, "OTHER": 5}
_TITLES = {
    "PUNGLI": ("Diminta uang untuk {s} di kantor kecamatan", "Ada biaya tambahan untuk {s}"),
    "ABUSE_OF_AUTHORITY": ("Petugas memakai kendaraan dinas untuk urusan pribadi",),
    "DISCRIMINATION": ("Warga lansia tidak didahulukan di loket {s}",),
    "PROCEDURE_VIOLATION": ("Persyaratan {s} tidak sesuai standar pelayanan",),
    "SLOW_SERVICE": ("{s} belum jadi lewat dari jadwal", "Antrean {s} sangat lama"),
    "SERVICE_QUALITY": ("Petugas loket {s} tidak ramah",),
    "INFRASTRUCTURE": ("Jalan berlubang di {d}", "Lampu penerangan jalan mati di {d}", "Saluran air tersumbat di {d}"),
    "OTHER": ("Informasi layanan di situs resmi tidak diperbarui",),
}
_CATEGORY_AGENCY = {"INFRASTRUCTURE": "dpupr", "ABUSE_OF_AUTHORITY": "inspektorat", "OTHER": "diskominfo"}
_AID = {"PKH": (750_000, 30), "BPNT": (600_000, 30), "BLT_DANA_DESA": (300_000, 20), "BANSOS_PROVINSI": (500_000, 10),
        "BANSOS_KABUPATEN": (400_000, 10)}
_KINDS = {"service": 8, "complaint": 6, "health": 25, "price": 15, "air": 15, "aid": 10, "tourism": 5, "disaster": 4}
# Kinds whose events no alert rule looks at (or only at values we keep clean): safe for late and spoofed events.
_INERT_KINDS = ("health", "tourism", "disaster")


def _ispu_pm25(pm25: float) -> int:
    """ISPU sub-index of PM2.5 (PermenLHK 14/2020 breakpoints), so readings look like a station's output."""
    points = ((0.0, 0), (15.5, 50), (55.4, 100), (150.4, 200), (250.4, 300), (500.0, 500))
    for (c0, i0), (c1, i1) in zip(points, points[1:], strict=False):
        if pm25 <= c1:
            return round(i0 + (i1 - i0) * (pm25 - c0) / (c1 - c0))
    return 500


class _Traffic:
    """The generator's state: one RNG, the counters that keep ids unique and the clean guarantees true."""

    def __init__(self, seed: int, base: datetime, nik_key: str) -> None:
        self.rng = random.Random(seed)
        self.base = base
        self.nik_key = nik_key
        self.codes = [r.code for r in regencies()]
        self.weights = [POPULATION_K[c] for c in self.codes]
        self.regions = regions()
        self.year = base.year
        self.niks: set[str] = set()
        self.serials: Counter[str] = Counter()
        self.complaint_hours: Counter[tuple[str, str, int]] = Counter()
        self.burst_pairs: set[tuple[str, str]] = set()
        self.burst_hours: dict[tuple[str, str], list[int]] = {}
        self.price_base: dict[tuple[str, str, str], int] = {}
        self.reserved_series: set[tuple[str, str, str]] = set()
        self.exceeded: set[tuple[str, int]] = set()

    # -- primitives ----------------------------------------------------------------------------------------------
    def at(self, ms: int) -> datetime:
        return self.base + timedelta(milliseconds=ms)

    def event_id(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def pick(self, weights: dict[str, int]) -> str:
        return self.rng.choices(list(weights), weights=list(weights.values()))[0]

    def regency(self, exclude: str | None = None) -> str:
        while True:
            code = self.rng.choices(self.codes, weights=self.weights)[0]
            if code != exclude:
                return code

    def moment(self) -> int:
        """A time in the window, three quarters of them in office hours (07:00-16:00 WIB = 00:00-09:00 UTC)."""
        day = self.rng.randrange(WINDOW.days)
        hour = self.rng.randrange(9) if self.rng.random() < 0.75 else self.rng.randrange(24)
        return day * MS_DAY + hour * MS_HOUR + self.rng.randrange(MS_HOUR)

    def serial(self, scope: str) -> int:
        self.serials[scope] += 1
        return self.serials[scope]

    def nik(self, regency_code: str) -> str:
        """A fresh NIK of this regency: regency code, district, birth date (+40 for women), serial."""
        while True:
            day = self.rng.randint(1, 28) + (40 if self.rng.random() < 0.5 else 0)
            value = (f"{regency_code}{self.rng.randint(1, 20):02d}{day:02d}{self.rng.randint(1, 12):02d}"
                     f"{self.rng.randint(0, 99):02d}{self.rng.randint(1, 9999):04d}")
            if value not in self.niks:
                self.niks.add(value)
                return value

    def make(self, event_type: str, regency_code: str, ms: int, **fields: Any) -> Event:
        return model_for(event_type)(event_id=self.event_id(), regency_code=regency_code, occurred_at=self.at(ms),
                                     **fields)

    # -- service requests ----------------------------------------------------------------------------------------
    def service_case(self, reg: str, *, fee_extra: int = 0, sla_factor: float | None = None,
                     service: str | None = None) -> list[Event]:
        """Submitted -> status changes -> Completed. Clean: fee == tariff, done within 0.8 x the standard."""
        service = service or self.pick(_SERVICE_WEIGHTS)
        std = standard_for(service, reg)
        fee = std.official_fee_idr if std.official_fee_idr is not None else self.rng.randrange(500, 5000) * 1000
        fee += fee_extra
        hours = std.completion_time_hours if std.completion_time_hours is not None else self.rng.uniform(72, 240)
        factor = sla_factor if sla_factor is not None else self.rng.uniform(0.1, 0.8)
        if sla_factor is None and std.completion_time_hours is None:
            factor = 1.0  # no standard: any duration is fine, none can be flagged
        outcome = "ISSUED" if (fee_extra or sla_factor) else self.rng.choices(
            ["ISSUED", "REJECTED", "WITHDRAWN"], weights=[88, 7, 5])[0]
        t0 = self.moment()
        duration = max(60_000, int(hours * factor * MS_HOUR))
        case_id = f"SR-{reg}-{self.year}-{self.serial('SR' + reg):06d}"
        channel = self.rng.choice(["COUNTER", "MPP", "ONLINE", "MOBILE_APP", "OUTREACH"])
        system = f"{_SOURCE.get(std.agency, std.agency)}-{reg}"
        complete = self.rng.random() < 0.9 or outcome != "ISSUED"
        common = {"case_id": case_id, "source_system": system, "service_code": service}
        events = [self.make("ServiceRequestSubmitted", reg, t0, **common, channel=channel,
                            office_code=f"{std.agency}-{reg}", documents_complete=complete, fee_charged_idr=fee,
                            applicant_nik=self.nik(reg))]
        path = [("SUBMITTED", "VERIFYING", None)]
        if not complete:
            path += [("VERIFYING", "INCOMPLETE_DOCUMENTS", "berkas belum lengkap"),
                     ("INCOMPLETE_DOCUMENTS", "VERIFYING", None)]
        if outcome == "ISSUED":
            path += [("VERIFYING", "IN_PROCESS", None), ("IN_PROCESS", "READY_FOR_PICKUP", None)]
        else:
            path += [("VERIFYING", outcome, "persyaratan tidak terpenuhi" if outcome == "REJECTED" else None)]
        steps = sorted(self.rng.sample(range(1, duration), len(path)))
        officer = f"{_OFFICER.get(std.agency, 'PTG')}-{self.rng.randint(1, 60):03d}"
        for (src, dst, reason), offset in zip(path, steps, strict=True):
            events.append(self.make("ServiceRequestStatusChanged", reg, t0 + offset, **common, from_status=src,
                                    to_status=dst, reason=reason, officer_id=officer))
        events.append(self.make("ServiceRequestCompleted", reg, t0 + duration, **common, channel=channel,
                                outcome=outcome, submitted_at=self.at(t0), fee_charged_idr=fee))
        return events

    # -- complaints ----------------------------------------------------------------------------------------------
    def complaint_time(self, reg: str, category: str) -> int:
        """A filing time whose regency x category x hour still has room under the clean cap."""
        for _ in range(200):
            ms = self.moment()
            slot = (reg, category, ms // MS_HOUR)
            if self.complaint_hours[slot] < CLEAN_COMPLAINTS_PER_HOUR:
                self.complaint_hours[slot] += 1
                return ms
        raise PlanError(f"no room for another clean {category} complaint in {reg}: lower --events")

    def clean_category(self, reg: str) -> str:
        free = {c: w for c, w in _CATEGORY_WEIGHTS.items() if (reg, c) not in self.burst_pairs}
        if not free:
            raise PlanError(f"every complaint category of {reg} is reserved for bursts: lower --complaint-burst")
        return self.pick(free)

    def complaint_filed(self, reg: str, category: str, ms: int) -> Event:
        channel = self.rng.choices(["LAPORGUB_WEB", "LAPORGUB_APP", "SP4N_LAPOR", "WHATSAPP", "SOCIAL_MEDIA",
                                    "HOTLINE", "WALK_IN"], weights=[20, 30, 15, 15, 10, 5, 5])[0]
        service = self.pick(_SERVICE_WEIGHTS) if category in ("PUNGLI", "SLOW_SERVICE", "PROCEDURE_VIOLATION",
                                                               "SERVICE_QUALITY", "DISCRIMINATION") else None
        agency = standard_for(service).agency if service else _CATEGORY_AGENCY.get(category)
        title = self.rng.choice(_TITLES[category]).format(
            s=standard_for(service).name_id if service else "layanan", d=self.rng.choice(self.regions[reg].districts))
        anonymous = self.rng.random() < 0.2
        return self.make(
            "ComplaintFiled", reg, ms, case_id=f"LG-{reg}-{self.year}-{self.serial('LG' + reg):06d}",
            source_system="sp4n-lapor" if channel == "SP4N_LAPOR" else "laporgub", category=category, channel=channel,
            title=title, service_code=service, agency=agency,
            reported_amount_idr=self.rng.randrange(2, 60) * 25_000 if category == "PUNGLI" else None,
            anonymous=anonymous, reporter_nik=None if anonymous else self.nik(reg))

    def status(self, filed: Event, ms: int, src: str, dst: str, agency: str | None = None) -> Event:
        return self.make("ComplaintStatusChanged", filed.regency_code, ms, case_id=filed.case_id,
                         source_system=filed.source_system, category=filed.category,  # type: ignore[attr-defined]
                         from_status=src, to_status=dst, agency=agency, note=None)

    def complaint_case(self, reg: str) -> list[Event]:
        """Filed, then a valid workflow path, every follow-up within 2 calendar days and never UNANSWERED."""
        category = self.clean_category(reg)
        t0 = self.complaint_time(reg, category)
        filed = self.complaint_filed(reg, category, t0)
        agency = filed.agency  # type: ignore[attr-defined]
        if self.rng.random() < 0.15:
            path = [("RECEIVED", "IN_VERIFICATION"), ("IN_VERIFICATION", "NOT_ELIGIBLE"), ("NOT_ELIGIBLE", "CLOSED")]
        else:
            path = [("RECEIVED", "IN_VERIFICATION"), ("IN_VERIFICATION", "FORWARDED"), ("FORWARDED", "IN_PROGRESS"),
                    ("IN_PROGRESS", "RESOLVED"), ("RESOLVED", "CLOSED")]
        path = path[: self.rng.randint(1, len(path))]
        steps = sorted(self.rng.sample(range(60_000, 2 * MS_DAY - MS_HOUR), len(path)))
        return [filed] + [self.status(filed, t0 + off, src, dst, agency if dst == "FORWARDED" else None)
                          for (src, dst), off in zip(path, steps, strict=True)]

    def overdue_case(self, reg: str) -> tuple[list[Event], tuple[str, ...]]:
        """Filed, verified and forwarded in time, then followed up (or marked UNANSWERED) days after the
        category's deadline: at least its working days as calendar days with every weekend added, plus 3 days, so
        any reading of "working days" (weekend filing, time of day) still sees it late."""
        category = self.clean_category(reg)
        t0 = self.complaint_time(reg, category)
        filed = self.complaint_filed(reg, category, t0)
        late_step = ("FORWARDED", self.rng.choice(["IN_PROGRESS", "UNANSWERED"]))
        d = complaint_categories()[category].deadlines
        working = d.verify_and_forward_working_days + d.follow_up_working_days
        overdue_days = working + 2 * (working // 5 + 1) + 3
        offsets = [self.rng.randrange(MS_HOUR, 8 * MS_HOUR), self.rng.randrange(MS_DAY, 2 * MS_DAY),
                   self.rng.randrange(overdue_days * MS_DAY, (overdue_days + 5) * MS_DAY)]
        events = [filed, self.status(filed, t0 + offsets[0], "RECEIVED", "IN_VERIFICATION"),
                  self.status(filed, t0 + offsets[1], "IN_VERIFICATION", "FORWARDED", filed.agency),  # type: ignore[attr-defined]
                  self.status(filed, t0 + offsets[2], *late_step)]
        return events, (reg, filed.case_id)

    def burst(self) -> tuple[list[Event], tuple[str, ...]]:
        """25 complaints of one regency x category within one hour; that pair gets no other complaint at all,
        so the previous 24 hours are empty and the hour's count crosses every threshold once."""
        reg, category = self.regency(), self.pick(_CATEGORY_WEIGHTS)
        hours = self.burst_hours.setdefault((reg, category), [])
        for _ in range(200):
            hour = self.rng.randrange(WINDOW.days * 24)
            if all(abs(hour - h) >= 26 for h in hours):
                break
        else:
            raise PlanError("too many complaint bursts for one week of traffic: lower --complaint-burst")
        # Bursts are planned before any other complaint, so reserving the pair here keeps it free of them.
        hours.append(hour)
        self.burst_pairs.add((reg, category))
        offsets = sorted(self.rng.sample(range(MS_HOUR), BURST_SIZE))
        events = [self.complaint_filed(reg, category, hour * MS_HOUR + off) for off in offsets]
        return events, (reg, category, self.at(hour * MS_HOUR).isoformat())

    # -- single-event kinds --------------------------------------------------------------------------------------
    def health(self, reg: str, ms: int | None = None) -> Event:
        place = self.regions[reg]
        hospital = self.rng.random() < 0.25
        facility = self.rng.choice(place.hospitals if hospital else place.puskesmas)
        service = self.rng.choices(["OUTPATIENT", "INPATIENT", "EMERGENCY", "MATERNAL_CHILD", "IMMUNISATION",
                                    "DENTAL", "LABORATORY"], weights=[50, 8, 7, 12, 10, 6, 7])[0]
        return self.make(
            "HealthFacilityVisit", reg, self.moment() if ms is None else ms,
            case_id=f"V-{facility}-{self.serial('V' + facility):06d}", source_system=f"simpus-{reg}",
            facility_code=facility, facility_type="HOSPITAL" if hospital else "PUSKESMAS", service_type=service,
            payer=self.rng.choices(["BPJS_PBI", "BPJS_NON_PBI", "JAMKESDA", "SELF_PAY"], weights=[45, 35, 5, 15])[0],
            patient_nik=self.nik(reg), wait_minutes=self.rng.randint(5, 150))

    def price(self, reg: str, series: tuple[str, str, str], ms: int, factor: float | None = None) -> Event:
        """One observation; clean ones stay within +-3% of the series' base (drawn once from the band)."""
        _, market, commodity = series
        item = commodities()[commodity]
        if series not in self.price_base:
            lo, hi = item.simulation_price_idr
            self.price_base[series] = self.rng.randrange(lo // 50, hi // 50 + 1) * 50
        base = self.price_base[series]
        if factor is None:
            lo_p, hi_p = math.ceil(base * (1 - CLEAN_PRICE_BAND)), math.floor(base * (1 + CLEAN_PRICE_BAND))
            value = min(max(round(base * self.rng.uniform(1 - CLEAN_PRICE_BAND, 1 + CLEAN_PRICE_BAND)), lo_p), hi_p)
        else:
            value = round(base * factor)
        name = dict(self.regions[reg].markets)[market]
        return self.make("StapleFoodPriceObserved", reg, ms, case_id=f"{market}:{commodity}",
                         source_system=f"sihati-{reg}", market_code=market, market_name=name,
                         commodity_code=commodity, unit=item.unit, price_idr=value)

    def clean_series(self, reg: str) -> tuple[str, str, str]:
        for _ in range(100):
            series = (reg, self.rng.choice(self.regions[reg].markets)[0], self.rng.choice(sorted(commodities())))
            if series not in self.reserved_series:
                return series
        raise PlanError(f"every price series of {reg} is reserved for jumps: lower --price-jump")

    def price_jump(self) -> tuple[list[Event], tuple[str, ...]]:
        """A fresh series: 3 clean observations on consecutive mornings, then +35% the next morning."""
        for _ in range(200):
            reg = self.regency()
            series = (reg, self.rng.choice(self.regions[reg].markets)[0], self.rng.choice(sorted(commodities())))
            if series not in self.reserved_series and series not in self.price_base:
                break
        else:
            raise PlanError("no fresh price series left for another jump: lower --price-jump")
        self.reserved_series.add(series)
        day0 = self.rng.randrange(WINDOW.days - 3)
        times = [(day0 + i) * MS_DAY + self.rng.randrange(MS_HOUR, 4 * MS_HOUR) for i in range(4)]
        events = [self.price(reg, series, t) for t in times[:3]] + [self.price(reg, series, times[3], PRICE_JUMP)]
        return events, (reg, series[1], series[2], self.at(times[3]).date().isoformat())

    def air(self, reg: str, ms: int | None = None, station: str | None = None) -> Event:
        """An hourly average: clean pm25 in [5, 40], pm10 in [10, 100]."""
        station = station or self.rng.choice(self.regions[reg].stations)
        ms = self.moment() if ms is None else ms
        pm25 = round(self.rng.uniform(5, 40), 1)
        pm10 = round(min(100.0, max(10.0, pm25 * self.rng.uniform(1.2, 2.2))), 1)
        return self._air_event(reg, station, ms, pm25, pm10)

    def _air_event(self, reg: str, station: str, ms: int, pm25: float, pm10: float) -> Event:
        hour_start = ms - ms % MS_HOUR
        return self.make("AirQualityReading", reg, hour_start + self.rng.randrange(60_000), case_id=station,
                         source_system=f"aqms-dlh-{reg}", station_code=station, averaging_minutes=60, pm25=pm25,
                         pm10=pm10, no2=round(self.rng.uniform(5, 60), 1), ispu=_ispu_pm25(pm25))

    def air_exceedance(self) -> tuple[list[Event], tuple[str, ...]]:
        """One reading over the 'unhealthy' breakpoint, at a station-hour no other exceedance uses."""
        for _ in range(200):
            reg = self.regency()
            station = self.rng.choice(self.regions[reg].stations)
            ms = self.moment()
            if (station, ms // MS_HOUR) not in self.exceeded:
                break
        else:
            raise PlanError("no station-hour left for another air-quality exceedance: lower --air-quality")
        self.exceeded.add((station, ms // MS_HOUR))
        if self.rng.random() < 0.6:
            pm25 = round(self.rng.uniform(60, 250), 1)
            pm10 = round(pm25 * self.rng.uniform(1.1, 1.6), 1)  # PM10 includes PM2.5
        else:
            pm25, pm10 = round(self.rng.uniform(30, 50), 1), round(self.rng.uniform(160, 420), 1)
        event = self._air_event(reg, station, ms, pm25, pm10)
        return [event], (reg, station, self.at(ms - ms % MS_HOUR).isoformat())

    def aid(self, reg: str, ms: int | None = None, nik: str | None = None, programme: str | None = None,
            period: str | None = None) -> Event:
        programme = programme or self.pick({p: w for p, (_, w) in _AID.items()})
        at = self.at(self.moment() if ms is None else ms)
        period = period or f"{at.year:04d}-{at.month:02d}"
        return model_for("SocialAidDisbursed")(
            event_id=self.event_id(), regency_code=reg, occurred_at=at, source_system=f"siks-{reg}",
            case_id=f"{programme}-{reg}-{period}-{self.serial('AID' + reg):06d}", programme=programme,
            recipient_nik=nik or self.nik(reg), amount_idr=_AID[programme][0], period=period,
            disbursement_channel=self.rng.choices(["BANK_TRANSFER", "POST_OFFICE", "CASH"], weights=[70, 25, 5])[0])

    def double_aid(self) -> tuple[list[Event], tuple[str, ...]]:
        """One recipient of regency A paid by A and, days later, by B: same programme and period."""
        home = self.regency()
        other = self.regency(exclude=home)
        nik = self.nik(home)
        programme = self.pick({p: w for p, (_, w) in _AID.items()})
        first = self.aid(home, self.rng.randrange(2 * MS_DAY), nik, programme)
        second = self.aid(other, self.rng.randrange(3 * MS_DAY, WINDOW.days * MS_DAY), nik, programme,
                          first.period)  # type: ignore[attr-defined]
        return [first, second], (nik_token(self.nik_key, nik), programme, first.period)  # type: ignore[attr-defined]

    def tourism(self, reg: str, ms: int | None = None) -> Event:
        code, name = self.rng.choice(self.regions[reg].destinations)
        at = self.at(self.moment() if ms is None else ms)
        granularity = self.rng.choices(["DAY", "WEEK", "MONTH"], weights=[70, 20, 10])[0]
        end = at.date() - timedelta(days=1)
        start = end - timedelta(days=6) if granularity == "WEEK" else end
        if granularity == "MONTH":
            end = at.date().replace(day=1) - timedelta(days=1)
            start = end.replace(day=1)
        days = (end - start).days + 1
        big = code in {"DST-BOROBUDUR", "DST-PRAMBANAN", "DST-LAWANG-SEWU"}
        visitors = self.rng.randint(200, 2_000) * days * (8 if big else 1)
        return model_for("TourismVisitCount")(
            event_id=self.event_id(), regency_code=reg, occurred_at=at, source_system=f"disparbud-{reg}",
            case_id=code, destination_code=code, destination_name=name, period_start=start, period_end=end,
            granularity=granularity, visitors=visitors,
            foreign_visitors=int(visitors * self.rng.uniform(0, 0.08 if big else 0.01)))

    def disaster(self, reg: str, ms: int | None = None) -> Event:
        kinds = {"FLOOD": 30, "FLASH_FLOOD": 5, "LANDSLIDE": 10, "DROUGHT": 10, "STRONG_WIND": 15, "FOREST_FIRE": 3}
        if reg in COASTAL:
            kinds["TIDAL_FLOOD"] = 35
        if reg in HIGHLANDS:
            kinds["LANDSLIDE"] = 40
        kind = self.pick(kinds)
        severity = self.rng.choices(["LOW", "MEDIUM", "HIGH", "CRITICAL"], weights=[50, 30, 15, 5])[0]
        households = self.rng.randint(1, 400) * (1 + ["LOW", "MEDIUM", "HIGH", "CRITICAL"].index(severity))
        flooding = kind in ("FLOOD", "FLASH_FLOOD", "TIDAL_FLOOD")
        return self.make(
            "DisasterReported", reg, self.moment() if ms is None else ms,
            case_id=f"BPBD-{reg}-{self.year}-{self.serial('BPBD' + reg):04d}", source_system=f"bpbd-{reg}",
            disaster_type=kind, severity=severity,
            response_status=self.rng.choice(["REPORTED", "RESPONDING", "RECOVERING"]),
            district=self.rng.choice(self.regions[reg].districts), village=None,
            water_depth_cm=self.rng.randint(10, 150) if flooding else None, affected_households=households,
            displaced_people=households * self.rng.randint(0, 3) if severity in ("HIGH", "CRITICAL") else 0,
            casualties=0)

    def single(self, kind: str, reg: str, ms: int | None = None) -> Event:
        """One event of a single-event kind."""
        if kind == "price":
            return self.price(reg, self.clean_series(reg), self.moment() if ms is None else ms)
        maker: Callable[..., Event] = {"health": self.health, "air": self.air, "aid": self.aid,
                                        "tourism": self.tourism, "disaster": self.disaster}[kind]
        return maker(reg, ms)

    def case(self, kind: str, reg: str) -> list[Event]:
        """A clean case of `kind` (several events for service requests and complaints)."""
        if kind == "service":
            return self.service_case(reg)
        if kind == "complaint":
            return self.complaint_case(reg)
        return [self.single(kind, reg)]


def _ms(event: Event, base: datetime) -> int:
    return (event.occurred_at - base) // timedelta(milliseconds=1)


def _invalid_override(gen: _Traffic, event: Event) -> dict[str, Any]:
    """A value Avro writes but the model refuses (a rule of the contract, not of the wire format)."""
    if event.event_type == "StapleFoodPriceObserved":
        return {"price_idr": -event.price_idr}  # type: ignore[attr-defined]
    if event.event_type == "HealthFacilityVisit":
        return {"patient_nik": event.patient_nik[:8]}  # type: ignore[attr-defined]
    if event.event_type == "SocialAidDisbursed":
        return {"period": f"{gen.year}-13"}
    return {"service_code": "SIM_C"}  # a police service that is not in the regency standards catalog


def _garbage(gen: _Traffic, event: Event) -> bytes:
    """Bytes a misconfigured client would send: JSON text, or Avro without the Confluent header."""
    if gen.rng.random() < 0.5:
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
    gen = _Traffic(seed, base, nik_hmac_key)
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
    kinds = list(_KINDS)
    queue = [(kinds[i % len(kinds)], code) for i, code in enumerate(gen.codes)]
    while remaining > 0:
        kind, reg = queue.pop(0) if queue else (gen.pick(_KINDS), gen.regency())
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
        original = gen.rng.choice(eligible)
        drafts.append(_Draft(original.event, original.send_ms + gen.rng.randint(1_000, 2 * MS_HOUR),
                             expect=Expect.DUPLICATE, fault="duplicates", seq=len(drafts),
                             duplicate_of=original.seq))
    ordered = sorted(drafts, key=lambda d: (d.send_ms, d.seq))
    _assign_group_alerts(ordered)
    records = tuple(_freeze(d, base) for d in ordered)
    return Plan(records, _manifest(records, seed, events, faults, counts, base, via))


def _inject_anomalies(gen: _Traffic, counts: dict[str, int], add: Callable[..., list[_Draft]]) -> None:
    """Every fault but duplicates, each anomaly a fresh case/series/subject, marked with what it must raise."""
    for n in range(counts["complaint_burst"]):
        evs, subject = gen.burst()
        add(evs, fault="complaint_burst", group=f"burst:{n}", alert_subject=subject)
    for _ in range(counts["price_jump"]):
        evs, subject = gen.price_jump()
        *_, jump = add(evs, fault="price_jump")
        jump.alert, jump.alert_subject = AlertRule.PRICE_JUMP, subject
    for _ in range(counts["air_quality"]):
        evs, subject = gen.air_exceedance()
        (reading,) = add(evs, fault="air_quality")
        reading.alert, reading.alert_subject = AlertRule.AIR_QUALITY, subject
    for n in range(counts["double_aid"]):
        evs, subject = gen.double_aid()
        add(evs, fault="double_aid", group=f"aid:{n}", alert_subject=subject)
    for _ in range(counts["complaint_overdue"]):
        evs, subject = gen.overdue_case(gen.regency())
        *_, last = add(evs, fault="complaint_overdue")
        last.alert, last.alert_subject = AlertRule.COMPLAINT_OVERDUE, subject
    for _ in range(counts["sla_breach"]):
        reg = gen.regency()
        service = gen.rng.choice(sorted(s for s in _SERVICE_WEIGHTS if standard_for(s, reg).completion_time_hours))
        evs = gen.service_case(reg, sla_factor=gen.rng.uniform(1.2, 3.5), service=service)
        *_, done = add(evs, fault="sla_breach")
        done.alert, done.alert_subject = AlertRule.SLA_BREACH, (reg, done.event.case_id)
    for _ in range(counts["fee_above_tariff"]):
        reg = gen.regency()
        service = gen.rng.choice(sorted(s for s in _SERVICE_WEIGHTS if standard_for(s, reg).official_fee_idr is not None))
        evs = gen.service_case(reg, fee_extra=gen.rng.randrange(4, 60) * 5_000, service=service)
        submitted, *_ = add(evs, fault="fee_above_tariff")
        submitted.alert, submitted.alert_subject = AlertRule.FEE_ABOVE_TARIFF, (reg, submitted.event.case_id)
    for _ in range(counts["late"]):
        reg, send = gen.regency(), gen.moment()
        ms = send - 2 * MS_DAY - gen.rng.randrange(28 * MS_DAY)
        kind = gen.rng.choice((*_INERT_KINDS, "air"))
        (late,) = add([gen.single(kind, reg, ms)], fault="late", late=True)
        late.send_ms = send
    for _ in range(counts["spoofing"]):
        owner = gen.regency()
        writer = gen.regency(exclude=owner)
        add([gen.single(gen.rng.choice(_INERT_KINDS), owner)], fault="spoofing", ingress=writer, expect=Expect.DLQ,
            dlq_reason=RejectReason.REGENCY_MISMATCH, gateway_rejection=GatewayRejection.REGENCY_FORBIDDEN)
    undecodable = (counts["invalid"] + 1) // 2
    for i in range(counts["invalid"]):
        reg = gen.regency()
        if i < undecodable:
            base_event = gen.single(gen.rng.choice(("health", "tourism", "disaster", "aid")), reg)
            add([base_event], fault="invalid", expect=Expect.DLQ, raw=_garbage(gen, base_event),
                override={"occurred_at": "kemarin sore"}, dlq_reason=RejectReason.UNDECODABLE,
                gateway_rejection=GatewayRejection.INVALID_EVENT)
        else:
            kind = gen.rng.choice(("price", "health", "aid", "service"))
            base_event = gen.service_case(reg)[0] if kind == "service" else gen.single(kind, reg)
            add([base_event], fault="invalid", expect=Expect.DLQ, override=_invalid_override(gen, base_event),
                dlq_reason=RejectReason.INVALID_EVENT, gateway_rejection=GatewayRejection.INVALID_EVENT)


def _assign_group_alerts(ordered: list[_Draft]) -> None:
    """Bursts alert at their 10th complaint, double payments at the second payment, in plan order."""
    seen: Counter[str] = Counter()
    for d in ordered:
        if d.group is None or d.expect is not Expect.EVENT:
            continue
        seen[d.group] += 1
        kind = d.group.split(":")[0]
        if (kind, seen[d.group]) in (("burst", SPIKE_MIN_COUNT), ("aid", 2)):
            d.alert = AlertRule.COMPLAINT_SPIKE if kind == "burst" else AlertRule.AID_DOUBLE_PAYMENT


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
