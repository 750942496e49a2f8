"""Complaints (LaporGub, SP4N-LAPOR): clean cases within every deadline, overdue cases, and one-hour bursts."""

from __future__ import annotations

from collections import Counter

from producers.simulator.factories.draw import MS_DAY, MS_HOUR, Draw
from producers.simulator.factories.services import SERVICE_WEIGHTS
from producers.simulator.model import WINDOW, PlanError
from schemas.models import Event
from schemas.reference import complaint_categories, standard_for

BURST_SIZE = 25
SPIKE_MIN_COUNT = 10  # streams/rules.yaml default: the burst's 10th complaint is where the alert is raised
CLEAN_COMPLAINTS_PER_HOUR = 9  # < SPIKE_MIN_COUNT per regency x category x hour
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


class Complaints:
    """Complaint cases; keeps every clean regency x category x hour under the spike threshold, away from bursts."""

    def __init__(self, draw: Draw) -> None:
        self.draw = draw
        self.complaint_hours: Counter[tuple[str, str, int]] = Counter()
        self.burst_pairs: set[tuple[str, str]] = set()
        self.burst_hours: dict[tuple[str, str], list[int]] = {}

    def filing_time(self, reg: str, category: str) -> int:
        """A filing time whose regency x category x hour still has room under the clean cap."""
        for _ in range(200):
            ms = self.draw.moment()
            slot = (reg, category, ms // MS_HOUR)
            if self.complaint_hours[slot] < CLEAN_COMPLAINTS_PER_HOUR:
                self.complaint_hours[slot] += 1
                return ms
        raise PlanError(f"no room for another clean {category} complaint in {reg}: lower --events")

    def clean_category(self, reg: str) -> str:
        free = {c: w for c, w in _CATEGORY_WEIGHTS.items() if (reg, c) not in self.burst_pairs}
        if not free:
            raise PlanError(f"every complaint category of {reg} is reserved for bursts: lower --complaint-burst")
        return self.draw.pick(free)

    def filing(self, reg: str, category: str, ms: int) -> Event:
        channel = self.draw.rng.choices(["LAPORGUB_WEB", "LAPORGUB_APP", "SP4N_LAPOR", "WHATSAPP", "SOCIAL_MEDIA",
                                         "HOTLINE", "WALK_IN"], weights=[20, 30, 15, 15, 10, 5, 5])[0]
        service = self.draw.pick(SERVICE_WEIGHTS) if category in ("PUNGLI", "SLOW_SERVICE", "PROCEDURE_VIOLATION",
                                                               "SERVICE_QUALITY", "DISCRIMINATION") else None
        agency = standard_for(service).agency if service else _CATEGORY_AGENCY.get(category)
        title = self.draw.rng.choice(_TITLES[category]).format(
            s=standard_for(service).name_id if service else "layanan",
            d=self.draw.rng.choice(self.draw.regions[reg].districts))
        anonymous = self.draw.rng.random() < 0.2
        return self.draw.make(
            "ComplaintFiled", reg, ms, case_id=f"LG-{reg}-{self.draw.year}-{self.draw.serial('LG' + reg):06d}",
            source_system="sp4n-lapor" if channel == "SP4N_LAPOR" else "laporgub", category=category, channel=channel,
            title=title, service_code=service, agency=agency,
            reported_amount_idr=self.draw.rng.randrange(2, 60) * 25_000 if category == "PUNGLI" else None,
            anonymous=anonymous, reporter_nik=None if anonymous else self.draw.nik(reg))

    def status(self, filed: Event, ms: int, src: str, dst: str, agency: str | None = None) -> Event:
        return self.draw.make("ComplaintStatusChanged", filed.regency_code, ms, case_id=filed.case_id,
                              source_system=filed.source_system, category=filed.category,  # type: ignore[attr-defined]
                              from_status=src, to_status=dst, agency=agency, note=None)

    def case(self, reg: str) -> list[Event]:
        """Filed, then a valid workflow path, every follow-up within 2 calendar days and never UNANSWERED."""
        category = self.clean_category(reg)
        t0 = self.filing_time(reg, category)
        filed = self.filing(reg, category, t0)
        agency = filed.agency  # type: ignore[attr-defined]
        if self.draw.rng.random() < 0.15:
            path = [("RECEIVED", "IN_VERIFICATION"), ("IN_VERIFICATION", "NOT_ELIGIBLE"), ("NOT_ELIGIBLE", "CLOSED")]
        else:
            path = [("RECEIVED", "IN_VERIFICATION"), ("IN_VERIFICATION", "FORWARDED"), ("FORWARDED", "IN_PROGRESS"),
                    ("IN_PROGRESS", "RESOLVED"), ("RESOLVED", "CLOSED")]
        path = path[: self.draw.rng.randint(1, len(path))]
        steps = sorted(self.draw.rng.sample(range(60_000, 2 * MS_DAY - MS_HOUR), len(path)))
        return [filed] + [self.status(filed, t0 + off, src, dst, agency if dst == "FORWARDED" else None)
                          for (src, dst), off in zip(path, steps, strict=True)]

    def overdue_case(self, reg: str) -> tuple[list[Event], tuple[str, ...]]:
        """Filed, verified and forwarded in time, then followed up (or marked UNANSWERED) days after the
        category's deadline: at least its working days as calendar days with every weekend added, plus 3 days, so
        any reading of "working days" (weekend filing, time of day) still sees it late."""
        category = self.clean_category(reg)
        t0 = self.filing_time(reg, category)
        filed = self.filing(reg, category, t0)
        late_step = ("FORWARDED", self.draw.rng.choice(["IN_PROGRESS", "UNANSWERED"]))
        d = complaint_categories()[category].deadlines
        working = d.verify_and_forward_working_days + d.follow_up_working_days
        overdue_days = working + 2 * (working // 5 + 1) + 3
        offsets = [self.draw.rng.randrange(MS_HOUR, 8 * MS_HOUR), self.draw.rng.randrange(MS_DAY, 2 * MS_DAY),
                   self.draw.rng.randrange(overdue_days * MS_DAY, (overdue_days + 5) * MS_DAY)]
        events = [filed, self.status(filed, t0 + offsets[0], "RECEIVED", "IN_VERIFICATION"),
                  self.status(filed, t0 + offsets[1], "IN_VERIFICATION", "FORWARDED",
                              filed.agency),  # type: ignore[attr-defined]
                  self.status(filed, t0 + offsets[2], *late_step)]
        return events, (reg, filed.case_id)

    def burst(self) -> tuple[list[Event], tuple[str, ...]]:
        """25 complaints of one regency x category within one hour; that pair gets no other complaint at all,
        so the previous 24 hours are empty and the hour's count crosses every threshold once."""
        reg, category = self.draw.regency(), self.draw.pick(_CATEGORY_WEIGHTS)
        hours = self.burst_hours.setdefault((reg, category), [])
        for _ in range(200):
            hour = self.draw.rng.randrange(WINDOW.days * 24)
            if all(abs(hour - h) >= 26 for h in hours):
                break
        else:
            raise PlanError("too many complaint bursts for one week of traffic: lower --complaint-burst")
        # Bursts are planned before any other complaint, so reserving the pair here keeps it free of them.
        hours.append(hour)
        self.burst_pairs.add((reg, category))
        offsets = sorted(self.draw.rng.sample(range(MS_HOUR), BURST_SIZE))
        events = [self.filing(reg, category, hour * MS_HOUR + off) for off in offsets]
        return events, (reg, category, self.draw.at(hour * MS_HOUR).isoformat())
