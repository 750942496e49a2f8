"""Staple food prices (SiHati): clean series within a narrow band of their base, and fresh series that jump."""

from __future__ import annotations

import math

from producers.simulator.factories.draw import MS_DAY, MS_HOUR, Draw
from producers.simulator.model import WINDOW, PlanError
from schemas.models import Event
from schemas.reference import commodities

PRICE_JUMP = 1.35
CLEAN_PRICE_BAND = 0.03


class Prices:
    """Price observations; each series' base is drawn once, and a jumping series is kept from clean traffic."""

    def __init__(self, draw: Draw) -> None:
        self.draw = draw
        self.price_base: dict[tuple[str, str, str], int] = {}
        self.reserved_series: set[tuple[str, str, str]] = set()

    def observation(self, reg: str, series: tuple[str, str, str], ms: int, factor: float | None = None) -> Event:
        """One observation; clean ones stay within +-3% of the series' base (drawn once from the band)."""
        _, market, commodity = series
        item = commodities()[commodity]
        if series not in self.price_base:
            lo, hi = item.simulation_price_idr
            self.price_base[series] = self.draw.rng.randrange(lo // 50, hi // 50 + 1) * 50
        base = self.price_base[series]
        if factor is None:
            lo_p, hi_p = math.ceil(base * (1 - CLEAN_PRICE_BAND)), math.floor(base * (1 + CLEAN_PRICE_BAND))
            drawn = self.draw.rng.uniform(1 - CLEAN_PRICE_BAND, 1 + CLEAN_PRICE_BAND)
            value = min(max(round(base * drawn), lo_p), hi_p)
        else:
            value = round(base * factor)
        name = dict(self.draw.regions[reg].markets)[market]
        return self.draw.make("StapleFoodPriceObserved", reg, ms, case_id=f"{market}:{commodity}",
                              source_system=f"sihati-{reg}", market_code=market, market_name=name,
                              commodity_code=commodity, unit=item.unit, price_idr=value)

    def series_in(self, reg: str) -> tuple[str, str, str]:
        """A (regency, market, commodity) series drawn from the regency's markets and every commodity."""
        return reg, self.draw.rng.choice(self.draw.regions[reg].markets)[0], self.draw.rng.choice(sorted(commodities()))

    def clean_series(self, reg: str) -> tuple[str, str, str]:
        for _ in range(100):
            series = self.series_in(reg)
            if series not in self.reserved_series:
                return series
        raise PlanError(f"every price series of {reg} is reserved for jumps: lower --price-jump")

    def jump(self) -> tuple[list[Event], tuple[str, ...]]:
        """A fresh series: 3 clean observations on consecutive mornings, then +35% the next morning."""
        for _ in range(200):
            reg = self.draw.regency()
            series = self.series_in(reg)
            if series not in self.reserved_series and series not in self.price_base:
                break
        else:
            raise PlanError("no fresh price series left for another jump: lower --price-jump")
        self.reserved_series.add(series)
        day0 = self.draw.rng.randrange(WINDOW.days - 3)
        times = [(day0 + i) * MS_DAY + self.draw.rng.randrange(MS_HOUR, 4 * MS_HOUR) for i in range(4)]
        events = [self.observation(reg, series, t) for t in times[:3]]
        events.append(self.observation(reg, series, times[3], PRICE_JUMP))
        return events, (reg, series[1], series[2], self.draw.at(times[3]).date().isoformat())
