"""The gatekeeper's decisions as pure functions: one ingress record in, one outcome out.

`screen` decides, the worker only feeds it and carries the outcome out. The checks follow the pipeline spec,
in order: undecodable, unknown_event_type, invalid_event, regency_mismatch, duplicate, then route.

NIKs: an ingress NIK field holds a raw NIK or null (`schemas.nik`, ingress context; anything else is an
invalid_event naming the field), the gatekeeper replaces each by its token on the way to the canonical topic, and
a rejected record goes to the DLQ sealed (`schemas.dlq_seal`): its key, value and headers are what the sender
wrote, NIKs included, so none of them is written in the clear, and reason messages have long digit runs masked.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from schemas.codec import AvroCodec
from schemas.datum import CodecDecoder
from schemas.dlq_seal import DlqSeal, Original
from schemas.exceptions import EventValidationError, UnknownEventType, WireFormatError
from schemas.feedback import OutcomeStatus, accepted_value, identifiers, outcome_value, without_values
from schemas.nik import NikContext, redact_niks, tokenised_fields
from schemas.outcomes import Header, RejectReason, source_of
from streams.gatekeeper.fast_check import IngressCheck, ingress_check
from streams.gatekeeper.splice import spliced

EVENT_ID_HEADER = Header.EVENT_ID
EVENT_TYPE_HEADER = Header.EVENT_TYPE
SOURCE_HEADER = Header.SOURCE
REASON_HEADER = Header.REASON
REASON_MESSAGE_HEADER = Header.REASON_MESSAGE
SOURCE_TOPIC_HEADER = Header.SOURCE_TOPIC
SOURCE_PARTITION_HEADER = Header.SOURCE_PARTITION
SOURCE_OFFSET_HEADER = Header.SOURCE_OFFSET
REJECTED_AT_HEADER = Header.REJECTED_AT

Headers = Sequence[tuple[str, bytes | None]]


@dataclass(frozen=True)
class Routing:
    """Where records go: ingress topic -> its regency, family -> canonical topic, the DLQ, and ingress topic ->
    the regency's outcome topic (empty: no outcomes are written)."""

    ingress: Mapping[str, str]
    canonical: Mapping[str, str]
    dlq: str
    outcomes: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_topic_set(cls, topics) -> Routing:  # type: ignore[no-untyped-def]
        outcomes = {t.labels["regency"]: t.name for t in topics.role("outcomes")}
        ingress = {t.name: t.labels["regency"] for t in topics.role("ingress")}
        return cls(
            ingress=ingress,
            canonical={t.labels["family"]: t.name for t in topics.role("events")},
            dlq=topics.dlq.name,
            outcomes={name: outcomes[code] for name, code in ingress.items() if code in outcomes},
        )


@dataclass(frozen=True)
class Routed:
    """A valid, new event: write `value` to `topic` with `key` and `headers`; remember `event_id`."""

    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]
    event_id: str
    event_type: str
    source: str
    case_id: str = ""


@dataclass(frozen=True)
class Rejected:
    """A record the bus cannot accept: to the DLQ, its original key, value and headers sealed in `value`, with
    our reason headers beside it (`key` is None: the original key is in the envelope)."""

    topic: str
    reason: RejectReason
    message: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]
    source: str
    event_id: str | None = None
    event_type: str | None = None
    case_id: str | None = None
    problems: tuple[tuple[str, str], ...] = ()
    """(field, reason) pairs without any value the sender wrote: what the regency's outcome says."""


@dataclass(frozen=True)
class Duplicate:
    """An event id already seen within the horizon, from another record: dropped, counted."""

    event_id: str
    first_source: str
    source: str
    event_type: str = ""
    case_id: str = ""


@dataclass(frozen=True)
class AlreadyDone:
    """This very record was already written out before a crash (found in the output tail): nothing to do."""

    source: str


Outcome = Routed | Rejected | Duplicate | AlreadyDone


@dataclass
class Counters:
    """What the gatekeeper did, for logs and monitoring."""

    routed: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    already_done: int = 0

    def count(self, outcome: Outcome) -> None:
        if isinstance(outcome, Routed):
            self.routed += 1
        elif isinstance(outcome, Rejected):
            self.rejected[outcome.reason.value] = self.rejected.get(outcome.reason.value, 0) + 1
        elif isinstance(outcome, Duplicate):
            self.duplicates += 1
        else:
            self.already_done += 1


