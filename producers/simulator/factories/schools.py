"""School admission (SPMB): a school publishes its quota, applicants apply on a route and the school decides; and
the three anomalies the alert rules look for (admitted beyond a route's quota, admitted after the announced
deadline, one applicant admitted by two schools).

Every case is a fresh school (its own NPSN) with fresh applicants of the school's regency, so clean cases never
share quota or applicant state with each other or with an anomaly: clean admissions stay within each route's
seats and before the deadline, which lies after the simulated week.
"""

from __future__ import annotations

from producers.simulator.factories.draw import MS_DAY, MS_HOUR, Draw
from producers.simulator.model import WINDOW
from schemas.models import Event
from schemas.reference.spmb import ROUTES

# How a simulated school splits its seats (percent per route, within the SPMB shares of schemas/reference/
# spmb_quotas.yaml; the model refuses anything else), and how often each level appears (SMA most: the report's level).
_SPLIT = {"SD": (75, 20, 5, 0), "SMP": (40, 20, 5, 35), "SMA": (30, 30, 5, 35), "SMK": (25, 25, 5, 45)}
_LEVELS = {"SD": 20, "SMP": 25, "SMA": 35, "SMK": 20}
_ROUTE_WEIGHTS = {"DOMISILI": 40, "AFIRMASI": 30, "MUTASI": 5, "PRESTASI": 25}
SOURCE = "spmb-jateng"


