"""Avro on the Confluent wire format: magic byte 0, 4-byte big-endian schema id, Avro binary body.

The framing is done here with fastavro; `SchemaRegistryClient` is only used to register, look up and fetch schemas
(confluent-kafka's serializers would ask Apicurio for an association endpoint it lacks). Subjects are record full
names (RecordNameStrategy), so several event types share one topic.
"""

from __future__ import annotations

import io
import json
import struct
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import fastavro
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from schemas.catalog import Catalog, EventSchema, default_catalog
from schemas.exceptions import (
    EventValidationError,
    FieldProblem,
    IncompatibleSchema,
    RegistryError,
    SchemaNotRegistered,
    UnknownEventType,
    WireFormatError,
)
from schemas.models import MODELS, Event, build_models
from schemas.nik import NikContext, redact_niks

MAGIC_BYTE = 0
HEADER = struct.Struct(">bI")
HEADER_SIZE = HEADER.size  # 5


def frame(schema_id: int, body: bytes) -> bytes:
    """Prefix an Avro body with the Confluent header."""
    return HEADER.pack(MAGIC_BYTE, schema_id) + body


def schema_id_of(data: bytes) -> int:
    """The writer schema id of Confluent-framed bytes; `WireFormatError` if they are not framed."""
    if len(data) < HEADER_SIZE:
        raise WireFormatError(f"message of {len(data)} bytes is shorter than the 5-byte Confluent header")
    magic, schema_id = HEADER.unpack_from(data)
    if magic != MAGIC_BYTE:
        raise WireFormatError(f"magic byte is {magic}, not 0: not a Confluent-framed Avro message")
    return int(schema_id)


def unframe(data: bytes) -> tuple[int, bytes]:
    """Split Confluent-framed bytes into (schema id, Avro body); `WireFormatError` if they are not framed."""
    return schema_id_of(data), bytes(data[HEADER_SIZE:])


def registry_client(url: str, **conf: Any) -> SchemaRegistryClient:
    """A registry client for a Confluent-compatible URL (e.g. Settings.registry)."""
    return SchemaRegistryClient({"url": url, **conf})


def _registry_error(action: str, subject: str, exc: SchemaRegistryError) -> RegistryError:
    status, code = exc.http_status_code, exc.error_code
    if status == 409:
        return IncompatibleSchema(f"{action} {subject}: the registry refused an incompatible change: {exc.error_message}")
    if status == 404 and code in (40401, 40403):
        return SchemaNotRegistered(
            f"{action} {subject}: schema not registered ({exc.error_message}); run `simpul schemas register`"
        )
    return RegistryError(f"{action} {subject}: registry answered HTTP {status} ({code}): {exc.error_message}")


@dataclass(frozen=True)
class Registration:
    """What `register_all` did for one subject."""

    event_type: str
    subject: str
    schema_id: int
    compatibility: str


def register_schema(client: SchemaRegistryClient, schema: EventSchema, subject: str | None = None) -> Registration:
    """Register one schema and set its subject's compatibility rule (registering first: Apicurio needs the subject)."""
    subject = subject or schema.subject
    try:
        schema_id = client.register_schema(subject, Schema(schema.text, "AVRO"))
        client.set_compatibility(subject, schema.compatibility)
    except SchemaRegistryError as exc:
        raise _registry_error("registering", subject, exc) from exc
    except Exception as exc:  # connection errors come from requests/httpx
        raise RegistryError(f"registering {subject}: cannot reach the registry: {exc}") from exc
    return Registration(schema.name, subject, schema_id, schema.compatibility)


def register_all(client: SchemaRegistryClient, catalog: Catalog | None = None) -> list[Registration]:
    """Register every schema of the catalog with its compatibility rule; idempotent."""
    return [register_schema(client, s) for s in (catalog or default_catalog())]