def reject(routing: Routing, reason: RejectReason, message: str, topic: str, partition: int, offset: int,
           key: bytes | None, value: bytes | None, headers: Headers | None, now: datetime, seal: DlqSeal,
           problems: tuple[tuple[str, str], ...] = (), record: Mapping[str, Any] | None = None,
           event_type: str | None = None) -> Rejected:
    """The DLQ record of a rejected input: the original key, value and headers sealed (bound to where they were
    read), and readable headers of our own saying where it came from and why. The sender's headers are inside
    the envelope only, so none of them can pass for ours."""
    source = source_of(topic, partition, offset)
    message = redact_niks(message)
    ours = [
        (REASON_HEADER, reason.value.encode()),
        (REASON_MESSAGE_HEADER, message.encode("utf-8")),
        (SOURCE_TOPIC_HEADER, topic.encode()),
        (SOURCE_PARTITION_HEADER, str(partition).encode()),
        (SOURCE_OFFSET_HEADER, str(offset).encode()),
        (REJECTED_AT_HEADER, now.astimezone(UTC).isoformat().encode()),
    ]
    envelope = seal.seal(Original(key, value, tuple(headers or ())), source)
    event_id, case_id = identifiers(record)
    return Rejected(topic=routing.dlq, reason=reason, message=message, key=None, value=envelope, headers=ours,
                    source=source, event_id=event_id, event_type=event_type, case_id=case_id,
                    problems=problems or (("<record>", without_values(message, record)),))


def screen(
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    headers: Headers | None,
    *,
    codec: AvroCodec,
    routing: Routing,
    hmac_key: bytes,
    seal: DlqSeal,
    first_seen: Callable[[str], str | None],
    already_done: Callable[[str], bool] = lambda _source: False,
    now: datetime | None = None,
    check: IngressCheck | None = None,
    decode: CodecDecoder | None = None,
) -> Outcome:
    """Decide what happens to one ingress record.

    `first_seen(event_id)` answers the source (`topic:partition:offset`) of the first record that carried this
    event id within the horizon, or None. `already_done(source)` says whether this record's output is already
    on the canonical topics or the DLQ (records replayed after a crash). Registry outages propagate (transient).
    `hmac_key` mints the NIK tokens; `seal` seals rejected records (only they pay for it). `check` is the
    compiled validation path of the codec's catalog (`fast_check.ingress_check`, looked up when not given): a
    record written with our own schema that it finds valid skips the pydantic model. `decode` reads the datum
    (`decoder_of(codec)` when not given): UUIDs as canonical text and timestamps as UTC datetimes, as fastavro
    would give them, converted after a read without logical types (a third of fastavro's time on our records).
    """
    now = now or datetime.now(UTC)
    source = source_of(topic, partition, offset)
    if already_done(source):
        return AlreadyDone(source)

    def no(reason: RejectReason, message: str, problems: tuple[tuple[str, str], ...] = (),
           record: Mapping[str, Any] | None = None, event_type: str | None = None) -> Rejected:
        return reject(routing, reason, message, topic, partition, offset, key, value, headers, now, seal,
                      problems, record, event_type)

    regency = routing.ingress.get(topic)
    if regency is None:
        return no(RejectReason.REGENCY_MISMATCH, f"{topic} is not an ingress topic of this prefix")
    if value is None:
        return no(RejectReason.UNDECODABLE, "the record has no value (null/tombstone); send a framed Avro event")
    try:
        model, record = (decode or decoder_of(codec))(value)
    except UnknownEventType as exc:
        return no(RejectReason.UNKNOWN_EVENT_TYPE, str(exc))
    except WireFormatError as exc:
        return no(RejectReason.UNDECODABLE, str(exc))
    event_type = model.event_type
    own = codec.is_own_schema(int.from_bytes(value[1:5], "big"), event_type)
    if own and (check or ingress_check(codec.catalog)).accepts(model, record):
        # the compiled check found every rule of the model met: the model is skipped, the datum's fields are its
        event_id, regency_code, case_id = str(record["event_id"]), record["regency_code"], record["case_id"]
    else:  # invalid, or not our own schema: the model decides, and words the rejection
        try:
            event = model.from_avro(record, NikContext.INGRESS)
        except EventValidationError as exc:
            return no(RejectReason.INVALID_EVENT, str(exc),
                      tuple((p.path, without_values(p.message, record, p.path)) for p in exc.problems), record,
                      event_type)
        event_id, regency_code, case_id = str(event.event_id), event.regency_code, event.case_id
    if regency_code != regency:
        return no(RejectReason.REGENCY_MISMATCH,
                  f"regency_code {regency_code} differs from {regency}, the regency of {topic}; a regency "
                  "publishes only to its own ingress topic",
                  (("regency_code", f"is not {regency}, the regency of this ingress topic"),), record, event_type)
    prior = first_seen(event_id)
    if prior is not None and prior != source:  # the same source is this record replayed, its output not written
        return Duplicate(event_id=event_id, first_source=prior, source=source, event_type=event_type,
                         case_id=case_id)
    return Routed(
        topic=routing.canonical[model.family],
        key=f"{regency_code}:{case_id}".encode(),  # Event.ordering_key
        value=canonical_value(codec, event_type, record, value, hmac_key, own),
        headers=[
            (EVENT_ID_HEADER, event_id.encode()),
            (EVENT_TYPE_HEADER, event_type.encode()),
            (SOURCE_HEADER, source.encode()),
        ],
        event_id=event_id,
        event_type=event_type,
        source=source,
        case_id=case_id,
    )


