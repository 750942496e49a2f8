"""pydantic models for every event type, built from the `.avsc` files at import (the schemas are the one truth).

Avro maps to Python as: string -> str (uuid -> UUID), int/long -> int (range-checked), float/double -> float,
boolean -> bool, enum -> Literal of its symbols, timestamp-millis -> aware datetime in UTC (milliseconds),
date -> date, ["null", T] -> T | None, array/map/record -> list/dict/nested model. `simpul.*` field attributes add
checks: `simpul.reference` (regencies, services, commodities), `simpul.pii: nik`, `simpul.minimum/maximum`,
`simpul.minLength`, `simpul.pattern`.

A NIK field is validated in one of two contexts (`schemas.nik.NikContext`): ingress (a raw NIK or null, the
default) or canonical (a gatekeeper token or null), named through pydantic's validation context:
`from_avro(datum, NikContext.CANONICAL)`, `parse_event(..., context=...)`. Error messages name the field and
never repeat a NIK: pydantic's own error (which holds the input) is not chained to the `EventValidationError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Union
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    create_model,
    model_validator,
)

from schemas import reference
from schemas.reference import roads
from schemas.catalog import Catalog, EventSchema, default_catalog
from schemas.exceptions import CatalogError, EventValidationError, FieldProblem
from schemas.nik import (
    NIK_PATTERN,
    NikContext,
    check_nik,
    context_of,
    is_nik_token,
    is_raw_nik,
    redact_niks,
    validation_context,
)
from schemas.reference import spmb

INT_RANGE = (-(2**31), 2**31 - 1)
LONG_RANGE = (-(2**63), 2**63 - 1)


# ---- field checks driven by `simpul.*` attributes -------------------------------------------------------------

def _check_regency(value: str) -> str:
    if value not in reference.regency_codes():
        raise ValueError(
            f"{value!r} is not one of the 35 Central Java regency codes (3301-3329, 3371-3376, "
            "see schemas/reference/regencies.csv)"
        )
    return value


def _check_service(value: str) -> str:
    if value not in reference.service_codes():
        raise ValueError(
            f"{value!r} is not a service code of the standards catalog; "
            f"known: {', '.join(sorted(reference.service_codes()))}"
        )
    return value


def _check_commodity(value: str) -> str:
    if value not in reference.commodities():
        raise ValueError(f"{value!r} is not in the commodity list; known: {', '.join(sorted(reference.commodities()))}")
    return value


def _check_nik(value: str, info: ValidationInfo) -> str:
    context = info.context
    if (context is None or context is _INGRESS) and NIK_PATTERN.fullmatch(value) is not None:
        return value  # a raw NIK on ingress: the gatekeeper's hot path, without a call more
    return check_nik(value, context_of(context))


def _to_utc_millis(value: datetime) -> datetime:
    if value.tzinfo is UTC and not value.microsecond % 1000:  # as fastavro reads timestamp-millis: nothing to do
        return value
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


_CONTEXTS = {context: validation_context(context) for context in NikContext}
_INGRESS = _CONTEXTS[NikContext.INGRESS]
_REFERENCE_CHECKS: dict[str, Callable[[str], str]] = {
    "regencies": _check_regency,
    "services": _check_service,
    "commodities": _check_commodity,
}
_PRIMITIVES: dict[str, Any] = {"string": str, "bytes": bytes, "boolean": bool, "float": float, "double": float}


class Event(BaseModel):
    """Base of every event model: the envelope fields come from the schema; this adds the one translation each way."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    event_schema: ClassVar[EventSchema]
    event_type: ClassVar[str]
    family: ClassVar[str]

    if TYPE_CHECKING:  # declared by every generated model from the envelope in the .avsc; here only for type checkers
        event_id: UUID
        regency_code: str
        source_system: str
        occurred_at: datetime
        case_id: str

    def __init__(self, **data: Any) -> None:
        """An ingress event from keyword arguments (a canonical one: `model_validate(data, context=...)`)."""
        try:
            super().__init__(**data)
            return
        except ValidationError as exc:
            error = _translate(type(self).__name__, exc)
        raise error  # outside the handler: pydantic's error, which holds the input values, is not chained

    # the override only translates errors: without this mark pydantic would route `model_validate` through it,
    # validating every event twice (the gatekeeper's hot path)
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Validate a mapping; raises `EventValidationError` naming every bad field path (never a value)."""
        try:
            return super().model_validate(obj, **kwargs)
        except ValidationError as exc:
            error = _translate(cls.__name__, exc)
        raise error

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, **kwargs: Any) -> Any:  # type: ignore[override]
        """Validate JSON text; raises `EventValidationError` naming every bad field path (never a value)."""
        try:
            return super().model_validate_json(json_data, **kwargs)
        except ValidationError as exc:
            error = _translate(cls.__name__, exc)
        raise error

    @property
    def ordering_key(self) -> str:
        """`<regency_code>:<case_id>`: the message key that keeps one case's events in order on one partition."""
        return f"{self.regency_code}:{self.case_id}"

    def to_avro(self) -> dict[str, Any]:
        """The Avro datum (a dict fastavro writes with this event's schema)."""
        return self.model_dump(mode="python")

    @classmethod
    def from_avro(cls, record: Mapping[str, Any], context: NikContext = NikContext.INGRESS) -> Event:
        """The model of an Avro datum read with this event's schema, its NIK fields checked for `context`."""
        data = record if type(record) is dict else dict(record)
        if context is NikContext.INGRESS:  # no context means ingress; passing none is the cheaper call
            return cls.model_validate(data)
        return cls.model_validate(data, context=_CONTEXTS[context])

    @model_validator(mode="after")
    def _cross_field_checks(self) -> Event:
        check = CROSS_CHECKS.get(type(self).event_type)
        problems = check(self) if check else []
        if problems:
            raise EventValidationError(type(self).event_type, problems)
        return self


