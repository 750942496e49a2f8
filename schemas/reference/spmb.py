"""SPMB (school admission) reference data: which routes each school level has and their quota shares
(spmb_quotas.yaml, which cites its source), and the content rules the contract derives from them.

The rules return `FieldProblem`s naming the field, so the event models (schemas.models) refuse a bad event with a
message that says which field breaks which share; the stream processors only count against a school's own
published quota.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Literal

from schemas.exceptions import FieldProblem, ReferenceDataError
from schemas.reference import _read_yaml

FILE = "spmb_quotas.yaml"
LEVELS: tuple[str, ...] = ("SD", "SMP", "SMA", "SMK")
ROUTES: tuple[str, ...] = ("DOMISILI", "AFIRMASI", "MUTASI", "PRESTASI")


@dataclass(frozen=True)
class RouteShare:
    """A route's share of a school's seats: at least `min_pct`, at most `max_pct`, or unbounded (both None)."""

    route: str
    min_pct: float | None = None
    max_pct: float | None = None

    def minimum(self, total: int) -> int:
        """Fewest seats the route may get out of `total` (rounded in the school's favour)."""
        return math.floor(self.min_pct * total / 100) if self.min_pct is not None else 0

    def maximum(self, total: int) -> int:
        """Most seats the route may get out of `total` (rounded in the school's favour)."""
        return math.ceil(self.max_pct * total / 100) if self.max_pct is not None else total

    def describe(self) -> str:
        if self.min_pct is not None:
            return f"at least {self.min_pct:g}%"
        if self.max_pct is not None:
            return f"at most {self.max_pct:g}%"
        return "no fixed share"


@dataclass(frozen=True)
class LevelRoutes:
    """One school level: who runs its admission and the routes it has."""

    level: str
    authority: Literal["regency", "province"]
    routes: dict[str, RouteShare]
    note: str = ""

    def allows(self, route: str) -> bool:
        return route in self.routes


@cache
def spmb_levels() -> dict[str, LevelRoutes]:
    """Every school level's routes and shares, by level (SD, SMP, SMA, SMK)."""
    data = _read_yaml(FILE)
    out: dict[str, LevelRoutes] = {}
    for level, body in (data.get("levels") or {}).items():
        routes = body.get("routes") or {}
        unknown = set(routes) - set(ROUTES)
        if level not in LEVELS or unknown or body.get("authority") not in ("regency", "province"):
            raise ReferenceDataError(f"{FILE}: level {level!r} must be one of {LEVELS} with an authority (regency or "
                                     f"province) and routes among {ROUTES} (unknown: {sorted(unknown)})")
        shares = {r: RouteShare(r, (s or {}).get("min_pct"), (s or {}).get("max_pct")) for r, s in routes.items()}
        if sum(s.min_pct or 0 for s in shares.values()) > 100:
            raise ReferenceDataError(f"{FILE}: the minimum shares of {level} add up to more than 100%")
        out[level] = LevelRoutes(level, body["authority"], shares, str(body.get("note", "")))
    if set(out) != set(LEVELS):
        raise ReferenceDataError(f"{FILE}: must list every level {LEVELS}; found {sorted(out)}")
    return out


def route_problems(level: str, route: str, field: str = "route") -> list[FieldProblem]:
    """A route the level does not have (PRESTASI at SD), named on `field`."""
    known = spmb_levels()[level]
    if known.allows(route):
        return []
    return [FieldProblem(field, f"is not an SPMB route of {level}; {level} has {', '.join(known.routes)}")]


def quota_problems(level: str, seats: dict[str, int]) -> list[FieldProblem]:
    """A published quota (route -> seats) against the level's routes and shares; each problem names
    `seats_<route>`."""
    known = spmb_levels()[level]
    total = sum(seats.values())
    if total == 0:
        return [FieldProblem("seats_domisili", "the quota has no seat on any route; publish at least one seat")]
    out: list[FieldProblem] = []
    for route, n in seats.items():
        field = f"seats_{route.lower()}"
        share = known.routes.get(route)
        if share is None:
            if n:
                out.append(FieldProblem(field, f"{level} has no {route} route in SPMB; must be 0"))
            continue
        low, high = share.minimum(total), share.maximum(total)
        if not low <= n <= high:
            out.append(FieldProblem(field, f"{n} of {total} seats; SPMB gives {route} at {level} {share.describe()} "
                                           f"({low} to {high} seats)"))
    return out


def decision_problems(applied_at: datetime, decided_at: datetime, occurred_at: datetime) -> list[FieldProblem]:
    """A decision before its application, or recorded before it was made."""
    out = []
    if decided_at < applied_at:
        out.append(FieldProblem("decided_at", "is before applied_at; a school cannot decide an application before "
                                              "it is registered"))
    if decided_at > occurred_at:
        out.append(FieldProblem("decided_at", "is after occurred_at; a decision cannot be recorded before it is made"))
    return out
