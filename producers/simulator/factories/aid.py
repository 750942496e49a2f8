"""Social aid (SIKS): disbursements, and one recipient paid twice by two regencies."""

from __future__ import annotations

from producers.simulator.factories.draw import MS_DAY, Draw
from producers.simulator.model import WINDOW
from schemas.models import Event, model_for

_AID = {"PKH": (750_000, 30), "BPNT": (600_000, 30), "BLT_DANA_DESA": (300_000, 20), "BANSOS_PROVINSI": (500_000, 10),
        "BANSOS_KABUPATEN": (400_000, 10)}


class SocialAid:
    """Aid disbursements, each of a programme's amount for one period."""

    def __init__(self, draw: Draw) -> None:
        self.draw = draw

    def disbursement(self, reg: str, ms: int | None = None, nik: str | None = None, programme: str | None = None,
                     period: str | None = None) -> Event:
        programme = programme or self.draw.pick({p: w for p, (_, w) in _AID.items()})
        at = self.draw.at(self.draw.moment() if ms is None else ms)
        period = period or f"{at.year:04d}-{at.month:02d}"
        return model_for("SocialAidDisbursed")(
            event_id=self.draw.event_id(), regency_code=reg, occurred_at=at, source_system=f"siks-{reg}",
            case_id=f"{programme}-{reg}-{period}-{self.draw.serial('AID' + reg):06d}", programme=programme,
            recipient_nik=nik or self.draw.nik(reg), amount_idr=_AID[programme][0], period=period,
            disbursement_channel=self.draw.rng.choices(["BANK_TRANSFER", "POST_OFFICE", "CASH"],
                                                       weights=[70, 25, 5])[0])

    def double_payment(self) -> tuple[list[Event], tuple[str, ...]]:
        """One recipient of regency A paid by A and, days later, by B: same programme and period. The subject
        names the recipient's NIK in the clear; the plan names it by the gatekeeper's token."""
        home = self.draw.regency()
        other = self.draw.regency(exclude=home)
        nik = self.draw.nik(home)
        programme = self.draw.pick({p: w for p, (_, w) in _AID.items()})
        first = self.disbursement(home, self.draw.rng.randrange(2 * MS_DAY), nik, programme)
        second = self.disbursement(other, self.draw.rng.randrange(3 * MS_DAY, WINDOW.days * MS_DAY), nik, programme,
                          first.period)  # type: ignore[attr-defined]
        return [first, second], (nik, programme, first.period)  # type: ignore[attr-defined]