_DECODERS: weakref.WeakKeyDictionary[AvroCodec, CodecDecoder] = weakref.WeakKeyDictionary()


def decoder_of(codec: AvroCodec) -> CodecDecoder:
    """The datum decoder of `codec`, made once (it keeps what it decided per writer schema id)."""
    decode = _DECODERS.get(codec)
    if decode is None:
        decode = _DECODERS[codec] = CodecDecoder(codec)
    return decode


_ROUTED, _DUPLICATE = OutcomeStatus.ROUTED.value, OutcomeStatus.DUPLICATE.value


def feedback(outcome: Outcome, topic: str, routing: Routing, at: str) -> tuple[str, bytes, bytes] | None:
    """The record of the regency's outcome topic for `outcome` (topic, key, value), or None when there is none
    to write: a record already done before a crash, or one read from a topic that is no regency's ingress.
    `topic` is the ingress topic the record was read from.

    Routed and duplicate outcomes carry the event's identifiers only; a rejection its reason and the offending
    fields without their values (`schemas.feedback`). `at` is the batch's time, ISO 8601 UTC."""
    if isinstance(outcome, AlreadyDone):
        return None
    target = routing.outcomes.get(topic)
    if target is None:
        return None
    regency = routing.ingress[topic]
    if isinstance(outcome, Routed):
        value = accepted_value(regency, outcome.event_id, outcome.event_type, outcome.case_id, _ROUTED,
                               outcome.source, at)
        return target, outcome.event_id.encode(), value
    if isinstance(outcome, Duplicate):
        value = accepted_value(regency, outcome.event_id, outcome.event_type, outcome.case_id, _DUPLICATE,
                               outcome.source, at)
        return target, outcome.event_id.encode(), value
    value = outcome_value(regency, outcome.event_id, outcome.event_type, outcome.case_id, OutcomeStatus.REJECTED,
                          outcome.source, at, outcome.reason, outcome.problems,
                          "; ".join(f"{f}: {r}" for f, r in outcome.problems))
    return target, (outcome.event_id or outcome.source).encode(), value



def canonical_value(codec: AvroCodec, event_type: str, record: Mapping[str, Any], value: bytes, hmac_key: bytes,
                    own: bool | None = None) -> bytes:
    """The canonical bytes of a valid event: its Avro datum with every NIK tokenised, framed with our schema.

    The datum passed the ingress context, so every non-null NIK field holds a raw NIK and gets its token. When
    the sender wrote with our own schema (`own`, looked up when not given), these are the input bytes with each
    NIK's encoding replaced by its token's (`splice.spliced`), or the input bytes themselves when no NIK needs a
    token: Avro's encoding is deterministic, so re-encoding the datum would give the same bytes (unit tests hold
    both paths equal). Otherwise the decoded datum is re-encoded, without a model round trip.
    """
    updates = tokenised_fields(event_type, record, hmac_key)
    if own is None:
        own = codec.is_own_schema(int.from_bytes(value[1:5], "big"), event_type)
    if own:
        if not updates:
            return value
        out = spliced(value, record, updates)
        if out is not None:
            return out
    return codec.encode_datum(event_type, {**record, **updates})


@dataclass
class DedupMemory:
    """First sightings within the horizon, over a mapping (a Faust table in the worker, a dict in tests).

    Values are `[first_seen_ms, source]`; entries older than the horizon count as unseen and are overwritten.
    `recovered` holds event id -> source read from the canonical tail at start-up (crash window).
    """

    table: Mapping[str, list] | dict  # type: ignore[type-arg]
    horizon_ms: int
    recovered: dict[str, str] = field(default_factory=dict)

    def first_seen(self, event_id: str, now_ms: int) -> str | None:
        entry = self.table.get(event_id)
        if entry is not None and now_ms - int(entry[0]) <= self.horizon_ms:
            return str(entry[1])
        return self.recovered.get(event_id)

    def remember(self, event_id: str, source: str, now_ms: int) -> None:
        self.table[event_id] = [now_ms, source]  # type: ignore[index]


class RecentSources:
    """Sources this process has written out, the newest `cap` of them: a rebalance that re-delivers records
    processed but not yet committed must find them done, not route them again."""

    def __init__(self, cap: int = 200_000) -> None:
        from collections import OrderedDict

        self.cap = cap
        self._items: OrderedDict[str, None] = OrderedDict()

    def add(self, source: str) -> None:
        self._items[source] = None
        if len(self._items) > self.cap:
            self._items.popitem(last=False)

    def __contains__(self, source: object) -> bool:
        return source in self._items
