"""Every domain's factory over one shared draw, and the kinds of clean case the plan mixes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from producers.simulator.factories.aid import SocialAid
from producers.simulator.factories.air import AirQuality
from producers.simulator.factories.complaints import Complaints
from producers.simulator.factories.disasters import Disasters
from producers.simulator.factories.draw import Draw
from producers.simulator.factories.health import Health
from producers.simulator.factories.prices import Prices
from producers.simulator.factories.roads import Roads
from producers.simulator.factories.schools import Schools
from producers.simulator.factories.services import Services
from producers.simulator.factories.tourism import Tourism
from producers.simulator.factories.works import Works
from schemas.models import Event

KINDS = {"service": 8, "complaint": 6, "health": 25, "price": 15, "air": 15, "aid": 10, "tourism": 5, "disaster": 4,
         # -- education --
         "school": 3,
         # -- infrastructure --
         "road": 6, "works": 3}
# Kinds whose events no alert rule looks at (or only at values we keep clean): safe for late and spoofed events.
INERT_KINDS = ("health", "tourism", "disaster")


class Traffic:
    """The generator: one draw (one RNG) that every domain's factory shares, so the order of calls is the plan."""

    def __init__(self, seed: int, base: datetime, nik_key: str) -> None:
        self.draw = Draw(seed, base, nik_key)
        self.services = Services(self.draw)
        self.complaints = Complaints(self.draw)
        self.prices = Prices(self.draw)
        self.air = AirQuality(self.draw)
        self.aid = SocialAid(self.draw)
        self.health = Health(self.draw)
        self.tourism = Tourism(self.draw)
        self.disasters = Disasters(self.draw)
        # -- education --
        self.schools = Schools(self.draw)
        # -- infrastructure --
        self.roads = Roads(self.draw)
        self.works = Works(self.draw)

    def single(self, kind: str, reg: str, ms: int | None = None) -> Event:
        """One event of a single-event kind."""
        if kind == "price":
            return self.prices.observation(reg, self.prices.clean_series(reg), self.draw.moment() if ms is None else ms)
        maker: Callable[..., Event] = {
            "health": self.health.visit, "air": self.air.reading, "aid": self.aid.disbursement,
            "tourism": self.tourism.visitor_count, "disaster": self.disasters.report,
            "school": self.schools.application, "road": self.roads.report, "works": self.works.single}[kind]
        return maker(reg, ms)

    def case(self, kind: str, reg: str) -> list[Event]:
        """A clean case of `kind` (several events for service requests and complaints)."""
        if kind == "service":
            return self.services.case(reg)
        if kind == "complaint":
            return self.complaints.case(reg)
        if kind == "school":
            return self.schools.case(reg)
        if kind == "road":
            return self.roads.case(reg)
        if kind == "works":
            return self.works.case(reg)
        return [self.single(kind, reg)]
