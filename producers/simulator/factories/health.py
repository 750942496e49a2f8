"""Health facility visits (SIMPUS): one event per visit to a puskesmas or hospital."""

from __future__ import annotations

from producers.simulator.factories.draw import Draw
from schemas.models import Event


class Health:
    """Visits to a regency's own facilities, with the patient's NIK."""

    def __init__(self, draw: Draw) -> None:
        self.draw = draw

    def visit(self, reg: str, ms: int | None = None) -> Event:
        place = self.draw.regions[reg]
        hospital = self.draw.rng.random() < 0.25
        facility = self.draw.rng.choice(place.hospitals if hospital else place.puskesmas)
        service = self.draw.rng.choices(["OUTPATIENT", "INPATIENT", "EMERGENCY", "MATERNAL_CHILD", "IMMUNISATION",
                                         "DENTAL", "LABORATORY"], weights=[50, 8, 7, 12, 10, 6, 7])[0]
        return self.draw.make(
            "HealthFacilityVisit", reg, self.draw.moment() if ms is None else ms,
            case_id=f"V-{facility}-{self.draw.serial('V' + facility):06d}", source_system=f"simpus-{reg}",
            facility_code=facility, facility_type="HOSPITAL" if hospital else "PUSKESMAS", service_type=service,
            payer=self.draw.rng.choices(["BPJS_PBI", "BPJS_NON_PBI", "JAMKESDA", "SELF_PAY"],
                                        weights=[45, 35, 5, 15])[0],
            patient_nik=self.draw.nik(reg), wait_minutes=self.draw.rng.randint(5, 150))