class AvroCodec:
    """Encode event models to Confluent-framed Avro and back; writer schemas are cached by id.

    `auto_register=False` (production): a schema missing from the registry is an error naming the subject;
    `register_all()` or `simpul schemas register` puts the schemas there first.
    """

    def __init__(
        self,
        client: SchemaRegistryClient,
        catalog: Catalog | None = None,
        *,
        models: Mapping[str, type[Event]] | None = None,
        auto_register: bool = False,
    ) -> None:
        self.client = client
        self.catalog = catalog or default_catalog()
        if models is None:
            models = MODELS if catalog is None else build_models(self.catalog)
        self.models = dict(models)
        self.auto_register = auto_register
        self._ids: dict[str, int] = {}  # event type -> id of our schema
        self._writers: dict[int, tuple[str, Any]] = {}  # schema id -> (full name, parsed writer schema)
        self._ours: dict[int, bool] = {}  # schema id -> is it our own schema of its event type
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> AvroCodec:
        """A codec talking to the registry at `url`."""
        return cls(registry_client(url), **kwargs)

    def register_all(self) -> list[Registration]:
        """Register every schema of this codec's catalog (with compatibility rules) and cache the ids."""
        regs = register_all(self.client, self.catalog)
        with self._lock:
            self._ids.update({r.event_type: r.schema_id for r in regs})
        return regs

    def schema_id(self, event_type: str) -> int:
        """The registry id of our schema for `event_type` (looked up once, or registered if auto_register)."""
        schema = self.catalog.get(event_type)
        cached = self._ids.get(schema.name)
        if cached is not None:
            return cached
        try:
            if self.auto_register:
                schema_id = register_schema(self.client, schema).schema_id
            else:
                schema_id = self.client.lookup_schema(schema.subject, Schema(schema.text, "AVRO")).schema_id
        except SchemaRegistryError as exc:
            raise _registry_error("looking up", schema.subject, exc) from exc
        except RegistryError:
            raise
        except Exception as exc:  # connection errors come from the HTTP client, not as SchemaRegistryError
            raise RegistryError(f"looking up {schema.subject}: cannot reach the registry: {exc}") from exc
        with self._lock:
            self._ids[schema.name] = schema_id
        return schema_id

    def encode(self, event: Event) -> bytes:
        """Confluent wire-format bytes of an event (its own schema as writer)."""
        return self.encode_datum(type(event).event_type, event.to_avro())

    def encode_datum(self, event_type: str, datum: Mapping[str, Any]) -> bytes:
        """Confluent wire-format bytes of an Avro datum of `event_type` (a dict shaped like our schema; the
        gatekeeper re-encodes decoded records this way without a model round trip)."""
        schema = self.catalog.get(event_type)
        body = io.BytesIO()
        try:
            fastavro.schemaless_writer(body, schema.parsed, datum)
        except (ValueError, TypeError) as exc:  # only reachable if the datum was built around validation
            error = EventValidationError(
                event_type, [FieldProblem("<event>", f"does not fit its Avro schema: {redact_niks(str(exc))}")])
        else:
            return frame(self.schema_id(event_type), body.getvalue())
        raise error  # not chained: fastavro's message may quote the datum

    def is_own_schema(self, schema_id: int, event_type: str) -> bool:
        """Whether `schema_id` is our registered schema of `event_type`: then a body needs no schema resolution
        and re-encoding an unchanged datum gives back the very same bytes."""
        cached = self._ours.get(schema_id)
        if cached is None:
            try:
                cached = self.schema_id(event_type) == schema_id
            except RegistryError:
                return False  # not cached: once the registry answers again, the fast path comes back
            with self._lock:
                self._ours[schema_id] = cached
        return cached

    def writer_schema(self, schema_id: int) -> tuple[str, Any]:
        """(record full name, parsed schema) of a writer schema id, fetched from the registry once.

        Only an id the registry answers 404 for is the record's fault (`WireFormatError`, poison); a registry that
        cannot be reached or answers anything else raises `RegistryError`, transient: the caller retries."""
        cached = self._writers.get(schema_id)
        if cached is not None:
            return cached
        try:
            registered = self.client.get_schema(schema_id)
        except SchemaRegistryError as exc:
            if exc.http_status_code != 404:  # the registry is starting, overloaded or refusing: not the record's fault
                raise RegistryError(f"fetching schema id {schema_id}: registry answered HTTP {exc.http_status_code} "
                                    f"({exc.error_code}): {exc.error_message}; retry once the registry is healthy"
                                    ) from exc
            raise WireFormatError(
                f"schema id {schema_id} is unknown to the registry ({exc.error_message}); "
                "was the message written against another registry?"
            ) from exc
        except Exception as exc:  # connection errors come from the HTTP client: an outage, the record may be fine
            raise RegistryError(f"fetching schema id {schema_id}: cannot reach the registry: {exc}") from exc
        definition = json.loads(registered.schema_str)
        if not isinstance(definition, dict) or definition.get("type") != "record":
            raise WireFormatError(f"schema id {schema_id} is not an Avro record schema")
        full = f"{definition.get('namespace', '')}.{definition['name']}".lstrip(".")
        entry = (full, fastavro.parse_schema(definition, named_schemas={}))
        with self._lock:
            self._writers[schema_id] = entry
        return entry

    def decode_record(self, data: bytes) -> tuple[str, dict[str, Any]]:
        """(event type, Avro datum resolved to our reader schema) of Confluent-framed bytes."""
        schema_id, _ = unframe(data[:HEADER_SIZE])  # checks the header without copying the body
        full, writer = self.writer_schema(schema_id)
        if full not in self.catalog:
            raise UnknownEventType(full, self.catalog.event_types())
        reader = self.catalog.get(full)
        # our own schema as writer: read without resolution (same result, about twice as fast)
        resolve_to = None if self.is_own_schema(schema_id, reader.name) else reader.parsed
        try:
            body = io.BytesIO(data)
            body.seek(HEADER_SIZE)
            record = fastavro.schemaless_reader(body, writer, resolve_to)
        except Exception as exc:  # truncated or corrupt body, or writer/reader not resolvable
            raise WireFormatError(f"cannot read a {reader.name} body with writer schema id {schema_id}: {exc}") from exc
        return reader.name, record  # type: ignore[return-value]

    def decode(self, data: bytes, context: NikContext = NikContext.INGRESS) -> Event:
        """The event model of Confluent-framed bytes; `EventValidationError` if the datum breaks a model rule.

        `context` says which side of the gatekeeper the bytes come from: ingress (raw NIKs, the default) or
        canonical (tokens only)."""
        event_type, record = self.decode_record(data)
        return self.models[event_type].from_avro(record, context)
