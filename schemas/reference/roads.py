"""Roads and public works reference data (road_authorities.yaml): the owner of a road of each status, the
province's own handling target, and Central Java's bounding box for coordinates.

Kept beside the package's other loaders, in a module of its own so the education data does not share a file."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from schemas.exceptions import ReferenceDataError
from schemas.reference import _read_yaml

FILE = "road_authorities.yaml"
ROAD_STATUSES = ("NATIONAL", "PROVINCIAL", "REGENCY", "VILLAGE")


@dataclass(frozen=True)
class RoadAuthority:
    """Who owns roads of one status; `handling_target_hours` is that owner's own published target, if any."""

    road_status: str
    authority: str
    authority_name: str
    handling_target_hours: float | None
    target_origin: str = ""


@dataclass(frozen=True)
class BoundingBox:
    """Central Java's extent (decimal degrees) widened by a margin: what a road report's coordinates must lie in."""

    south: float
    north: float
    west: float
    east: float
    margin_degrees: float

    def contains(self, latitude: float, longitude: float) -> bool:
        m = self.margin_degrees
        return self.south - m <= latitude <= self.north + m and self.west - m <= longitude <= self.east + m

    def describe(self) -> str:
        m = self.margin_degrees
        return (f"latitude {self.south - m:g}..{self.north + m:g}, longitude {self.west - m:g}..{self.east + m:g} "
                f"(Central Java with a {m:g} degree margin)")


@cache
def road_authorities() -> dict[str, RoadAuthority]:
    """Road status -> its owner and target; every status of the schema must be present."""
    data = _read_yaml(FILE)
    raw = data.get("road_status") or {}
    missing = [s for s in ROAD_STATUSES if s not in raw]
    if missing:
        raise ReferenceDataError(f"{FILE}: road_status lacks {missing}")
    try:
        return {s: RoadAuthority(road_status=s, authority=str(raw[s]["authority"]),
                                 authority_name=str(raw[s]["authority_name"]),
                                 handling_target_hours=raw[s]["handling_target_hours"],
                                 target_origin=str(raw[s].get("target_origin", "")))
                for s in ROAD_STATUSES}
    except KeyError as exc:
        raise ReferenceDataError(f"{FILE}: a road status lacks {exc.args[0]!r}") from exc


def authority_for(road_status: str) -> RoadAuthority:
    """The owner of a road of this status: the authority a report on it is forwarded to."""
    return road_authorities()[road_status]


def handling_target_hours(road_status: str) -> float | None:
    """The owner's own field-handling target in hours (24 for provincial roads), None where none is published."""
    return authority_for(road_status).handling_target_hours


@cache
def handling_actions() -> frozenset[str]:
    """The actions that count as handling a report (the first one is measured against the target)."""
    return frozenset(str(a) for a in _read_yaml(FILE)["handling_actions"])


@cache
def central_java_box() -> BoundingBox:
    """Central Java's bounding box with its margin."""
    b = _read_yaml(FILE)["bounding_box"]
    try:
        return BoundingBox(float(b["south"]), float(b["north"]), float(b["west"]), float(b["east"]),
                           float(b["margin_degrees"]))
    except KeyError as exc:
        raise ReferenceDataError(f"{FILE}: bounding_box lacks {exc.args[0]!r}") from exc


def sources() -> list[str]:
    """The cited sources of the file."""
    src = _read_yaml(FILE)["source"]
    return [src] if isinstance(src, str) else list(src)
