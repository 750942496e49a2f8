"""Deliver a plan: through the Python SDK (one RegencyProducer per ingress topic, sharing one Kafka client) or through the HTTP gateway.

Both senders keep the plan's order per ingress regency (so each case's events stay in order), pace themselves to
`rate` records per second (0 = as fast as they can), show progress on stderr, and count what failed instead of
stopping at the first failure: a run either delivers every record or says exactly how many it could not.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any

import fastavro
import httpx
from pydantic import BaseModel, Field
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from producers.delivery import AckedProducer
from producers.exceptions import ProducerError
from producers.sdk import Delivery, RegencyProducer
from producers.simulator.manifest import Via
from producers.simulator.model import Expect, PlannedRecord
from schemas.codec import AvroCodec, frame
from schemas.outcomes import GatewayRejection
from topics.connection import KafkaConnection

HTTP_BATCH = 500
HTTP_FLUSH_SECONDS = 1.0  # with a rate limit, batches leave at least this often instead of waiting to fill
MAX_LISTED = 20

ProducerFactory = Callable[[str], RegencyProducer]


class SendFailed(ProducerError):
    """Some records were not delivered; the message says how many and the first reason, `report` the rest."""

    def __init__(self, message: str, report: SendReport | None = None) -> None:
        super().__init__(message)
        self.report = report


class SendReport(BaseModel):
    """What a sender did; `unexpected` lists gateway answers that differ from the plan (first 20)."""

    via: Via
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    gateway_accepted: int = 0
    gateway_rejected: dict[str, int] = Field(default_factory=dict)
    unexpected: list[str] = Field(default_factory=list)
    unexpected_count: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0


class Pacer:
    """Holds a sender to `rate` records per second on average (0 = no limit), without drifting over a run."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate, self.clock, self.sleep = rate, clock, sleep
        self.start = clock()
        self.count = 0

    def wait(self) -> None:
        """Block until the next record is due."""
        if self.rate <= 0:
            return
        self.count += 1
        delay = self.start + (self.count - 1) / self.rate - self.clock()
        if delay > 0:
            self.sleep(delay)


