"""The gateway's request and response bodies, as the OpenAPI document shows them to regency developers."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.catalog import event_types
from schemas.feedback import RegencyOutcome


class EventIn(BaseModel):
    """One event: `event_type` names its schema, the other members are the event's fields (see docs/contract.md)."""

    model_config = ConfigDict(extra="allow")

    event_type: str = Field(description="Record name of the event's Avro schema", examples=["ServiceRequestSubmitted"],
                            json_schema_extra={"enum": event_types()})


class BatchIn(BaseModel):
    """Up to 1,000 events of one regency in one request."""

    events: list[EventIn] = Field(min_length=1, max_length=1000)


class EventResult(BaseModel):
    """What happened to one event of the request."""

    index: int = Field(description="Position of the event in the request (0 for a single event)")
    event_id: str
    status: Literal["accepted", "duplicate"] = Field(
        description="`accepted`: the broker acknowledged it now; `duplicate`: this event_id was accepted before "
                    "(a retry) and was not written again; topic/partition/offset are those of the first copy")
    topic: str
    partition: int
    offset: int = Field(description="Offset on the ingress topic; -1 when the broker acknowledged a retried write "
                                    "it had already stored (after a broker failover) without telling the offset")


class Accepted(BaseModel):
    """202: every event is on the broker (acks=all) or was already."""

    accepted: int
    duplicates: int
    results: list[EventResult]


class Problem(BaseModel):
    """One reason a request was refused, naming the field."""

    index: int | None = Field(None, description="Position of the offending event, if the problem is in one")
    field: str = Field(description="Dotted path of the offending field, e.g. `fee_charged_idr` or `event_type`")
    reason: str


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer: a machine-readable code, a sentence for people, and the problems by field."""

    error: Literal["bad_request", "unauthorized", "regency_forbidden", "payload_too_large", "invalid_event",
                   "invalid_parameter", "not_found", "unavailable"] = Field(
        description="machine-readable code; `invalid_event` and `regency_forbidden` are "
                    "schemas.outcomes.GatewayRejection")
    message: str
    problems: list[Problem] = Field(default_factory=list)


class ReceiptOut(BaseModel):
    """200: the proof that the province's transparency log holds the event (verify it with the province's public
    key alone: docs/audit.md). Keep it: it stays valid for good."""

    event_id: str
    regency_code: str
    leaf_hash: str = Field(description="hex SHA-256(0x00 || leaf data): the event's leaf in the log")
    log_index: int = Field(description="0-based index of the event's leaf in the log")
    tree_size: int = Field(description="size of the tree of `checkpoint`, which covers `log_index`")
    inclusion_proof: list[str] = Field(description="hex hashes, the RFC 9162 audit path from the leaf up to the "
                                                   "checkpoint's root")
    checkpoint: str = Field(description="the signed note (C2SP tlog-checkpoint, Ed25519) of the tree of "
                                        "`tree_size`")
    verifier_key: str = Field(description="the province's verifier key (`name+keyhash+key`) that signed it")
    origin: str = Field(description="the log's name, the first line of the checkpoint")


class PendingReceipt(BaseModel):
    """202: the event is in the log, but the signed checkpoint that covers it is not there yet (one is signed
    every few seconds); ask again after `Retry-After` seconds."""

    event_id: str
    status: Literal["pending"] = "pending"
    message: str
    retry_after_s: int = Field(description="the same as the Retry-After header")


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, Any] = Field(default_factory=dict)


class EventStatus(BaseModel):
    """200: what became of an event_id the key's regency sent, over HTTP or straight to Kafka."""

    event_id: str
    regency_code: str
    status: Literal["received", "routed", "duplicate", "rejected"] = Field(
        description="`routed`: on the bus (a later copy is a `duplicate` beside it); `rejected`: in the province's "
                    "DLQ, `outcomes` say why; `duplicate`: this event_id was routed from another record; "
                    "`received`: the gateway put it on the ingress topic and the gatekeeper has not decided yet "
                    "(ask again in a second)")
    outcomes: list[RegencyOutcome] = Field(description="one per record of the regency that carried this event_id, "
                                                       "oldest first")


class Rejections(BaseModel):
    """200: the key's regency's rejected records, oldest first, at most `limit`."""

    rejections: list[RegencyOutcome]
    next_since: str | None = Field(None, description="when the page is full: pass as `since`, with `after`, to "
                                                     "get the next page")
    next_after: str | None = Field(None, description="when the page is full: pass as `after`")
