"""What the simulator knows about each regency beyond the reference data: how many people live there (to weight
traffic), and the plausible names of its monitoring stations, markets, health facilities and tourist sites.

Populations are rounded 2020-census figures in thousands (BPS Jawa Tengah); they only weight the traffic, so
"roughly right" is the bar. Codes follow the shapes the source systems use (Kemenkes facility codes start with
the regency code; AQMS and market codes carry it too), so a code says which regency it belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from schemas.reference import regencies

POPULATION_K: dict[str, int] = {
    "3301": 1944, "3302": 1776, "3303": 998, "3304": 1017, "3305": 1350, "3306": 769, "3307": 879,
    "3308": 1299, "3309": 1062, "3310": 1260, "3311": 907, "3312": 1043, "3313": 931, "3314": 976,
    "3315": 1453, "3316": 884, "3317": 645, "3318": 1324, "3319": 849, "3320": 1185, "3321": 1203,
    "3322": 1053, "3323": 790, "3324": 1018, "3325": 801, "3326": 968, "3327": 1471, "3328": 1597,
    "3329": 1979, "3371": 121, "3372": 523, "3373": 193, "3374": 1653, "3375": 307, "3376": 273,
}

# The north-coast (Pantura) regencies see tidal floods; the central highlands see landslides.
COASTAL = frozenset({"3301", "3317", "3318", "3320", "3321", "3324", "3325", "3326", "3327", "3328", "3329",
                     "3374", "3375", "3376"})
HIGHLANDS = frozenset({"3302", "3303", "3304", "3307", "3308", "3323", "3313", "3309", "3322"})

_LANDMARKS: dict[str, tuple[tuple[str, str], ...]] = {
    "3308": (("DST-BOROBUDUR", "Candi Borobudur"), ("DST-KETEP", "Ketep Pass")),
    "3310": (("DST-PRAMBANAN", "Candi Prambanan"), ("DST-UMBUL-PONGGOK", "Umbul Ponggok")),
    "3304": (("DST-DIENG", "Dataran Tinggi Dieng"),),
    "3320": (("DST-KARIMUNJAWA", "Taman Nasional Karimunjawa"),),
    "3374": (("DST-LAWANG-SEWU", "Lawang Sewu"), ("DST-SAM-POO-KONG", "Klenteng Sam Poo Kong")),
    "3372": (("DST-KERATON-SKA", "Keraton Kasunanan Surakarta"), ("DST-PASAR-GEDE", "Pasar Gede Hardjonagoro")),
    "3313": (("DST-TAWANGMANGU", "Grojogan Sewu Tawangmangu"), ("DST-CANDI-SUKUH", "Candi Sukuh")),
    "3302": (("DST-BATURRADEN", "Lokawisata Baturraden"),),
    "3301": (("DST-BENTENG-PENDEM", "Benteng Pendem Cilacap"),),
    "3322": (("DST-GEDONG-SONGO", "Candi Gedong Songo"),),
}
_MARKETS = ("Pasar Induk", "Pasar Kota", "Pasar Legi", "Pasar Kliwon")
_DIRECTIONS = ("Utara", "Selatan", "Barat", "Timur", "Tengah", "Kota")


@dataclass(frozen=True)
class Region:
    """One regency's simulated places; every code embeds the regency code."""

    code: str
    name: str
    stations: tuple[str, ...]
    markets: tuple[tuple[str, str], ...]
    puskesmas: tuple[str, ...]
    hospitals: tuple[str, ...]
    destinations: tuple[tuple[str, str], ...]
    districts: tuple[str, ...]


@cache
def regions() -> dict[str, Region]:
    """Every regency's places, by code (derived, not random, so they never depend on the seed)."""
    out: dict[str, Region] = {}
    for r in regencies():
        pop = POPULATION_K[r.code]
        stations = tuple(f"AQMS-{r.code}-{i:02d}" for i in range(1, 2 + (pop > 1200) + (r.code == "3374")))
        markets = tuple((f"PSR-{r.code}-{i:02d}", f"{m} {r.name}") for i, m in enumerate(_MARKETS, 1))
        # Kemenkes puskesmas codes: P + regency code + district + serial (e.g. P3374010101).
        puskesmas = tuple(f"P{r.code}{d:03d}{s}01" for d in range(10, 10 * (3 + pop // 400), 10) for s in (1, 2))
        hospitals = (f"RSUD-{r.code}",) + ((f"RS-{r.code}-02",) if pop > 900 else ())
        destinations = _LANDMARKS.get(r.code, ()) + (
            (f"DST-{r.code}-ALUN", f"Alun-alun {r.name}"), (f"DST-{r.code}-MUSEUM", f"Museum {r.name}"))
        districts = tuple(f"{r.name} {d}" for d in _DIRECTIONS)
        out[r.code] = Region(r.code, r.display_name, stations, markets, puskesmas, hospitals, destinations, districts)
    return out
