"""Disaster reports (BPBD): floods, landslides and the like, weighted by the regency's coast and highlands."""

from __future__ import annotations

from producers.simulator.factories.draw import Draw
from producers.simulator.regions import COASTAL, HIGHLANDS
from schemas.models import Event


class Disasters:
    """Disaster reports; tidal floods on the coast, landslides in the highlands."""

    def __init__(self, draw: Draw) -> None:
        self.draw = draw

    def report(self, reg: str, ms: int | None = None) -> Event:
        kinds = {"FLOOD": 30, "FLASH_FLOOD": 5, "LANDSLIDE": 10, "DROUGHT": 10, "STRONG_WIND": 15, "FOREST_FIRE": 3}
        if reg in COASTAL:
            kinds["TIDAL_FLOOD"] = 35
        if reg in HIGHLANDS:
            kinds["LANDSLIDE"] = 40
        kind = self.draw.pick(kinds)
        severity = self.draw.rng.choices(["LOW", "MEDIUM", "HIGH", "CRITICAL"], weights=[50, 30, 15, 5])[0]
        households = self.draw.rng.randint(1, 400) * (1 + ["LOW", "MEDIUM", "HIGH", "CRITICAL"].index(severity))
        flooding = kind in ("FLOOD", "FLASH_FLOOD", "TIDAL_FLOOD")
        return self.draw.make(
            "DisasterReported", reg, self.draw.moment() if ms is None else ms,
            case_id=f"BPBD-{reg}-{self.draw.year}-{self.draw.serial('BPBD' + reg):04d}", source_system=f"bpbd-{reg}",
            disaster_type=kind, severity=severity,
            response_status=self.draw.rng.choice(["REPORTED", "RESPONDING", "RECOVERING"]),
            district=self.draw.rng.choice(self.draw.regions[reg].districts), village=None,
            water_depth_cm=self.draw.rng.randint(10, 150) if flooding else None, affected_households=households,
            displaced_people=households * self.draw.rng.randint(0, 3) if severity in ("HIGH", "CRITICAL") else 0,
            casualties=0)
