"""The HTTP ingress gateway (FastAPI): POST /v1/events and GET /v1/receipts/{event_id}, authenticated by an API
key bound to one regency.

Answers 202 only once the broker acknowledged every event (acks=all), with a result per event. A retry of an
event_id already accepted returns that first outcome and writes nothing. Refusals name the field:
400 malformed body, 401 unknown key, 403 another regency's event, 413 too many events or bytes, 422 an invalid
event, 503 broker or registry unavailable (retry the same request).

The key is checked before a byte of the body is read, and the body is read only up to the byte limit
(producers.gateway.body), so an unauthenticated or oversized request costs bounded memory; both refusals close
the connection. No answer repeats a value the client sent (a NIK in the wrong field included).

A receipt (producers.gateway.receipts) is given to the event's own regency only: 200 with the receipt, 403 for
another regency's event (none of its data), 404 for an event not in the log, 202 with Retry-After while its
checkpoint is not signed yet, 503 when the log's store cannot be read.

`GET /v1/events/{event_id}` and `GET /v1/rejections` tell a regency what the gatekeeper did with its records, sent
over HTTP or straight to Kafka, from the index of the outcome topics (producers.gateway.outcomes); the query is
filtered by the key's regency, so another regency's event is a 404 like an unknown one.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from concurrent.futures import Future, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from fastapi import Depends, FastAPI, Path, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader

from producers.delivery import AckedProducer, Delivery, known_offset
from producers.gateway.api import (Accepted, BatchIn, ErrorBody, EventIn, EventResult, EventStatus, Health,
                                   PendingReceipt, Problem, ReceiptOut, Rejections)
from producers.gateway.body import BodyIncomplete, BodyTooLarge, EVENT_JSON_BYTES, body_limit, read_limited
from producers.gateway.digest import RetryDigest, plan_retries
from producers.gateway.outcomes import OutcomeReader
from producers.gateway.receipts import ReceiptLookup, ReceiptPending, ReceiptsUnavailable
from producers.gateway.store import GatewayStore, Outcome
from producers.sdk import EVENT_TYPE_HEADER
from schemas.codec import AvroCodec
from schemas.examples import example
from schemas.catalog import event_types
from schemas.exceptions import EventValidationError, FieldProblem, RegistryError, UnknownEventType
from schemas.models import Event, model_for
from schemas.nik import redact_niks
from schemas.outcomes import GatewayRejection
from topics.catalog import TopicSet

ACK_TIMEOUT_S = 30.0
# each request waits for its events' acknowledgements, so it also waits out the producer's linger: the gateway
# lingers 10 ms (with 50, a client posting 500-event batches one after another got 25% less through: 3,800
# instead of 5,100 events/s on the bench host), a little more than the SDK's 5 because one gateway carries the
# HTTP traffic of every regency, whose records can share requests
PRODUCER_CONF: dict[str, Any] = {"linger.ms": 10}


@dataclass
class Gateway:
    """What the app needs, built by the composition root (simpul) or by a test."""

    store: GatewayStore
    codec: AvroCodec
    producer: AckedProducer
    topics: TopicSet
    digest: RetryDigest
    max_batch: int = 1000
    max_body_bytes: int | None = None
    """None: derived from max_batch (producers.gateway.body.body_limit)."""
    receipts: ReceiptLookup | None = None
    """None: this gateway serves no receipts (GET /v1/receipts answers 503)."""
    receipt_retry_after_s: float = 5.0
    """How often the transparency log signs a checkpoint: the Retry-After of a pending receipt."""
    outcomes: OutcomeReader | None = None
    """None: this gateway serves no outcomes (GET /v1/events/{id} and /v1/rejections answer 503)."""
    services: list[Service] = field(default_factory=list)
    """Started with the app and stopped with it (the follower that fills the outcome index)."""

    @property
    def body_limit(self) -> int:
        return self.max_body_bytes or body_limit(self.max_batch)


class Service(Protocol):
    """Something that runs beside the app for its lifetime."""

    def start(self) -> None: ...

    def stop(self, timeout: float = 10.0) -> None: ...


class Refusal(Exception):
    """A request we answer with a 4xx/5xx ErrorBody; `close` when the body was not read to its end, so the
    connection cannot carry another request and is closed after the answer."""

    def __init__(self, status: int, error: str, message: str, problems: list[Problem] | None = None, *,
                 close: bool = False) -> None:
        super().__init__(message)
        self.status, self.close = status, close
        # the last guard of "no NIK in an answer": any run of 16+ digits is masked, whatever put it there
        self.body = ErrorBody(error=error, message=redact_niks(message),  # type: ignore[arg-type]
                              problems=[Problem(index=p.index, field=redact_niks(p.field),
                                                reason=redact_niks(p.reason)) for p in problems or []])


def _error_responses(gw: Gateway) -> dict[int | str, dict[str, Any]]:
    docs = {400: "The body is not a JSON object of one event or {\"events\": [...]}",
            401: "Missing, unknown or revoked API key; answered before any of the body is read, and the connection "
                 "is closed",
            403: "An event of another regency than the key's",
            413: f"More than {gw.max_batch:,} events, or a body over {gw.body_limit:,} bytes: answered as soon as "
                 "the limit is passed (at once when Content-Length is over it), and the connection is closed",
            422: "An invalid event; `problems` names each field and reason; nothing of the request was sent",
            503: "The broker or the registry is unavailable; retry the same request (same event_ids)"}
    return {code: {"model": ErrorBody, "description": text} for code, text in docs.items()}


def _receipt_responses() -> dict[int | str, dict[str, Any]]:
    docs = {401: "Missing, unknown or revoked API key",
            403: "The event belongs to another regency than the key's; nothing of it is answered",
            404: "No event with this event_id is in the transparency log (not accepted, or accepted moments ago "
                 "and not logged yet: the log follows the canonical topics within seconds)",
            422: "`event_id` is not a UUID",
            503: "The transparency log's store cannot be read now; retry later"}
    responses: dict[int | str, dict[str, Any]] = {
        code: {"model": ErrorBody, "description": text} for code, text in docs.items()}
    responses[202] = {"model": PendingReceipt, "description": PendingReceipt.__doc__, "headers": {
        "Retry-After": {"description": "seconds until the next checkpoint is due", "schema": {"type": "integer"}}}}
    return responses


def create_app(gw: Gateway) -> FastAPI:
    """The FastAPI application around one Gateway."""
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        for service in gw.services:
            service.start()
        try:
            yield
        finally:
            for service in gw.services:
                service.stop()
            gw.producer.close(timeout=10)  # flush what is in flight; report the rest as failed

    app = FastAPI(
        lifespan=lifespan,
        title="Simpul ingress gateway",
        version="1",
        description=(
            "Publish public-service events of one regency to Simpul over HTTPS (`simpul gateway --tls-cert FILE "
            "--tls-key FILE`, or a TLS proxy in front). Each API key is bound to one regency (issued with "
            "`simpul keys create --regency <code>`). Events follow the Avro contract in docs/contract.md; send "
            "them as JSON with an `event_type` member.\n\n"
            "The key is checked before the body is read: without a valid key the answer is 401 and the connection "
            f"is closed. A request carries at most {gw.max_batch:,} events and {gw.body_limit:,} bytes "
            f"({EVENT_JSON_BYTES:,} per event); a longer body is answered 413 as soon as the limit is passed, "
            "whether or not it declared its length, and the connection is closed. Error answers name the field "
            "and the reason and never repeat a value of the request.\n\n"
            "`GET /v1/receipts/{event_id}` gives the receipt of an accepted event of the key's regency: its "
            "inclusion proof in the province's signed transparency log, which verifies with the province's "
            "public key alone (docs/audit_verify.py). Until the checkpoint that covers the event is signed (a few "
            "seconds) the answer is 202 with a Retry-After header.\n\n"
            "`GET /v1/events/{event_id}` says what became of an event of the key's regency, whether it came over "
            "HTTP or straight to Kafka: routed, duplicate, or rejected with the reason code and the offending fields "
            "(never a value sent); `GET /v1/rejections?since=...` lists the regency's rejected records. Another "
            "regency's event is answered 404, like an unknown one."),
    )
    api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key of one regency")

    @app.exception_handler(Refusal)
    async def refused(_: Request, exc: Refusal) -> JSONResponse:
        return JSONResponse(exc.body.model_dump(), status_code=exc.status,
                            headers={"Connection": "close"} if exc.close else None)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        """A path parameter FastAPI validated (the body is parsed by hand): our error shape, never the value."""
        problems = [Problem(field=".".join(str(part) for part in e.get("loc", ())[1:]) or "<request>",
                            reason=_VALIDATION_REASONS.get(e.get("type", ""), "invalid"))
                    for e in exc.errors()]
        body = ErrorBody(error="invalid_parameter",
                         message="; ".join(f"{p.field}: {p.reason}" for p in problems), problems=problems)
        return JSONResponse(body.model_dump(), status_code=422)

    def authenticated(key: str | None = Security(api_key),
                      authorization: str | None = _header("authorization")) -> str:
        return _authenticate(gw, key, authorization)

    async def authenticated_body(request: Request, regency: str = Depends(authenticated)) -> tuple[str, bytes]:
        """The key first (from the headers alone), then the body up to the limit."""
        try:
            return regency, await read_limited(request, gw.body_limit)
        except BodyTooLarge as exc:
            raise Refusal(413, "payload_too_large", str(exc),
                          [Problem(field="<body>", reason=f"more than {exc.limit:,} bytes")], close=True) from None
        except BodyIncomplete as exc:
            raise Refusal(400, "bad_request", str(exc), [Problem(field="<body>", reason="incomplete")],
                          close=True) from None

    example_event = {"event_type": "ServiceRequestSubmitted", **example("ServiceRequestSubmitted").model_dump(mode="json")}

    @app.post(
        "/v1/events", status_code=202, response_model=Accepted, responses=_error_responses(gw),
        summary="Publish one event or a batch of up to 1,000 events of the key's regency",
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
            "schema": {"oneOf": [{"$ref": "#/components/schemas/BatchIn"}, {"$ref": "#/components/schemas/EventIn"}]},
            "examples": {"batch": {"value": {"events": [example_event]}}, "single": {"value": example_event}},
        }}}},
    )
    def publish(sent: tuple[str, bytes] = Depends(authenticated_body)) -> Accepted:
        regency, request_body = sent
        items = _parse(request_body, gw.max_batch)
        events = _validate(items)
        _authorise(events, regency)
        return _publish(gw, events)

    @app.get(
        "/v1/receipts/{event_id}", response_model=ReceiptOut, responses=_receipt_responses(),
        summary="The receipt of one accepted event of the key's regency: its inclusion proof in the province's "
                "signed transparency log",
    )
    def receipt(event_id: uuid.UUID = Path(description="event_id of an event the key's regency sent"),
                regency: str = Depends(authenticated)) -> Any:
        return _receipt(gw, str(event_id), regency)

    @app.get(
        "/v1/events/{event_id}", response_model=EventStatus, responses=_outcome_responses(),
        summary="What became of one event of the key's regency (sent over HTTP or straight to Kafka)",
    )
    def event_status(event_id: uuid.UUID = Path(description="event_id of an event the key's regency sent"),
                     regency: str = Depends(authenticated)) -> EventStatus:
        return _event_status(gw, str(event_id), regency)

    @app.get(
        "/v1/rejections", response_model=Rejections, responses=_outcome_responses(),
        summary="The key's regency's rejected records since a time, oldest first, with reason and field",
    )
    def rejections(since: datetime | None = Query(None, description="ISO 8601 time (UTC if no offset); default: "
                                                                    "24 hours ago"),
                   after: str | None = Query(None, max_length=300, description="`next_after` of the previous "
                                                                               "page"),
                   limit: int = Query(100, ge=1, le=1000),
                   regency: str = Depends(authenticated)) -> Rejections:
        return _rejections(gw, regency, since, after, limit)

    @app.get("/healthz", response_model=Health, summary="The process is up")
    def healthz() -> Health:
        return Health(status="ok")

    @app.get("/readyz", response_model=Health, responses={503: {"model": Health}},
             summary="The broker and the registry answer")
    def readyz() -> Any:
        checks = {"kafka": gw.producer.broker_answers(), "registry": _registry_answers(gw.codec)}
        ok = all(checks.values())
        return JSONResponse(Health(status="ok" if ok else "unavailable", checks=checks).model_dump(),
                            status_code=200 if ok else 503)

    # Make the body models part of the document even though the body is read and parsed by hand (for 401 before
    # the body, and 400/413 control).
    app.openapi_schema = None
    _register_models(app, [BatchIn, EventIn])
    return app


# -- request steps ---------------------------------------------------------------------------------------------

def _authenticate(gw: Gateway, key: str | None, authorization: str | None) -> str:
    presented = key or (authorization[7:].strip() if authorization and authorization.lower().startswith("bearer ")
                        else None)
    if not presented:
        raise Refusal(401, "unauthorized", "send the regency's API key in the X-API-Key header", close=True)
    regency = gw.store.regency_of(presented)
    if regency is None:
        raise Refusal(401, "unauthorized", "the API key is unknown or revoked; ask the province for a key "
                                           "(`simpul keys create --regency <code>`)", close=True)
    return regency


_VALIDATION_REASONS = {"uuid_parsing": "must be a UUID", "uuid_type": "must be a UUID",
                       "missing": "required"}


def _outcome_responses() -> dict[int | str, dict[str, Any]]:
    docs = {401: "Missing, unknown or revoked API key",
            404: "No record with this event_id from the key's regency (another regency's event included: nothing "
                 "of it is answered); the gatekeeper decides within seconds of the record reaching the broker",
            422: "A parameter is malformed (`event_id` not a UUID, `since` not a time, `limit` out of 1-1000)",
            503: "This gateway has no outcome index, or its database cannot be read now; retry later"}
    return {code: {"model": ErrorBody, "description": text} for code, text in docs.items()}


def _outcome_reader(gw: Gateway) -> OutcomeReader:
    if gw.outcomes is None:
        raise Refusal(503, "unavailable", "this gateway serves no outcomes: it follows no outcome topics")
    return gw.outcomes


def _event_status(gw: Gateway, event_id: str, regency: str) -> EventStatus:
    """The regency's own records of `event_id`; nothing tells whether another regency sent one."""
    try:
        found = _outcome_reader(gw).event(regency, event_id)
        received = not found and (o := gw.store.outcomes_for([event_id]).get(event_id)) is not None \
            and o.regency_code == regency
    except sa.exc.SQLAlchemyError as exc:
        raise Refusal(503, "unavailable", f"the outcome index cannot be read now ({type(exc).__name__}); retry "
                                          "later") from None
    if not found and not received:
        raise Refusal(404, "not_found", f"no record with this event_id from regency {regency} has reached the "
                                        "gatekeeper (it decides within seconds; ask again)",
                      [Problem(field="event_id", reason="no record of this regency")])
    if any(o.status == "routed" for o in found):
        status = "routed"
    else:
        status = found[-1].status.value if found else "received"
    return EventStatus(event_id=event_id, regency_code=regency, status=status,  # type: ignore[arg-type]
                       outcomes=found)


