"""The generator's shared draw: one RNG and the primitives every domain's factory builds on (times in the week,
event ids, regencies weighted by population, fresh NIKs, case serials), so that one seed gives one sequence of
choices whichever factory asks."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from producers.simulator.model import WINDOW
from producers.simulator.regions import POPULATION_K, regions
from schemas.models import Event, model_for
from schemas.reference import regencies

MS_HOUR = 3_600_000
MS_DAY = 24 * MS_HOUR


class Draw:
    """One RNG, the base time, the NIK key, and the counters that keep NIKs and case serials unique."""

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
