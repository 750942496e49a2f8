"""The contract of Simpul: Avro schemas, reference data, pydantic models and the Confluent-wire-format codec.

The bottom layer: it imports nothing from topics/, streams/ or simpul/.
"""

from schemas.catalog import (
    FAMILIES,
    NAMESPACE,
    Catalog,
    EventSchema,
    default_catalog,
    event_types,
    event_types_by_family,
    family_of,
    nik_fields,
    schema_of,
    subject_of,
)
from schemas.exceptions import (
    CatalogError,
    EventValidationError,
    FieldProblem,
    IncompatibleSchema,
    ReferenceDataError,
    RegistryError,
    SchemaError,
    SchemaNotRegistered,
    UnknownEventType,
    UnknownServiceCode,
    WireFormatError,
)
from schemas.models import MODELS, Event, model_for, parse_event
from schemas.nik import NikContext, is_nik_token, is_raw_nik, mask_nik, tokenise_nik
from schemas.reference import regency_codes, standard_for

__all__ = [
    "FAMILIES", "NAMESPACE", "MODELS", "Catalog", "EventSchema", "Event", "CatalogError",
    "EventValidationError", "FieldProblem", "IncompatibleSchema", "ReferenceDataError", "RegistryError",
    "SchemaError", "SchemaNotRegistered", "UnknownEventType", "UnknownServiceCode", "WireFormatError",
    "default_catalog", "event_types", "event_types_by_family", "family_of", "is_nik_token", "is_raw_nik",
    "mask_nik", "model_for", "nik_fields", "NikContext", "parse_event", "regency_codes", "schema_of", "standard_for",
    "subject_of", "tokenise_nik",
]
