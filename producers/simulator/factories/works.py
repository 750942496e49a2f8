"""Public works contracts (progress reports): clean series paid in termins never ahead of the verified physical
progress, and series whose last report is paid ahead of it (the payment_ahead_of_progress anomaly)."""

from __future__ import annotations

from producers.simulator.factories.draw import MS_DAY, MS_HOUR, Draw
from schemas.models import Event

_TYPES = {"ROAD": 45, "BRIDGE": 10, "IRRIGATION": 15, "DRAINAGE": 15, "BUILDING": 15}
_NAMES = {"ROAD": "Rehabilitasi Jalan", "BRIDGE": "Penggantian Jembatan", "IRRIGATION": "Rehabilitasi Jaringan Irigasi",
          "DRAINAGE": "Normalisasi Saluran Drainase", "BUILDING": "Pembangunan Gedung"}
TERMINS = (0.0, 25.0, 50.0, 75.0, 95.0, 100.0)  # payment stages, each paid once the progress reaches it


def paid_for(progress: float) -> float:
    """The cumulative payment of clean traffic: the highest termin the verified progress has reached."""
    return max(t for t in TERMINS if t <= progress)


class Works:
    """Progress reports of works contracts; one contract is one case (case_id = contract_id)."""

    def __init__(self, draw: Draw) -> None:
        self.draw = draw

    def _contract(self, reg: str) -> dict[str, object]:
        rng = self.draw.rng
        kind = self.draw.pick(_TYPES)
        contract = f"PUPR-{reg}-{self.draw.year}-{self.draw.serial('PUPR' + reg):04d}"
        return {"case_id": contract, "contract_id": contract, "source_system": f"sipd-{reg}",
                "work_name": f"{_NAMES[kind]} {rng.choice(self.draw.regions[reg].districts)}", "work_type": kind,
                "agency": f"dpupr-{reg}", "fiscal_year": self.draw.year,
                "contract_value_idr": rng.randrange(5, 150) * 100_000_000}

    def _report(self, reg: str, contract: dict[str, object], ms: int, progress: float, payment: float) -> Event:
        return self.draw.make("PublicWorksProgress", reg, ms, **contract, physical_progress_pct=progress,
                              payment_pct=payment,
                              verified_by=self.draw.rng.choice(["konsultan-pengawas", "ppk", "tim-teknis"]))

    def _progress(self, n: int) -> list[float]:
        rng = self.draw.rng
        out, p = [], 0.0
        for _ in range(n):
            p = min(100.0, p + rng.randrange(50, 350) / 10)
            out.append(p)
        return out

    def single(self, reg: str, ms: int | None = None) -> Event:
        """One clean progress report of a fresh contract."""
        (p,) = self._progress(1)
        return self._report(reg, self._contract(reg), self.draw.moment() if ms is None else ms, p, paid_for(p))

    def case(self, reg: str) -> list[Event]:
        """Two to four reports a day or two apart, progress rising, payment at the termin reached."""
        rng = self.draw.rng
        contract = self._contract(reg)
        t = self.draw.moment()
        events = []
        for p in self._progress(rng.randint(2, 4)):
            events.append(self._report(reg, contract, t, p, paid_for(p)))
            t += rng.randrange(MS_DAY, 2 * MS_DAY)
        return events

    def ahead_case(self, reg: str) -> tuple[list[Event], tuple[str, ...]]:
        """Clean reports, then one paid 5-25 points ahead of its verified progress (the alert's report)."""
        rng = self.draw.rng
        contract = self._contract(reg)
        t = self.draw.moment()
        progress = self._progress(rng.randint(2, 3))
        events = []
        for p in progress[:-1]:
            events.append(self._report(reg, contract, t, p, paid_for(p)))
            t += rng.randrange(MS_DAY // 2, MS_DAY) + rng.randrange(MS_HOUR)
        last = min(progress[-1], 90.0)
        events.append(self._report(reg, contract, t, last, min(100.0, last + rng.randrange(50, 250) / 10)))
        return events, (reg, str(contract["contract_id"]))
