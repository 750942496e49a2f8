"""Air quality (AQMS stations): clean hourly averages, and readings over the 'unhealthy' breakpoint."""

from __future__ import annotations

from producers.simulator.factories.draw import MS_HOUR, Draw
from producers.simulator.model import PlanError
from schemas.models import Event


def _ispu_pm25(pm25: float) -> int:
    """ISPU sub-index of PM2.5 (PermenLHK 14/2020 breakpoints), so readings look like a station's output."""
    points = ((0.0, 0), (15.5, 50), (55.4, 100), (150.4, 200), (250.4, 300), (500.0, 500))
    for (c0, i0), (c1, i1) in zip(points, points[1:], strict=False):
        if pm25 <= c1:
            return round(i0 + (i1 - i0) * (pm25 - c0) / (c1 - c0))
    return 500


class AirQuality:
    """Air quality readings; an exceedance takes a station-hour no other exceedance uses."""

    def __init__(self, draw: Draw) -> None:
        self.draw = draw
        self.exceeded: set[tuple[str, int]] = set()

    def reading(self, reg: str, ms: int | None = None, station: str | None = None) -> Event:
        """An hourly average: clean pm25 in [5, 40], pm10 in [10, 100]."""
        station = station or self.draw.rng.choice(self.draw.regions[reg].stations)
        ms = self.draw.moment() if ms is None else ms
        pm25 = round(self.draw.rng.uniform(5, 40), 1)
        pm10 = round(min(100.0, max(10.0, pm25 * self.draw.rng.uniform(1.2, 2.2))), 1)
        return self._reading_at(reg, station, ms, pm25, pm10)

    def _reading_at(self, reg: str, station: str, ms: int, pm25: float, pm10: float) -> Event:
        hour_start = ms - ms % MS_HOUR
        return self.draw.make("AirQualityReading", reg, hour_start + self.draw.rng.randrange(60_000), case_id=station,
                              source_system=f"aqms-dlh-{reg}", station_code=station, averaging_minutes=60, pm25=pm25,
                              pm10=pm10, no2=round(self.draw.rng.uniform(5, 60), 1), ispu=_ispu_pm25(pm25))

    def exceedance(self) -> tuple[list[Event], tuple[str, ...]]:
        """One reading over the 'unhealthy' breakpoint, at a station-hour no other exceedance uses."""
        for _ in range(200):
            reg = self.draw.regency()
            station = self.draw.rng.choice(self.draw.regions[reg].stations)
            ms = self.draw.moment()
            if (station, ms // MS_HOUR) not in self.exceeded:
                break
        else:
            raise PlanError("no station-hour left for another air-quality exceedance: lower --air-quality")
        self.exceeded.add((station, ms // MS_HOUR))
        if self.draw.rng.random() < 0.6:
            pm25 = round(self.draw.rng.uniform(60, 250), 1)
            pm10 = round(pm25 * self.draw.rng.uniform(1.1, 1.6), 1)  # PM10 includes PM2.5
        else:
            pm25, pm10 = round(self.draw.rng.uniform(30, 50), 1), round(self.draw.rng.uniform(160, 420), 1)
        event = self._reading_at(reg, station, ms, pm25, pm10)
        return [event], (reg, station, self.draw.at(ms - ms % MS_HOUR).isoformat())
