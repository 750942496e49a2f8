"""One valid example event per type: for tests, AsyncAPI examples and smoke checks (values are illustrative)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from schemas.models import Event, model_for

_AT = datetime(2025, 3, 3, 2, 15, 30, 123000, tzinfo=UTC)  # 09:15:30.123 WIB

_BODIES: dict[str, dict[str, Any]] = {
    "ServiceRequestSubmitted": {
        "case_id": "SR-3374-2025-000123", "source_system": "siak-3374", "service_code": "KTP_EL", "channel": "MPP",
        "office_code": "disdukcapil", "documents_complete": True, "fee_charged_idr": 0, "applicant_nik": "3374015502900001",
    },
    "ServiceRequestStatusChanged": {
        "case_id": "SR-3374-2025-000123", "source_system": "siak-3374", "service_code": "KTP_EL",
        "from_status": "VERIFYING", "to_status": "IN_PROCESS", "reason": None, "officer_id": "DKC-017",
    },
    "ServiceRequestCompleted": {
        "case_id": "SR-3374-2025-000123", "source_system": "siak-3374", "service_code": "KTP_EL", "channel": "MPP",
        "outcome": "ISSUED", "submitted_at": _AT - timedelta(hours=5), "fee_charged_idr": 0,
    },
    "ComplaintFiled": {
        "case_id": "LG-2025-004567", "source_system": "laporgub", "category": "PUNGLI", "channel": "LAPORGUB_APP",
        "title": "Asked to pay for a KTP-el at the kecamatan office", "service_code": "KTP_EL", "agency": "disdukcapil",
        "reported_amount_idr": 50000, "anonymous": False, "reporter_nik": "3374015502900002",
    },
    "ComplaintStatusChanged": {
        "case_id": "LG-2025-004567", "source_system": "laporgub", "category": "PUNGLI",
        "from_status": "IN_VERIFICATION", "to_status": "FORWARDED", "agency": "inspektorat", "note": None,
    },
    "HealthFacilityVisit": {
        "case_id": "V-PKM-TBL-2025-88812", "source_system": "simpus-3374", "facility_code": "P3374010101",
        "facility_type": "PUSKESMAS", "service_type": "OUTPATIENT", "payer": "BPJS_PBI",
        "patient_nik": "3374015502900003", "wait_minutes": 35,
    },
    "StapleFoodPriceObserved": {
        "case_id": "PSR-JOHAR:CABAI_RAWIT", "source_system": "sihati-3374", "market_code": "PSR-JOHAR",
        "market_name": "Pasar Johar", "commodity_code": "CABAI_RAWIT", "unit": "KG", "price_idr": 42000,
    },
    "AirQualityReading": {
        "case_id": "AQMS-SMG-01", "source_system": "aqms-dlh-3374", "station_code": "AQMS-SMG-01", "averaging_minutes": 60,
        "pm25": 38.5, "pm10": 61.2, "o3": None, "no2": 22.0, "so2": None, "co": None, "ispu": 74,
    },
    "DisasterReported": {
        "case_id": "BPBD-3374-2025-0031", "source_system": "bpbd-3374", "disaster_type": "TIDAL_FLOOD", "severity": "MEDIUM",
        "response_status": "RESPONDING", "district": "Semarang Utara", "village": "Tanjung Mas",
        "latitude": -6.9547, "longitude": 110.4206, "water_depth_cm": 40, "affected_households": 120,
        "displaced_people": 0, "casualties": 0,
    },
    "SocialAidDisbursed": {
        "case_id": "PKH-3374-2025-03-000991", "source_system": "siks-3374", "programme": "PKH",
        "recipient_nik": "3374015502900004", "amount_idr": 750000, "period": "2025-03", "disbursement_channel": "BANK_TRANSFER",
    },
    "SchoolQuotaPublished": {
        "case_id": "SPMB-2025-20328954-SMA", "source_system": "spmb-jateng", "regency_code": "3374",
        "school_id": "20328954", "school_level": "SMA", "admission_year": 2025, "seats_domisili": 108,
        "seats_afirmasi": 108, "seats_mutasi": 18, "seats_prestasi": 126,
        "decision_deadline": datetime(2025, 6, 30, 9, 0, tzinfo=UTC),
    },
    "SchoolAdmissionApplied": {
        "case_id": "SPMB-2025-SMA-0012345", "source_system": "spmb-jateng", "school_id": "20328954",
        "school_level": "SMA", "route": "AFIRMASI", "admission_year": 2025, "applicant_nik": "3374015502900005",
    },
    "SchoolAdmissionDecided": {
        "case_id": "SPMB-2025-SMA-0012345", "source_system": "spmb-jateng", "school_id": "20328954",
        "school_level": "SMA", "route": "AFIRMASI", "admission_year": 2025, "applicant_nik": "3374015502900005",
        "decision": "ADMITTED", "applied_at": _AT - timedelta(days=3), "decided_at": _AT,
    },
    "TourismVisitCount": {
        "case_id": "DST-BOROBUDUR", "source_system": "disparbud-3308", "regency_code": "3308",
        "destination_code": "DST-BOROBUDUR", "destination_name": "Candi Borobudur", "period_start": date(2025, 2, 1),
        "period_end": date(2025, 2, 28), "granularity": "MONTH", "visitors": 152340, "foreign_visitors": 8120,
    },
    # -- infrastructure --
    "RoadDamageReported": {
        "case_id": "JC-3315-2025-000412", "source_system": "jalancantik", "regency_code": "3315",
        "channel": "JALAN_CANTIK", "road_status": "PROVINCIAL", "road_name": "Jl. Purwodadi-Blora km 8",
        "district": "Purwodadi", "latitude": -7.0871, "longitude": 110.9312, "damage_type": "POTHOLE",
        "photo_ref": "https://jalancantik.jatengprov.go.id/laporan/412/foto-1.jpg",
    },
    "RoadDamageHandled": {
        "case_id": "JC-3315-2025-000412", "source_system": "jalancantik", "regency_code": "3315",
        "road_status": "PROVINCIAL", "action": "CREW_ON_SITE", "reported_at": _AT - timedelta(hours=3),
        "forwarded_to": None, "note": None,
    },
    "PublicWorksProgress": {
        "case_id": "602.1/0345/BM/2025", "source_system": "sipd-3315", "regency_code": "3315",
        "contract_id": "602.1/0345/BM/2025", "work_name": "Rehabilitasi Jalan Purwodadi-Toroh",
        "work_type": "ROAD", "agency": "dpupr-3315", "fiscal_year": 2025, "contract_value_idr": 4_850_000_000,
        "physical_progress_pct": 42.5, "payment_pct": 30.0, "verified_by": "ppk-3315",
    },
}


def example(event_type: str, **overrides: Any) -> Event:
    """A valid event of `event_type` (Kota Semarang unless overridden); `overrides` replace fields."""
    model = model_for(event_type)
    data: dict[str, Any] = {
        "event_id": uuid.uuid5(uuid.NAMESPACE_URL, f"simpul:example:{model.event_type}"),
        "regency_code": "3374", "occurred_at": _AT, **_BODIES[model.event_type], **overrides,
    }
    return model.model_validate(data)


def examples() -> dict[str, Event]:
    """One example per event type of the shipped catalog."""
    return {name: example(name) for name in _BODIES}