def _translate(event_type: str, exc: ValidationError) -> EventValidationError:
    problems: list[FieldProblem] = []
    for err in exc.errors():
        inner = (err.get("ctx") or {}).get("error")
        if isinstance(inner, EventValidationError):
            problems.extend(inner.problems)
            continue
        path = ".".join(str(p) for p in err["loc"]) or "<event>"
        msg = redact_niks(err["msg"].removeprefix("Value error, "))
        if err["type"] == "missing":
            msg = "required field is missing"
        elif err["type"] == "extra_forbidden":
            msg = "unknown field (not in the schema)"
        problems.append(FieldProblem(path=path, message=msg))
    return EventValidationError(event_type, problems)


# ---- cross-field rules (one event at a time; stateful rules belong to the stream processors) ------------------

def _completed(e: Any) -> list[FieldProblem]:
    if e.submitted_at > e.occurred_at:
        return [FieldProblem("submitted_at", "is after occurred_at; a request cannot complete before it is submitted")]
    return []


def _price(e: Any) -> list[FieldProblem]:
    unit = reference.commodities()[e.commodity_code].unit
    if e.unit != unit:
        return [FieldProblem("unit", f"{e.commodity_code} is priced per {unit}, not per {e.unit}")]
    return []


def _tourism(e: Any) -> list[FieldProblem]:
    out = []
    if e.period_end < e.period_start:
        out.append(FieldProblem("period_end", "is before period_start"))
    if e.foreign_visitors > e.visitors:
        out.append(FieldProblem("foreign_visitors", "is more than visitors (which counts everyone)"))
    return out


def _complaint_filed(e: Any) -> list[FieldProblem]:
    if e.anonymous and e.reporter_nik is not None:
        return [FieldProblem("reporter_nik", "must be null when anonymous is true")]
    return []


def _complaint_status(e: Any) -> list[FieldProblem]:
    if e.from_status is not None and not reference.complaint_workflow().can_transition(e.from_status, e.to_status):
        allowed = reference.complaint_workflow().transitions.get(e.from_status, ())
        return [FieldProblem("to_status", f"{e.from_status} -> {e.to_status} is not in the complaint workflow; "
                                          f"from {e.from_status} allowed: {', '.join(allowed) or 'none'}")]
    return []


# SPMB school admission (schemas/reference/spmb.py holds the routes and shares per level)
def _admission_applied(e: Any) -> list[FieldProblem]:
    return spmb.route_problems(e.school_level, e.route)