def _rejections(gw: Gateway, regency: str, since: datetime | None, after: str | None, limit: int) -> Rejections:
    since = (datetime.now(UTC) - timedelta(hours=24)) if since is None else (
        since.replace(tzinfo=UTC) if since.tzinfo is None else since.astimezone(UTC))
    try:
        found = _outcome_reader(gw).rejections(regency, since, after, limit)
    except sa.exc.SQLAlchemyError as exc:
        raise Refusal(503, "unavailable", f"the outcome index cannot be read now ({type(exc).__name__}); retry "
                                          "later") from None
    full = len(found) == limit
    return Rejections(rejections=found, next_since=found[-1].at.isoformat() if full else None,
                      next_after=found[-1].source if full else None)


def _receipt(gw: Gateway, event_id: str, regency: str) -> Any:
    """The receipt for the event's own regency; another regency learns only that the event is not its own."""
    foreign = Refusal(403, GatewayRejection.REGENCY_FORBIDDEN,
                      f"the event belongs to another regency; this API key gets receipts of regency {regency} only",
                      [Problem(field="event_id", reason="event belongs to another regency")])
    if gw.receipts is None:
        raise Refusal(503, "unavailable", "this gateway serves no receipts: it has no transparency log store "
                                          "configured (SIMPUL_STORE_URL)")
    try:
        found = gw.receipts(event_id)
    except ReceiptPending as exc:
        if exc.regency_code is not None and exc.regency_code != regency:
            raise foreign from None
        retry = max(1, math.ceil(gw.receipt_retry_after_s))
        pending = PendingReceipt(event_id=event_id, retry_after_s=retry,
                                 message="the event is in the transparency log; the checkpoint that covers it is "
                                         f"signed within seconds: ask again after {retry} s")
        return JSONResponse(pending.model_dump(), status_code=202, headers={"Retry-After": str(retry)})
    except ReceiptsUnavailable as exc:
        raise Refusal(503, "unavailable", f"the transparency log cannot be read now: {exc}; retry later") from None
    if found is None:
        raise Refusal(404, "not_found", "no event with this event_id is in the transparency log: it was not "
                                        "accepted, or was accepted moments ago (ask again in a few seconds)",
                      [Problem(field="event_id", reason="not in the log")])
    if found.get("regency_code") != regency:
        raise foreign
    return ReceiptOut.model_validate(found)


