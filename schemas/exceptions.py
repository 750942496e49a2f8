"""The contract's error taxonomy: one root, and messages that say what to do next."""

from __future__ import annotations

from dataclasses import dataclass


class SimpulError(Exception):
    """The root of every error Simpul raises on purpose: something a person can fix, and the message says how.

    It lives in the bottom layer so that every package (which all depend on `schemas`) can derive from it.
    """


class SchemaError(SimpulError):
    """Root of every error raised by the `schemas` package."""


class CatalogError(SchemaError):
    """An `.avsc` file is malformed or breaks a catalog rule (namespace, envelope, family, duplicate name)."""


class ReferenceDataError(SchemaError):
    """A reference-data file (regencies, service standards, complaints, commodities) is missing or malformed."""


class UnknownEventType(SchemaError, KeyError):
    """An event type (record name) that the catalog does not hold."""

    def __init__(self, event_type: str, known: list[str]) -> None:
        self.event_type = event_type
        super().__init__(
            f"unknown event type {event_type!r}; known event types: {', '.join(known)} "
            "(add an .avsc under schemas/avro/<family>/ to define a new one)"
        )

    def __str__(self) -> str:  # KeyError would otherwise quote the whole message
        return str(self.args[0])


class UnknownServiceCode(SchemaError, KeyError):
    """A service code that is not in the service-standards catalog."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class FieldProblem:
    """One invalid field: its dotted path (e.g. `regency_code`, `items.0.price_idr`) and what is wrong."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class EventValidationError(SchemaError, ValueError):
    """An event does not satisfy its schema; `problems` names every offending field path."""

    def __init__(self, event_type: str, problems: list[FieldProblem]) -> None:
        self.event_type = event_type
        self.problems = problems
        detail = "; ".join(str(p) for p in problems)
        super().__init__(f"invalid {event_type} event: {detail}")

    @property
    def fields(self) -> list[str]:
        """The offending field paths, in the order they were found."""
        return [p.path for p in self.problems]


class RegistryError(SchemaError):
    """The schema registry refused a request or could not be reached."""


class SchemaNotRegistered(RegistryError):
    """The writer schema is not in the registry and auto-registration is off."""


class IncompatibleSchema(RegistryError):
    """A schema change breaks the subject's compatibility rule."""


class SealError(SchemaError):
    """A sealed DLQ record cannot be opened: not an envelope, sealed with a key this installation no longer has,
    or altered (its bytes, or the source it claims, are not what the gatekeeper sealed)."""


class WireFormatError(SchemaError):
    """Bytes that are not a Confluent-framed Avro record we can read (poison message: send it to the DLQ)."""
