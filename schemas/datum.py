"""Canonical records read as Avro datums, without the pydantic models, for the stages behind the gatekeeper.

The gatekeeper validated every canonical record with its event's full model before writing it; the stages that
read the canonical topics (store sink, aggregates, alerts, transparency log) only need its data. Building the
model again cost more CPU per record than everything else those stages do, so they read the datum (`CodecDecoder`)
and, where code was written against the model's attributes, look at it through an `EventView`: the same
attribute names and values, the datum dict itself as the instance's attributes (no copy, no validation).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID

import fastavro

from schemas.codec import HEADER_SIZE, AvroCodec, schema_id_of
from schemas.exceptions import UnknownEventType, WireFormatError
from schemas.models import Event
from schemas.nik import NikContext

Record = dict[str, Any]
Datum = tuple[type[Event], Record]  # (the event's model class, its decoded Avro datum)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DAY = date(1970, 1, 1).toordinal()
CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _uuid_text(value: str) -> str:
    """A UUID as canonical text (lower case, hyphenated); ValueError if it is not a UUID."""
    return value if CANONICAL_UUID.fullmatch(value) else str(UUID(value))


_LOGICAL: dict[str, Callable[[Any], Any]] = {  # what fastavro would make of each logical type, applied by us
    "timestamp-millis": lambda v: _EPOCH + timedelta(milliseconds=v),
    "timestamp-micros": lambda v: _EPOCH + timedelta(microseconds=v),
    "date": lambda v: date.fromordinal(_EPOCH_DAY + v),
    "uuid": _uuid_text,
}


def _without_internals(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_internals(v) for k, v in value.items() if not str(k).startswith("__")}
    if isinstance(value, list):
        return [_without_internals(v) for v in value]
    return value


def _plain_reader(writer: dict[str, Any]) -> tuple[Any, tuple[tuple[str, Callable[[Any], Any]], ...]] | None:
    """The writer schema with the logical types of its top-level fields removed, and their conversions.

    fastavro applies logical types through a generic per-value lookup that costs about a third of a record's
    decoding; our records are flat, so the few conversions are cheaper done here. None if a logical type sits
    deeper (fastavro then converts everything itself).
    """
    definition = _without_internals(writer)
    conversions: list[tuple[str, Callable[[Any], Any]]] = []
    for f in definition.get("fields", []):
        branches = f["type"] if isinstance(f["type"], list) else [f["type"]]
        values = [i for i, b in enumerate(branches) if b != "null"]
        if len(values) != 1:  # e.g. ["null", "long", {timestamp}]: a long would be taken for a timestamp
            continue
        branch = branches[values[0]]
        if isinstance(branch, dict) and branch.get("logicalType") in _LOGICAL and isinstance(branch["type"], str):
            conversions.append((f["name"], _LOGICAL[branch["logicalType"]]))
            branches[values[0]] = branch["type"]
            f["type"] = branches if isinstance(f["type"], list) else branches[0]
    if "logicalType" in json.dumps(definition):
        return None
    return fastavro.parse_schema(definition, named_schemas={}), tuple(conversions)


class CodecDecoder:
    """Confluent-framed Avro -> (model class, datum) through an `AvroCodec`, without building the model.

    Avro decoding already checks every type, enum symbol, UUID and timestamp. The event's full pydantic model
    (reference data, NIK format, cross-field rules) is what the gatekeeper enforced before writing the canonical
    topic, so it is opt-in here (`validate=True`: a datum breaking it raises `EventValidationError`, i.e. is
    poison, as with `codec.decode`).

    Per writer schema id it decides once how to read: when the writer schema is our reader schema (the normal
    case) without a reader schema (fastavro otherwise compares the two deeply on every record) and with the
    logical types applied here (`_plain_reader`; UUIDs stay canonical text).
    """

    def __init__(self, codec: AvroCodec, *, validate: bool = False) -> None:
        self.codec = codec
        self.validate = validate
        # schema id -> (model, writer schema, reader schema or None, conversions done after reading)
        self._by_id: dict[int, tuple[type[Event], Any, Any, tuple[tuple[str, Callable[[Any], Any]], ...]]] = {}

    def _resolve(self, schema_id: int) -> tuple[type[Event], Any, Any, tuple[tuple[str, Callable[[Any], Any]], ...]]:
        full, writer = self.codec.writer_schema(schema_id)
        if full not in self.codec.catalog:
            raise UnknownEventType(full, self.codec.catalog.event_types())
        schema = self.codec.catalog.get(full)
        model = self.codec.models[schema.name]
        same = writer == schema.parsed
        plain = _plain_reader(writer) if same else None
        if plain is not None:
            entry = (model, plain[0], None, plain[1])
        else:  # another version of the schema: fastavro resolves it to ours, logical types included
            entry = (model, writer, None if same else schema.parsed, ())
        self._by_id[schema_id] = entry
        return entry

    def model_of(self, data: bytes) -> type[Event]:
        """The event type of a framed record from its writer schema id alone, without reading its body."""
        schema_id = schema_id_of(data)
        return (self._by_id.get(schema_id) or self._resolve(schema_id))[0]

    def __call__(self, data: bytes) -> Datum:
        schema_id = schema_id_of(data)
        model, writer, reader, conversions = self._by_id.get(schema_id) or self._resolve(schema_id)
        try:
            body = io.BytesIO(data)  # read past the header in place: no copy of the body
            body.seek(HEADER_SIZE)
            record = fastavro.schemaless_reader(body, writer, reader)
            for name, convert in conversions:
                value = record[name]  # type: ignore[index]
                if value is not None:
                    record[name] = convert(value)  # type: ignore[index]
        except Exception as exc:  # truncated or corrupt body, a bad UUID, or writer/reader not resolvable
            raise WireFormatError(f"cannot read a {model.event_type} body with writer schema id {schema_id}: "
                                  f"{exc}") from exc
        if self.validate:
            model.from_avro(record, NikContext.CANONICAL)  # type: ignore[arg-type]
        return model, record  # type: ignore[return-value]


class EventView:
    """An event's datum read through the model's attribute names: `view.regency_code`, `type(view).event_type`,
    `view.ordering_key`. The datum dict is the instance's `__dict__`, so an attribute costs what a dict lookup
    does; the values are the datum's (UUIDs as canonical text, timestamps as UTC datetimes)."""

    event_type: ClassVar[str]
    family: ClassVar[str]

    @property
    def ordering_key(self) -> str:
        """As `Event.ordering_key`: `<regency_code>:<case_id>`."""
        return f"{self.regency_code}:{self.case_id}"  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> Any:  # only for names the datum lacks: a field of another event type
        raise AttributeError(f"{type(self).event_type} has no field {name!r}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(event_id={self.__dict__.get('event_id')!r})"  # never a NIK


_VIEWS: dict[type[Event], type[EventView]] = {}


def view_class(model: type[Event]) -> type[EventView]:
    """The `EventView` subclass standing for `model` (one per event type, made once)."""
    cls = _VIEWS.get(model)
    if cls is None:
        cls = _VIEWS[model] = type(f"{model.event_type}View", (EventView,),
                                   {"event_type": model.event_type, "family": model.family})
    return cls


def view(model: type[Event], record: Record) -> EventView:
    """The datum `record` of an event of `model` as an `EventView` (no copy: the view reads the dict)."""
    v = object.__new__(_VIEWS.get(model) or view_class(model))
    v.__dict__ = record
    return v