def _admission_decided(e: Any) -> list[FieldProblem]:
    return spmb.route_problems(e.school_level, e.route) + spmb.decision_problems(e.applied_at, e.decided_at,
                                                                                 e.occurred_at)


def _quota_published(e: Any) -> list[FieldProblem]:
    seats = {route: getattr(e, f"seats_{route.lower()}") for route in spmb.ROUTES}
    return spmb.quota_problems(e.school_level, seats)


# -- infrastructure (roads, public works) --
def _road_reported(e: Any) -> list[FieldProblem]:
    box = roads.central_java_box()
    if box.contains(e.latitude, e.longitude):
        return []
    m = box.margin_degrees
    out = []
    if not box.south - m <= e.latitude <= box.north + m:
        out.append(FieldProblem("latitude", f"{e.latitude} is outside Central Java ({box.describe()})"))
    if not box.west - m <= e.longitude <= box.east + m:
        out.append(FieldProblem("longitude", f"{e.longitude} is outside Central Java ({box.describe()})"))
    return out


def _road_handled(e: Any) -> list[FieldProblem]:
    out = []
    if e.reported_at > e.occurred_at:
        out.append(FieldProblem("reported_at", "is after occurred_at; a report cannot be handled before it is made"))
    owner = roads.authority_for(e.road_status).authority
    if e.action == "FORWARDED" and e.forwarded_to != owner:
        out.append(FieldProblem("forwarded_to", f"a {e.road_status} road's report goes to its owner {owner}, "
                                                f"not {e.forwarded_to}"))
    if e.action != "FORWARDED" and e.forwarded_to is not None:
        out.append(FieldProblem("forwarded_to", f"must be null unless action is FORWARDED (it is {e.action})"))
    return out


def _works_progress(e: Any) -> list[FieldProblem]:
    if e.contract_id != e.case_id:
        return [FieldProblem("contract_id", "must equal case_id (one contract is one case)")]
    return []


# The cross-field rule of each event type; the gatekeeper's compiled check runs these same functions.
CROSS_CHECKS: dict[str, Callable[[Any], list[FieldProblem]]] = {
    "ServiceRequestCompleted": _completed,
    "StapleFoodPriceObserved": _price,
    "TourismVisitCount": _tourism,
    "ComplaintFiled": _complaint_filed,
    "ComplaintStatusChanged": _complaint_status,
    # -- infrastructure --
    "RoadDamageReported": _road_reported,
    "RoadDamageHandled": _road_handled,
    "PublicWorksProgress": _works_progress,
    "SchoolAdmissionApplied": _admission_applied,
    "SchoolAdmissionDecided": _admission_decided,
    "SchoolQuotaPublished": _quota_published,
}


# ---- Avro type -> Python annotation ---------------------------------------------------------------------------