class Schools:
    """SPMB cases per school: quota, applications, decisions."""

    def __init__(self, draw: Draw) -> None:
        self.draw = draw

    def npsn(self) -> str:
        """A fresh 8-digit school number (NPSN) for the run."""
        return f"{20300000 + self.draw.serial('NPSN'):08d}"

    def quota(self, reg: str, school: str, level: str, ms: int, deadline_ms: int, total: int | None = None) -> Event:
        """The school's quota: `total` seats (a multiple of 20) split by the level's shares."""
        total = total or 20 * self.draw.rng.randint(3, 12)
        seats = [total * pct // 100 for pct in _SPLIT[level]]
        seats[0] += total - sum(seats)
        return self.draw.make(
            "SchoolQuotaPublished", reg, ms, case_id=f"SPMB-{self.draw.year}-{school}-{level}", source_system=SOURCE,
            school_id=school, school_level=level, admission_year=self.draw.year,
            **{f"seats_{r.lower()}": n for r, n in zip(ROUTES, seats, strict=True)},
            decision_deadline=self.draw.at(deadline_ms))

    def application(self, reg: str, ms: int | None = None, *, school: str | None = None, level: str = "SD",
                    route: str = "DOMISILI", nik: str | None = None) -> Event:
        """One application (on its own: the base of an invalid record)."""
        return self.draw.make(
            "SchoolAdmissionApplied", reg, self.draw.moment() if ms is None else ms,
            case_id=f"SPMB-{self.draw.year}-{level}-{reg}-{self.draw.serial('SPMB' + reg):06d}", source_system=SOURCE,
            school_id=school or self.npsn(), school_level=level, route=route, admission_year=self.draw.year,
            applicant_nik=nik or self.draw.nik(reg))

    def decision(self, applied: Event, ms: int, decision: str) -> Event:
        """The school's decision on `applied`, made and recorded at `ms`."""
        a = applied
        return self.draw.make(
            "SchoolAdmissionDecided", a.regency_code, ms, case_id=a.case_id, source_system=SOURCE,
            school_id=a.school_id, school_level=a.school_level, route=a.route,  # type: ignore[attr-defined]
            admission_year=a.admission_year, applicant_nik=a.applicant_nik,  # type: ignore[attr-defined]
            decision=decision, applied_at=a.occurred_at, decided_at=self.draw.at(ms))

    def _applicants(self, reg: str, school: str, level: str, t0: int, routes: list[str],
                    decisions: list[str], until: int) -> list[Event]:
        """An application per route after `t0` and its decision 1 h to 2 days later, all before `until`."""
        out = []
        for route, decision in zip(routes, decisions, strict=True):
            applied_ms = self.draw.rng.randrange(t0 + MS_HOUR, until - 2 * MS_DAY - MS_HOUR)
            applied = self.application(reg, applied_ms, school=school, level=level, route=route)
            out += [applied, self.decision(applied, applied_ms + self.draw.rng.randrange(MS_HOUR, 2 * MS_DAY),
                                           decision)]
        return out

    def case(self, reg: str) -> list[Event]:
        """A clean school: its quota, then a few applicants, each admitted within its route's seats (or rejected)
        well before the deadline, which is after the simulated week."""
        level = self.draw.pick(_LEVELS)
        school, t0 = self.npsn(), self.draw.rng.randrange(MS_DAY)
        quota = self.quota(reg, school, level, t0, WINDOW.days * MS_DAY + 30 * MS_DAY)
        routes = [r for r in _ROUTE_WEIGHTS if getattr(quota, f"seats_{r.lower()}")]
        picked = self.draw.rng.choices(routes, weights=[_ROUTE_WEIGHTS[r] for r in routes],
                                       k=self.draw.rng.randint(2, 6))
        admitted: dict[str, int] = {}
        decisions = []
        for route in picked:  # never more admitted on a route than its seats
            room = admitted.get(route, 0) < getattr(quota, f"seats_{route.lower()}")
            decision = "ADMITTED" if room and self.draw.rng.random() < 0.7 else "REJECTED"
            admitted[route] = admitted.get(route, 0) + (decision == "ADMITTED")
            decisions.append(decision)
        return [quota, *self._applicants(reg, school, level, t0, picked, decisions, WINDOW.days * MS_DAY)]

    def over_quota(self, reg: str) -> tuple[list[Event], tuple[str, ...]]:
        """A school that admits 1 to 2 applicants more than the MUTASI seats (5% of 60 seats: 3), before its
        deadline; the other routes are untouched. The subject names school, level, year and route."""
        level = self.draw.rng.choice(("SMP", "SMA"))
        school, t0 = self.npsn(), self.draw.rng.randrange(MS_DAY)
        quota = self.quota(reg, school, level, t0, WINDOW.days * MS_DAY + 30 * MS_DAY, total=60)
        seats = quota.seats_mutasi  # type: ignore[attr-defined]
        n = seats + self.draw.rng.randint(1, 2)
        events = [quota, *self._applicants(reg, school, level, t0, ["MUTASI"] * n, ["ADMITTED"] * n,
                                           WINDOW.days * MS_DAY)]
        return events, (reg, school, level, str(self.draw.year), "MUTASI")

    def after_deadline(self, reg: str) -> tuple[list[Event], tuple[str, ...]]:
        """A school whose deadline falls inside the week: one applicant admitted before it, one 2 h to 2 days
        after it. The subject names school and the late application's case."""
        level = self.draw.pick(_LEVELS)
        school, t0 = self.npsn(), self.draw.rng.randrange(MS_DAY)
        deadline = t0 + 3 * MS_DAY + self.draw.rng.randrange(MS_DAY)
        quota = self.quota(reg, school, level, t0, deadline)
        route = "DOMISILI"
        on_time = self._applicants(reg, school, level, t0, [route], ["ADMITTED"], deadline)
        applied_ms = self.draw.rng.randrange(t0 + MS_HOUR, deadline - MS_HOUR)
        applied = self.application(reg, applied_ms, school=school, level=level, route=route)
        late = self.decision(applied, deadline + self.draw.rng.randrange(2 * MS_HOUR, 2 * MS_DAY), "ADMITTED")
        return [quota, *on_time, applied, late], (reg, school, applied.case_id)

    def double_admission(self) -> tuple[list[Event], list[Event], str, str]:
        """One applicant of regency A admitted by an SMA of A and by one of B (each within its quota and
        deadline). Returns the quotas and applications, the two decisions, the applicant's NIK (in the clear: the
        plan names it by the gatekeeper's token) and the level."""
        home = self.draw.regency()
        other = self.draw.regency(exclude=home)
        nik = self.draw.nik(home)
        level = "SMA"
        rest, decisions = [], []
        for reg in (home, other):
            school, t0 = self.npsn(), self.draw.rng.randrange(MS_DAY)
            rest.append(self.quota(reg, school, level, t0, WINDOW.days * MS_DAY + 30 * MS_DAY))
            applied_ms = self.draw.rng.randrange(t0 + MS_HOUR, 4 * MS_DAY)
            applied = self.application(reg, applied_ms, school=school, level=level, route="DOMISILI", nik=nik)
            rest.append(applied)
            decisions.append(self.decision(applied, applied_ms + self.draw.rng.randrange(MS_HOUR, 2 * MS_DAY),
                                           "ADMITTED"))
        return rest, decisions, nik, level
