"""The names of every outcome an event can have on the bus, shared by the producers' simulator manifest, the
stream processors, the sinks and the monitor, so that what is expected and what happened use one vocabulary.
"""

from __future__ import annotations

from enum import StrEnum


class RejectReason(StrEnum):
    """Why the gatekeeper moved a record to the DLQ (the `simpul.reason` header of the DLQ record)."""

    UNDECODABLE = "undecodable"
    """Not Confluent-framed Avro, an unknown schema id, or a body that does not read with its writer schema."""
    UNKNOWN_EVENT_TYPE = "unknown_event_type"
    """Valid Avro, but of a record type that is not one of the catalog's event types."""
    INVALID_EVENT = "invalid_event"
    """Decodes, but breaks a rule of the contract (a field out of range, an unknown code, a bad NIK, ...)."""
    REGENCY_MISMATCH = "regency_mismatch"
    """The event's regency_code is not the regency whose ingress topic carried it (spoofing, or a misrouted client)."""


class GatewayRejection(StrEnum):
    """Why the HTTP gateway answered an event with a 4xx; such events never reach the broker."""

    INVALID_EVENT = "invalid_event"
    REGENCY_FORBIDDEN = "regency_forbidden"


class AlertRule(StrEnum):
    """The alert rules of streams/rules.yaml; one alert per condition, identified by a stable alert id."""

    SLA_BREACH = "sla_breach"
    """A service request completed (ISSUED) later than its standard completion time (per-regency overrides)."""
    FEE_ABOVE_TARIFF = "fee_above_tariff"
    """A fee charged above the official tariff of the service: the pungli indicator. One alert per case."""
    COMPLAINT_OVERDUE = "complaint_overdue"
    """A complaint whose first follow-up came later than its category's deadline (SP4N-LAPOR! working days)."""
    COMPLAINT_SPIKE = "complaint_spike"
    """Complaints of one regency x category in one hour above a multiple of the trailing hourly baseline."""
    AIR_QUALITY = "air_quality"
    """PM2.5 or PM10 over its threshold at a station; one alert per station and hour."""
    PRICE_JUMP = "price_jump"
    """A staple price above its trailing mean by more than the configured percentage; one per market x commodity x day."""
    AID_DOUBLE_PAYMENT = "aid_double_payment"
    """One tokenised recipient paid by two regencies for the same programme and period."""
    # -- education (SPMB) --
    ADMISSION_OVER_QUOTA = "admission_over_quota"
    """A school admitted more applicants on a route than its published quota (level, year); one per school x route."""
    ADMISSION_AFTER_DEADLINE = "admission_after_deadline"
    """An applicant admitted after the school's announced decision deadline; one per application."""
    ADMISSION_DOUBLE = "admission_double"
    """One tokenised applicant admitted by two schools for the same level and year."""
    # -- infrastructure --
    ROAD_HANDLING_OVERDUE = "road_handling_overdue"
    """A road-damage report first handled later than its owner's own target (provincial roads: 1x24 hours)."""
    PAYMENT_AHEAD_OF_PROGRESS = "payment_ahead_of_progress"
    """A works contract's cumulative payment above its verified physical progress (BPK's frequent finding)."""


class Header:
    """Kafka record headers Simpul writes; part of the contract (docs/contract.md), read by sinks and ops tools."""

    EVENT_ID = "simpul.event_id"
    EVENT_TYPE = "simpul.event_type"
    SOURCE = "simpul.source"
    REASON = "simpul.reason"
    REASON_MESSAGE = "simpul.reason_message"
    SOURCE_TOPIC = "simpul.source_topic"
    SOURCE_PARTITION = "simpul.source_partition"
    SOURCE_OFFSET = "simpul.source_offset"
    REJECTED_AT = "simpul.rejected_at"
    REPLAYED_FROM = "simpul.replayed_from"


def source_of(topic: str, partition: int, offset: int) -> str:
    """`<topic>:<partition>:<offset>`: where the gatekeeper read a record (the `simpul.source` header of a canonical
    record, and what a sealed DLQ record is bound to)."""
    return f"{topic}:{partition}:{offset}"