def _parse(body: bytes, max_batch: int) -> list[Any]:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Refusal(400, "bad_request", f"the body is not valid JSON: {exc}",
                      [Problem(field="<body>", reason="not valid JSON")]) from None
    if not isinstance(doc, dict):
        raise Refusal(400, "bad_request", "the body must be a JSON object: one event, or {\"events\": [...]}",
                      [Problem(field="<body>", reason="not a JSON object")])
    if "events" in doc and "event_type" not in doc:
        items = doc["events"]
        if not isinstance(items, list):
            raise Refusal(400, "bad_request", "`events` must be a list of event objects",
                          [Problem(field="events", reason="not a list")])
        if not items:
            raise Refusal(422, "invalid_event", "`events` is empty; send at least one event",
                          [Problem(field="events", reason="empty list")])
        if len(items) > max_batch:
            raise Refusal(413, "payload_too_large", f"{len(items)} events in one request; at most {max_batch}",
                          [Problem(field="events", reason=f"more than {max_batch} events")])
        return items
    return [doc]


def _validate(items: list[Any]) -> list[Event]:
    problems: list[Problem] = []
    events: list[Event] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append(Problem(index=index, field="<event>", reason="must be a JSON object"))
            continue
        fields = dict(item)
        event_type = fields.pop("event_type", None)
        if not isinstance(event_type, str) or not event_type:
            problems.append(Problem(index=index, field="event_type", reason="required: the record name of the "
                                    "event's schema, e.g. ServiceRequestSubmitted"))
            continue
        try:
            events.append(model_for(event_type).model_validate(fields))
        except UnknownEventType:
            problems.append(Problem(index=index, field="event_type", reason="not a known event type; known event "
                                    f"types: {', '.join(event_types())}"))
        except EventValidationError as exc:
            problems.extend(_problem(index, fields, p) for p in exc.problems)
    if problems:
        raise Refusal(422, GatewayRejection.INVALID_EVENT,
                      f"{len({p.index for p in problems})} of {len(items)} event(s) are invalid; nothing was sent",
                      problems)
    return events


