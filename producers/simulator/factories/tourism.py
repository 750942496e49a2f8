"""Tourism visitor counts (Disparbud): one count per destination and period (day, week or month)."""

from __future__ import annotations

from datetime import timedelta

from producers.simulator.factories.draw import Draw
from schemas.models import Event, model_for


class Tourism:
    """Visitor counts of a regency's destinations, the large temples and heritage sites busier."""

    def __init__(self, draw: Draw) -> None:
        self.draw = draw

    def visitor_count(self, reg: str, ms: int | None = None) -> Event:
        code, name = self.draw.rng.choice(self.draw.regions[reg].destinations)
        at = self.draw.at(self.draw.moment() if ms is None else ms)
        granularity = self.draw.rng.choices(["DAY", "WEEK", "MONTH"], weights=[70, 20, 10])[0]
        end = at.date() - timedelta(days=1)
        start = end - timedelta(days=6) if granularity == "WEEK" else end
        if granularity == "MONTH":
            end = at.date().replace(day=1) - timedelta(days=1)
            start = end.replace(day=1)
        days = (end - start).days + 1
        big = code in {"DST-BOROBUDUR", "DST-PRAMBANAN", "DST-LAWANG-SEWU"}
        visitors = self.draw.rng.randint(200, 2_000) * days * (8 if big else 1)
        return model_for("TourismVisitCount")(
            event_id=self.draw.event_id(), regency_code=reg, occurred_at=at, source_system=f"disparbud-{reg}",
            case_id=code, destination_code=code, destination_name=name, period_start=start, period_end=end,
            granularity=granularity, visitors=visitors,
            foreign_visitors=int(visitors * self.draw.rng.uniform(0, 0.08 if big else 0.01)))
