"""Service requests (population registration, business permits): Submitted, status changes, Completed."""

from __future__ import annotations

from producers.simulator.factories.draw import MS_HOUR, Draw
from schemas.models import Event
from schemas.reference import standard_for

SERVICE_WEIGHTS = {"KTP_EL": 30, "KARTU_KELUARGA": 25, "AKTA_KELAHIRAN": 20, "AKTA_KEMATIAN": 8, "NIB": 12, "PBG": 5}
_SOURCE = {"disdukcapil": "siak", "dpmptsp": "sicantik"}
_OFFICER = {"disdukcapil": "DKC", "dpmptsp": "PTSP"}


class Services:
    """Service request cases, clean or with a fee above the tariff or a duration past the standard."""

    def __init__(self, draw: Draw) -> None:
        self.draw = draw

    def case(self, reg: str, *, fee_extra: int = 0, sla_factor: float | None = None,
             service: str | None = None) -> list[Event]:
        """Submitted -> status changes -> Completed. Clean: fee == tariff, done within 0.8 x the standard."""
        service = service or self.draw.pick(SERVICE_WEIGHTS)
        std = standard_for(service, reg)
        fee = std.official_fee_idr if std.official_fee_idr is not None else self.draw.rng.randrange(500, 5000) * 1000
        fee += fee_extra
        hours = std.completion_time_hours if std.completion_time_hours is not None else self.draw.rng.uniform(72, 240)
        factor = sla_factor if sla_factor is not None else self.draw.rng.uniform(0.1, 0.8)
        if sla_factor is None and std.completion_time_hours is None:
            factor = 1.0  # no standard: any duration is fine, none can be flagged
        outcome = "ISSUED" if (fee_extra or sla_factor) else self.draw.rng.choices(
            ["ISSUED", "REJECTED", "WITHDRAWN"], weights=[88, 7, 5])[0]
        t0 = self.draw.moment()
        duration = max(60_000, int(hours * factor * MS_HOUR))
        case_id = f"SR-{reg}-{self.draw.year}-{self.draw.serial('SR' + reg):06d}"
        channel = self.draw.rng.choice(["COUNTER", "MPP", "ONLINE", "MOBILE_APP", "OUTREACH"])
        system = f"{_SOURCE.get(std.agency, std.agency)}-{reg}"
        complete = self.draw.rng.random() < 0.9 or outcome != "ISSUED"
        common = {"case_id": case_id, "source_system": system, "service_code": service}
        events = [self.draw.make("ServiceRequestSubmitted", reg, t0, **common, channel=channel,
                                 office_code=f"{std.agency}-{reg}", documents_complete=complete, fee_charged_idr=fee,
                                 applicant_nik=self.draw.nik(reg))]
        path = [("SUBMITTED", "VERIFYING", None)]
        if not complete:
            path += [("VERIFYING", "INCOMPLETE_DOCUMENTS", "berkas belum lengkap"),
                     ("INCOMPLETE_DOCUMENTS", "VERIFYING", None)]
        if outcome == "ISSUED":
            path += [("VERIFYING", "IN_PROCESS", None), ("IN_PROCESS", "READY_FOR_PICKUP", None)]
        else:
            path += [("VERIFYING", outcome, "persyaratan tidak terpenuhi" if outcome == "REJECTED" else None)]
        steps = sorted(self.draw.rng.sample(range(1, duration), len(path)))
        officer = f"{_OFFICER.get(std.agency, 'PTG')}-{self.draw.rng.randint(1, 60):03d}"
        for (src, dst, reason), offset in zip(path, steps, strict=True):
            events.append(self.draw.make("ServiceRequestStatusChanged", reg, t0 + offset, **common, from_status=src,
                                         to_status=dst, reason=reason, officer_id=officer))
        events.append(self.draw.make("ServiceRequestCompleted", reg, t0 + duration, **common, channel=channel,
                                     outcome=outcome, submitted_at=self.draw.at(t0), fee_charged_idr=fee))
        return events
