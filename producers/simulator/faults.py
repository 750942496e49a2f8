"""How much of each fault a simulation injects, as percentages of `--events N`.

A percentage counts *anomalies*, not records: `sla_breach=0.5` with N=1000 makes 5 breached service-request cases
(each a few records), `complaint_burst=0.1` makes 1 burst of 25 complaints. Counts are rounded half up with exact
decimal arithmetic, so the same N and mix give the same counts on every machine.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from pydantic import BaseModel, ConfigDict, Field

FAULTS: tuple[str, ...] = (
    "duplicates", "invalid", "spoofing", "late", "fee_above_tariff", "sla_breach", "complaint_burst",
    "double_aid", "air_quality", "price_jump", "complaint_overdue",
    # -- education --
    "admission_over_quota", "admission_late", "double_admission",
    # -- infrastructure --
    "road_overdue", "payment_ahead",
)


class FaultMix(BaseModel):
    """Percentages (0..100) of N per fault. The defaults inject every fault at least once from N = 1000 up."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    duplicates: float = Field(2.0, ge=0, le=100, description="valid records sent a second time, same bytes")
    invalid: float = Field(1.0, ge=0, le=100, description="half undecodable bytes, half Avro breaking a model rule")
    spoofing: float = Field(0.5, ge=0, le=100, description="regency B's valid event written to A's ingress topic")
    late: float = Field(1.0, ge=0, le=100, description="valid events that occurred 2-30 days before the window")
    fee_above_tariff: float = Field(0.3, ge=0, le=100, description="service cases charging above the official fee")
    sla_breach: float = Field(0.5, ge=0, le=100, description="service cases issued after their standard time")
    complaint_burst: float = Field(0.1, ge=0, le=100, description="bursts of 25 complaints in one regency x category hour")
    double_aid: float = Field(0.2, ge=0, le=100, description="one recipient paid by two regencies, same programme/period")
    air_quality: float = Field(0.3, ge=0, le=100, description="readings above the ISPU 'unhealthy' PM breakpoints")
    price_jump: float = Field(0.2, ge=0, le=100, description="price series jumping +35% after 3 clean observations")
    complaint_overdue: float = Field(0.3, ge=0, le=100, description="complaints followed up after their deadline")
    # -- education --
    admission_over_quota: float = Field(0.1, ge=0, le=100, description="schools admitting beyond a route's quota")
    admission_late: float = Field(0.1, ge=0, le=100, description="admissions decided after the announced deadline")
    double_admission: float = Field(0.1, ge=0, le=100, description="one applicant admitted by two schools")
    # -- infrastructure --
    road_overdue: float = Field(0.2, ge=0, le=100, description="provincial-road reports first handled after 24 h")
    payment_ahead: float = Field(0.2, ge=0, le=100, description="works contracts paid ahead of verified progress")

    @classmethod
    def clean(cls) -> FaultMix:
        """No faults at all: traffic that must raise no alert and put nothing in the DLQ."""
        return cls(**dict.fromkeys(FAULTS, 0.0))

    def count(self, fault: str, events: int) -> int:
        """How many anomalies of `fault` a run of `events` records gets (rounded half up, exactly)."""
        pct = Decimal(str(getattr(self, fault)))
        return int((pct * events / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))

    def counts(self, events: int) -> dict[str, int]:
        """Every fault's anomaly count for a run of `events` records."""
        return {fault: self.count(fault, events) for fault in FAULTS}