@contextmanager
def progress_bar(total: int, label: str, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr; yields `advance(n)`."""
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
                  TimeElapsedColumn(), console=Console(stderr=True), disable=not enabled, transient=False) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n=1: bar.advance(task, n)


def encode_invalid(codec: AvroCodec, record: PlannedRecord) -> bytes:
    """Framed Avro of a datum the model refuses: written with fastavro directly, as the spec asks, because the
    codec (rightly) only encodes valid events."""
    body = io.BytesIO()
    fastavro.schemaless_writer(body, codec.catalog.get(record.event_type).parsed, record.avro_datum())
    return frame(codec.schema_id(record.event_type), body.getvalue())


def publish(producer: RegencyProducer, codec: AvroCodec, record: PlannedRecord) -> Future[Delivery]:
    """Send one planned record: valid events through `publish`, everything the SDK would refuse as raw bytes."""
    event_id = str(record.event.event_id)
    if record.raw is not None:
        return producer.publish_raw(record.key, record.raw, event_id)
    if record.override:
        return producer.publish_raw(record.key, encode_invalid(codec, record), event_id)
    if record.spoofed:
        return producer.publish_raw(record.key, codec.encode(record.event), event_id)
    return producer.publish(record.event)


def send_sdk(records: Sequence[PlannedRecord], *, kafka: KafkaConnection, codec: AvroCodec, topic_prefix: str,
             rate: float = 0.0, show_progress: bool = True, producer_conf: Mapping[str, Any] | None = None,
             producer_factory: ProducerFactory | None = None, close_timeout: float = 120.0) -> SendReport:
    """Publish every record to its ingress topic, wait for every acknowledgement, raise `SendFailed` if any
    record was not acknowledged (after all the others were given their chance)."""
    # one Kafka client for all the regencies: the sender publishes under one identity anyway, and 35 clients
    # (each with its threads and connections) made the SDK bench vary by a third from run to run on 2 cores
    client = None if producer_factory else AckedProducer(kafka, client_id="simpul-simulator-sdk", conf=producer_conf)
    make = producer_factory or (lambda reg: RegencyProducer(reg, kafka, codec, topic_prefix=topic_prefix,
                                                            client=client))
    producers: dict[str, RegencyProducer] = {}
    futures: list[Future[Delivery]] = []
    pacer, started = Pacer(rate), time.monotonic()
    try:
        with progress_bar(len(records), "sending via sdk", show_progress) as advance:
            for record in records:
                pacer.wait()
                producer = producers.get(record.ingress)
                if producer is None:
                    producer = producers[record.ingress] = make(record.ingress)
                futures.append(publish(producer, codec, record))
                advance(1)
    finally:
        for producer in producers.values():
            producer.close(close_timeout)  # flushes; fails whatever the broker never acknowledged
        if client is not None:
            client.close(close_timeout)
    report = SendReport(via="sdk", sent=len(futures))
    first_error = ""
    for future in futures:
        error = future.exception()
        if error is None:
            report.delivered += 1
        else:
            report.failed += 1
            first_error = first_error or str(error)
    report.seconds = time.monotonic() - started
    if report.failed:
        raise SendFailed(f"{report.failed} of {report.sent} records were not acknowledged by the broker "
                         f"(first: {first_error}); the manifest no longer describes what was sent: run again", report)
    return report


class _HttpSender:
    """Batches per ingress regency; a record the gateway must refuse travels alone, so its 4xx names only it."""

    def __init__(self, client: httpx.Client, base_url: str, keys: Mapping[str, str], report: SendReport,
                 advance: Callable[[int], None]) -> None:
        self.client, self.url, self.keys = client, base_url.rstrip("/") + "/v1/events", keys
        self.report, self.advance = report, advance
        self.pending: dict[str, list[PlannedRecord]] = {}
        self.first_error = ""

    def add(self, record: PlannedRecord) -> None:
        if record.expect is Expect.DLQ:
            self.post(record.ingress, [record])
            return
        batch = self.pending.setdefault(record.ingress, [])
        batch.append(record)
        if len(batch) >= HTTP_BATCH:
            self.post(record.ingress, self.pending.pop(record.ingress))

    def flush(self) -> None:
        for regency in sorted(self.pending):
            self.post(regency, self.pending.pop(regency))

    def post(self, regency: str, batch: list[PlannedRecord]) -> None:
        self.report.sent += len(batch)
        try:
            response = self.client.post(self.url, headers={"X-API-Key": self.keys[regency]},
                                        json={"events": [r.http_event() for r in batch]})
        except httpx.HTTPError as exc:
            self._failed(batch, f"{type(exc).__name__}: {exc}")
            return
        finally:
            self.advance(len(batch))
        if response.status_code >= 500:
            self._failed(batch, f"HTTP {response.status_code}: {response.text[:200]}")
            return
        body = _json(response)
        if response.status_code < 300:
            results = body.get("results") if isinstance(body.get("results"), list) else []
            for i, record in enumerate(batch):
                result = results[i] if i < len(results) and isinstance(results[i], dict) else {}
                self._answer(record, result.get("error"))
        else:
            code = _rejection(response.status_code, body)
            for record in batch:
                self._answer(record, code)

    def _answer(self, record: PlannedRecord, error: str | None) -> None:
        self.report.delivered += 1
        if error is None:
            self.report.gateway_accepted += 1
        else:
            self.report.gateway_rejected[error] = self.report.gateway_rejected.get(error, 0) + 1
        expected = record.gateway_rejection.value if record.expect is Expect.DLQ and record.gateway_rejection else None
        if error != expected:
            self.report.unexpected_count += 1
            if len(self.report.unexpected) < MAX_LISTED:
                self.report.unexpected.append(f"{record.event_type} {record.event.event_id} via {record.ingress}: "
                                              f"expected {expected or 'accepted'}, got {error or 'accepted'}")

    def _failed(self, batch: list[PlannedRecord], reason: str) -> None:
        self.report.failed += len(batch)
        self.first_error = self.first_error or reason


def _rejection(status: int, body: Mapping[str, Any]) -> str:
    """The manifest's name for a 4xx: 403 = another regency's event, 400/422 = an invalid one. Anything else
    (401 unknown key, 413 batch too large) is a sender problem and keeps the gateway's own code."""
    if status == 403:
        return GatewayRejection.REGENCY_FORBIDDEN.value
    if status in (400, 422):
        return GatewayRejection.INVALID_EVENT.value
    return str(body.get("error") or f"http_{status}")


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def send_http(records: Sequence[PlannedRecord], *, base_url: str, api_keys: Mapping[str, str], rate: float = 0.0,
              show_progress: bool = True, client: httpx.Client | None = None, timeout: float = 30.0) -> SendReport:
    """POST every record to the gateway (`X-API-Key` of its ingress regency); raise `SendFailed` if some could
    not be delivered (5xx, connection errors). 4xx answers are outcomes, compared with the plan in the report."""
    missing = sorted({r.ingress for r in records} - set(api_keys))
    if missing:
        raise SendFailed(f"no API key for regency {', '.join(missing)}; the keys file must map every regency "
                         "code to its gateway key")
    report, pacer, started = SendReport(via="http"), Pacer(rate), time.monotonic()
    own = client is None
    http = client or httpx.Client(timeout=timeout)
    try:
        with progress_bar(len(records), "sending via http", show_progress) as advance:
            sender = _HttpSender(http, base_url, api_keys, report, advance)
            last_flush = time.monotonic()
            for record in records:
                pacer.wait()
                sender.add(record)
                if rate > 0 and time.monotonic() - last_flush >= HTTP_FLUSH_SECONDS:
                    sender.flush()
                    last_flush = time.monotonic()
            sender.flush()
    finally:
        if own:
            http.close()
    report.seconds = time.monotonic() - started
    if report.failed:
        raise SendFailed(f"{report.failed} of {report.sent} records did not reach the gateway "
                         f"(first: {sender.first_error}); the manifest no longer describes what was sent: run again",
                         report)
    return report


__all__ = ["Pacer", "SendFailed", "SendReport", "encode_invalid", "publish", "send_http",
           "send_sdk"]