class _TypeBuilder:
    """Translates one schema's Avro types, remembering named types it has seen (enums, records)."""

    def __init__(self, schema_name: str, module: str) -> None:
        self.schema_name = schema_name
        self.module = module
        self.named: dict[str, Any] = {}

    def annotation(self, avro: Any, attrs: Mapping[str, Any]) -> Any:
        if isinstance(avro, list):
            branches = [b for b in avro if b != "null"]
            inner = [self.annotation(b, attrs) for b in branches]
            core = inner[0] if len(inner) == 1 else Union[tuple(inner)]  # noqa: UP007
            return core | None if "null" in avro else core
        if isinstance(avro, str):
            if avro in self.named:
                return self.named[avro]
            if avro.split(".")[-1] in self.named:
                return self.named[avro.split(".")[-1]]
            return self._primitive(avro, None, attrs)
        kind = avro["type"]
        logical = avro.get("logicalType")
        if kind == "enum":
            lit = Literal[tuple(avro["symbols"])]  # type: ignore[valid-type]
            self.named[avro["name"]] = lit
            return lit
        if kind == "record":
            model = _record_model(avro, self, base=BaseModel)
            self.named[avro["name"]] = model
            return model
        if kind == "array":
            return list[self.annotation(avro["items"], {})]  # type: ignore[misc]
        if kind == "map":
            return dict[str, self.annotation(avro["values"], {})]  # type: ignore[misc]
        if kind == "fixed":
            return Annotated[bytes, Field(min_length=avro["size"], max_length=avro["size"])]
        return self._primitive(kind, logical, attrs)

    def _primitive(self, kind: str, logical: str | None, attrs: Mapping[str, Any]) -> Any:
        constraints: dict[str, Any] = {}
        validators: list[Any] = []
        if logical == "uuid" and kind == "string":
            return UUID
        if logical in ("timestamp-millis", "timestamp-micros") and kind == "long":
            return Annotated[AwareDatetime, AfterValidator(_to_utc_millis)]
        if logical == "date" and kind == "int":
            return date
        if kind in ("int", "long"):
            lo, hi = INT_RANGE if kind == "int" else LONG_RANGE
            constraints = {"strict": True, "ge": max(lo, attrs.get("simpul.minimum", lo)), "le": min(hi, attrs.get("simpul.maximum", hi))}
            return Annotated[int, Field(**constraints)]
        if kind not in _PRIMITIVES:
            raise CatalogError(f"{self.schema_name}: Avro type {kind!r} has no model mapping (unknown named type?)")
        py = _PRIMITIVES[kind]
        if kind in ("float", "double"):
            constraints["allow_inf_nan"] = False
            if "simpul.minimum" in attrs:
                constraints["ge"] = attrs["simpul.minimum"]
            if "simpul.maximum" in attrs:
                constraints["le"] = attrs["simpul.maximum"]
        if kind in ("boolean", "string"):
            constraints["strict"] = True
        if kind == "string":
            if "simpul.minLength" in attrs:
                constraints["min_length"] = attrs["simpul.minLength"]
            if "simpul.pattern" in attrs:
                constraints["pattern"] = attrs["simpul.pattern"]
            ref = attrs.get("simpul.reference")
            if ref is not None:
                if ref not in _REFERENCE_CHECKS:
                    raise CatalogError(f"{self.schema_name}: unknown simpul.reference {ref!r}; use one of {sorted(_REFERENCE_CHECKS)}")
                validators.append(AfterValidator(_REFERENCE_CHECKS[ref]))
            if attrs.get("simpul.pii") == "nik":
                validators.append(AfterValidator(_check_nik))
        return Annotated[py, Field(**constraints), *validators] if (constraints or validators) else py


def _record_model(avro: Mapping[str, Any], types: _TypeBuilder, base: type[BaseModel]) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for f in avro["fields"]:
        annotation = types.annotation(f["type"], f)
        info: dict[str, Any] = {"description": f.get("doc")}
        if "default" in f:
            info["default"] = f["default"]
        fields[f["name"]] = (annotation, Field(**info))
    return create_model(  # type: ignore[call-overload,no-any-return]
        avro["name"], __base__=base, __module__=types.module, __doc__=avro.get("doc"), **fields
    )


def build_model(schema: EventSchema, module: str = __name__) -> type[Event]:
    """The pydantic model of one event schema."""
    model = _record_model(schema.definition, _TypeBuilder(schema.name, module), base=Event)
    model.event_schema = schema  # type: ignore[attr-defined]
    model.event_type = schema.name  # type: ignore[attr-defined]
    model.family = schema.family  # type: ignore[attr-defined]
    return model  # type: ignore[return-value]


def build_models(catalog: Catalog, module: str = __name__) -> dict[str, type[Event]]:
    """Models for every schema of a catalog, by event type."""
    return {s.name: build_model(s, module) for s in catalog}


MODELS: dict[str, type[Event]] = build_models(default_catalog())
globals().update(MODELS)  # `from schemas.models import ServiceRequestSubmitted` works
__all__ = ["Event", "MODELS", "NikContext", "model_for", "parse_event", "is_raw_nik", "is_nik_token", *MODELS]


def model_for(event_type: str) -> type[Event]:
    """The model class of an event type (short or full name)."""
    return MODELS[default_catalog().get(event_type).name]


def parse_event(event_type: str, data: Mapping[str, Any], context: NikContext = NikContext.INGRESS) -> Event:
    """Validate a mapping as `event_type`; raises `EventValidationError` (field paths) or `UnknownEventType`."""
    return model_for(event_type).model_validate(data, context=_CONTEXTS[context])