def _problem(index: int, fields: dict[str, Any], p: FieldProblem) -> Problem:
    """The problem as the client sees it: the field and the reason, without the value it sent (a reason that
    quotes the value, such as an unknown reference code, says "the value" instead)."""
    value = _value_at(fields, p.path)
    reason = p.message
    if isinstance(value, str) and value:
        for quoted in (repr(value), repr(redact_niks(value))):
            reason = reason.replace(quoted, "the value")
    return Problem(index=index, field=p.path, reason=reason)


def _value_at(fields: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(fields, dict) and part in fields:
            fields = fields[part]
        elif isinstance(fields, list) and part.isdigit() and int(part) < len(fields):
            fields = fields[int(part)]
        else:
            return None
    return fields


def _authorise(events: list[Event], regency: str) -> None:
    foreign = [Problem(index=i, field="regency_code", reason=f"{e.regency_code} is not this key's regency {regency}")
               for i, e in enumerate(events) if e.regency_code != regency]
    if foreign:
        raise Refusal(403, GatewayRejection.REGENCY_FORBIDDEN,
                      f"this API key publishes only events of regency {regency}; nothing was sent", foreign)


def _publish(gw: Gateway, events: list[Event]) -> Accepted:
    digests = [gw.digest.of(e.model_dump_json()) for e in events]
    ids = [str(e.event_id) for e in events]
    known = gw.store.outcomes_for(sorted(set(ids)))
    plan = plan_retries(ids, digests, known, gw.digest.key_id)
    if plan.conflicts:
        raise Refusal(422, "invalid_event", "event_id reused for different content; nothing was sent",
                      [Problem(index=i, field="event_id", reason=reason) for i, reason in plan.conflicts])
    to_send, first_in_request = plan.to_send, plan.first_in_request

    try:
        encoded = [(i, gw.codec.encode(events[i])) for i in to_send]
    except RegistryError as exc:
        raise Refusal(503, "unavailable", f"the schema registry cannot serve the schemas: {exc}") from None
    futures: dict[int, Future[Delivery]] = {}
    for i, value in encoded:
        e = events[i]
        futures[i] = gw.producer.send(gw.topics.ingress(e.regency_code).name, e.ordering_key.encode(), value,
                                      event_id=ids[i], headers=[(EVENT_TYPE_HEADER, type(e).event_type.encode())])
    wait(futures.values(), timeout=ACK_TIMEOUT_S)
    delivered: dict[int, Delivery] = {}
    failed = 0
    for i, future in futures.items():
        if future.done() and future.exception() is None:
            delivered[i] = future.result()
        else:
            failed += 1
    gw.store.record([Outcome(ids[i], events[i].regency_code, digests[i], gw.digest.key_id, d.topic, d.partition,
                             known_offset(d)) for i, d in delivered.items()])
    if failed:
        raise Refusal(503, "unavailable", f"the broker did not acknowledge {failed} of {len(futures)} event(s) in "
                      f"{ACK_TIMEOUT_S:.0f} s; retry the same request: events already accepted are not written twice")

    results: list[EventResult] = []
    for i, event_id in enumerate(ids):
        if i in delivered:
            d = delivered[i]
            results.append(EventResult(index=i, event_id=event_id, status="accepted", topic=d.topic,
                                       partition=d.partition, offset=known_offset(d)))
        else:
            o = known.get(event_id)
            if o is None:  # a repeat inside this request
                d = delivered[first_in_request[event_id]]
                o = Outcome(event_id, "", None, None, d.topic, d.partition, known_offset(d))
            results.append(EventResult(index=i, event_id=event_id, status="duplicate", topic=o.topic,
                                       partition=o.partition, offset=o.offset))
    accepted = sum(r.status == "accepted" for r in results)
    return Accepted(accepted=accepted, duplicates=len(results) - accepted, results=results)


# -- plumbing ------------------------------------------------------------------------------------------------

def _header(name: str) -> Any:
    from fastapi import Header

    return Header(None, alias=name, include_in_schema=False)


def _registry_answers(codec: AvroCodec) -> bool:
    try:
        codec.client.get_subjects()
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        return False
    return True


def _register_models(app: FastAPI, models: list[type]) -> None:
    """Document the body precisely: one schema per event type (from the Avro-built models), chosen by
    `event_type`; the body is parsed by hand (for 400/413 control), so FastAPI would not list them itself."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        for model in models:
            definition = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, sub in definition.pop("$defs", {}).items():
                schemas.setdefault(name, sub)
            schemas[model.__name__] = definition
        refs = []
        for event_type in event_types():
            definition = model_for(event_type).model_json_schema(ref_template="#/components/schemas/{model}",
                                                                 mode="validation")
            for name, sub in definition.pop("$defs", {}).items():
                schemas.setdefault(name, sub)
            definition["properties"] = {"event_type": {"type": "string", "const": event_type,
                                                       "description": "Record name of the event's Avro schema"},
                                        **definition.get("properties", {})}
            definition["required"] = ["event_type", *definition.get("required", [])]
            schemas[f"{event_type}In"] = definition
            refs.append({"$ref": f"#/components/schemas/{event_type}In"})
        mapping = {t: f"#/components/schemas/{t}In" for t in event_types()}
        schemas["EventIn"] = {"title": "EventIn", "oneOf": refs,
                              "discriminator": {"propertyName": "event_type", "mapping": mapping},
                              "description": EventIn.__doc__}
        schemas["BatchIn"]["properties"]["events"]["items"] = {"$ref": "#/components/schemas/EventIn"}
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
