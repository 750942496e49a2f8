"""Road damage (Jalan Cantik, LaporGub, SP4N-LAPOR!): reports and their handling, clean within the owner's own
target, and provincial-road reports first handled after it (the road_handling_overdue anomaly)."""

from __future__ import annotations

from producers.simulator.factories.draw import MS_DAY, MS_HOUR, Draw
from schemas.models import Event
from schemas.reference.roads import authority_for, handling_target_hours

# Shares of road status among Jalan Cantik reports (rmoljawatengah.id, 16 December 2020: 81 national, 219
# provincial, 727 regency, 239 village roads of 2,930).
STATUS_WEIGHTS = {"NATIONAL": 81, "PROVINCIAL": 219, "REGENCY": 727, "VILLAGE": 239}
_CHANNELS = {"JALAN_CANTIK": 50, "LAPORGUB": 30, "SP4N_LAPOR": 10, "REGENCY_APP": 10}
_DAMAGE = {"POTHOLE": 50, "CRACKED": 15, "SUBSIDENCE": 10, "LANDSLIDE": 8, "FLOODED": 10, "BRIDGE": 2, "OTHER": 5}
# Rough seat of each regency (decimal degrees); reports fall within ~0.08 degrees of it, well inside the province.
SEATS: dict[str, tuple[float, float]] = {
    "3301": (-7.73, 109.01), "3302": (-7.42, 109.23), "3303": (-7.39, 109.36), "3304": (-7.40, 109.69),
    "3305": (-7.67, 109.65), "3306": (-7.71, 110.01), "3307": (-7.36, 109.90), "3308": (-7.58, 110.25),
    "3309": (-7.53, 110.60), "3310": (-7.71, 110.60), "3311": (-7.68, 110.84), "3312": (-7.81, 110.92),
    "3313": (-7.60, 110.95), "3314": (-7.43, 111.02), "3315": (-7.09, 110.92), "3316": (-6.97, 111.42),
    "3317": (-6.71, 111.34), "3318": (-6.75, 111.04), "3319": (-6.80, 110.84), "3320": (-6.59, 110.67),
    "3321": (-6.89, 110.64), "3322": (-7.14, 110.41), "3323": (-7.32, 110.17), "3324": (-6.92, 110.20),
    "3325": (-6.91, 109.73), "3326": (-7.03, 109.58), "3327": (-6.89, 109.38), "3328": (-6.98, 109.14),
    "3329": (-6.87, 109.04), "3371": (-7.48, 110.22), "3372": (-7.57, 110.82), "3373": (-7.33, 110.50),
    "3374": (-6.99, 110.42), "3375": (-6.89, 109.68), "3376": (-6.87, 109.14),
}
_SOURCE = {"JALAN_CANTIK": "jalancantik", "LAPORGUB": "laporgub", "SP4N_LAPOR": "sp4n-lapor"}
OVERDUE_HOURS = (30, 66)  # a late first handling: past the 24 h target, under 3x it (a warning, not critical)


class Roads:
    """Road-damage reports and their handling steps (one case per report)."""

    def __init__(self, draw: Draw) -> None:
        self.draw = draw

    def report(self, reg: str, ms: int | None = None, road_status: str | None = None) -> Event:
        """One report, located near the regency's seat."""
        rng = self.draw.rng
        status = road_status or self.draw.pick(STATUS_WEIGHTS)
        channel = self.draw.pick(_CHANNELS)
        lat, lon = SEATS[reg]
        serial = self.draw.serial("ROAD" + reg)
        photo = f"https://jalancantik.jatengprov.go.id/laporan/{reg}-{serial}/foto-1.jpg" if rng.random() < 0.8 else None
        return self.draw.make(
            "RoadDamageReported", reg, self.draw.moment() if ms is None else ms,
            case_id=f"JLN-{reg}-{self.draw.year}-{serial:06d}", source_system=_SOURCE.get(channel, f"lapor-{reg}"),
            channel=channel, road_status=status, road_name=None,
            district=rng.choice(self.draw.regions[reg].districts),
            latitude=round(lat + rng.uniform(-0.08, 0.08), 5), longitude=round(lon + rng.uniform(-0.08, 0.08), 5),
            damage_type=self.draw.pick(_DAMAGE), photo_ref=photo)

    def step(self, report: Event, ms: int, action: str, note: str | None = None) -> Event:
        status = report.road_status  # type: ignore[attr-defined]
        return self.draw.make(
            "RoadDamageHandled", report.regency_code, ms, case_id=report.case_id,
            source_system=report.source_system, road_status=status, action=action, reported_at=report.occurred_at,
            forwarded_to=authority_for(status).authority if action == "FORWARDED" else None, note=note)

    def case(self, reg: str) -> list[Event]:
        """A report and its handling. Provincial roads: a crew within 1-6 h, repaired 3-8 h later (or rejected
        within 12 h), every first handling inside the 1x24 h target; other roads: forwarded to their owner within
        a day, repaired by it 1-4 days later or still open."""
        rng = self.draw.rng
        t0 = self.draw.moment()
        report = self.report(reg, t0)
        if handling_target_hours(report.road_status) is not None:  # type: ignore[attr-defined]
            if rng.random() < 0.1:
                return [report, self.step(report, t0 + rng.randrange(MS_HOUR, 12 * MS_HOUR), "REJECTED",
                                          "bukan kerusakan jalan")]
            crew = t0 + rng.randrange(MS_HOUR, 6 * MS_HOUR)
            events = [report, self.step(report, crew, "CREW_ON_SITE")]
            if rng.random() < 0.85:
                events.append(self.step(report, crew + rng.randrange(3 * MS_HOUR, 8 * MS_HOUR), "REPAIRED"))
            return events
        forwarded = t0 + rng.randrange(MS_HOUR, MS_DAY)
        events = [report, self.step(report, forwarded, "FORWARDED")]
        if rng.random() < 0.6:
            events.append(self.step(report, forwarded + rng.randrange(MS_DAY, 4 * MS_DAY), "REPAIRED"))
        return events

    def overdue_case(self, reg: str) -> tuple[list[Event], tuple[str, ...]]:
        """A provincial-road report whose crew arrives 30-66 h after it (past the 24 h target), then repairs it;
        the alert is raised by the crew's arrival, the case's first handling."""
        rng = self.draw.rng
        t0 = self.draw.moment()
        report = self.report(reg, t0, road_status="PROVINCIAL")
        crew = t0 + rng.randrange(OVERDUE_HOURS[0] * MS_HOUR, OVERDUE_HOURS[1] * MS_HOUR)
        events = [report, self.step(report, crew, "CREW_ON_SITE"),
                  self.step(report, crew + rng.randrange(3 * MS_HOUR, 8 * MS_HOUR), "REPAIRED")]
        return events, (reg, report.case_id)
