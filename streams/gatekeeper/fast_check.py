"""The gatekeeper's compiled validation path: a msgspec type per event type, generated from the Avro schemas and
the reference data, that says whether a decoded ingress datum is valid in a few microseconds.

Why: the pydantic models (`schemas.models`) cost about a fifth of the gatekeeper's CPU per record, and a record
written with our own schema already has every Avro type right (fastavro decoded it), so what remains to check is
the `simpul.*` rules: int/long ranges and `simpul.minimum/maximum`, finite floats, `simpul.minLength`,
`simpul.pattern`, `simpul.reference` (regency, service and commodity codes), raw NIKs on ingress, and the
cross-field rules. msgspec checks the field rules while converting the datum into a generated `Struct`; the
cross-field rules are the models' own functions (`schemas.models.CROSS_CHECKS`), run on that `Struct`, so they
exist once.

The models stay the one wording of a rejection: the gatekeeper runs the model whenever this check says "invalid"
(and then follows the model, whatever it says), and skips it when this check says "valid". A differential test
(tests/unit/test_gatekeeper_fast_check.py) holds both to the same verdict and the same offending field.

Where the two regex engines differ, patterns are translated to what pydantic's (Rust) engine means: `$` at the
end matches only at the very end (Python's also before a final newline), and `\\s`/`\\S` are Unicode White_Space
(Python's also counts U+001C..U+001F). A pattern using a construct without a known translation is refused when
the check is built, so a new schema cannot silently diverge.
"""

from __future__ import annotations

import re
import sys
import weakref
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Annotated, Any, Literal, Union
from uuid import UUID

import msgspec

from schemas import reference
from schemas.catalog import Catalog, EventSchema
from schemas.exceptions import CatalogError, FieldProblem
from schemas.models import CROSS_CHECKS, INT_RANGE, LONG_RANGE, Event
from schemas.nik import NIK_PATTERN

FLOAT_MAX = sys.float_info.max
"""A float field's bounds when the schema gives none: msgspec then refuses NaN and ±inf, as the models do."""

WHITE_SPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
"""Unicode White_Space, what `\\s` means in pydantic's regex engine (Rust `regex`)."""

_REFERENCES: dict[str, Callable[[], Any]] = {
    "regencies": reference.regency_codes,
    "services": reference.service_codes,
    "commodities": reference.commodities,
}
_UNTRANSLATED = re.compile(r"\\[wWbBAzZ]|\[[^\]]*\\[sS]|\$(?!$)")
_PATH_STEP = re.compile(r"\[(?:'([^']*)'|\"([^\"]*)\"|([^\]]*))\]")


def python_pattern(pattern: str, where: str) -> str:
    """`pattern` (a `simpul.pattern`, searched like pydantic does) as a Python `re` pattern with the same meaning.

    Raises CatalogError for constructs whose meaning differs between the engines and has no translation here."""
    if _UNTRANSLATED.search(pattern.replace("\\\\", "")):
        raise CatalogError(f"{where}: simpul.pattern {pattern!r} uses a construct (\\w, \\b, \\A, \\z, \\s inside [...], "
                           "or $ before the end) that Python's re and pydantic's regex engine read differently; "
                           "extend streams/gatekeeper/fast_check.python_pattern or write the pattern without it")
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            out.append({"s": f"[{WHITE_SPACE}]", "S": f"[^{WHITE_SPACE}]"}.get(nxt, c + nxt))
            i += 2
            continue
        out.append(r"\Z" if c == "$" and i == len(pattern) - 1 else c)
        i += 1
    return "".join(out)


class _Types:
    """Avro type -> msgspec annotation for one schema, as `schemas.models._TypeBuilder` maps it to pydantic."""

    def __init__(self, schema_name: str) -> None:
        self.schema_name = schema_name
        self.named: dict[str, Any] = {}

    def annotation(self, avro: Any, attrs: Mapping[str, Any]) -> Any:
        if isinstance(avro, list):
            inner = [self.annotation(b, attrs) for b in avro if b != "null"]
            core = inner[0] if len(inner) == 1 else Union[tuple(inner)]  # noqa: UP007
            return core | None if "null" in avro else core
        if isinstance(avro, str):
            named = self.named.get(avro, self.named.get(avro.split(".")[-1]))
            return named if named is not None else self._primitive(avro, None, attrs)
        kind, logical = avro["type"], avro.get("logicalType")
        if kind == "enum":
            lit = Literal[tuple(avro["symbols"])]  # type: ignore[valid-type]
            self.named[avro["name"]] = lit
            return lit
        if kind == "record":
            struct = _struct(avro, self)
            self.named[avro["name"]] = struct
            return struct
        if kind == "array":
            return list[self.annotation(avro["items"], {})]  # type: ignore[misc]
        if kind == "map":
            return dict[str, self.annotation(avro["values"], {})]  # type: ignore[misc]
        if kind == "fixed":
            return Annotated[bytes, msgspec.Meta(min_length=avro["size"], max_length=avro["size"])]
        return self._primitive(kind, logical, attrs)

    def _primitive(self, kind: str, logical: str | None, attrs: Mapping[str, Any]) -> Any:
        if logical == "uuid" and kind == "string":
            return UUID
        if logical in ("timestamp-millis", "timestamp-micros") and kind == "long":
            return Annotated[datetime, msgspec.Meta(tz=True)]
        if logical == "date" and kind == "int":
            return date
        if kind in ("int", "long"):
            lo, hi = INT_RANGE if kind == "int" else LONG_RANGE
            return Annotated[int, msgspec.Meta(ge=max(lo, attrs.get("simpul.minimum", lo)),
                                               le=min(hi, attrs.get("simpul.maximum", hi)))]
        if kind in ("float", "double"):
            return Annotated[float, msgspec.Meta(ge=attrs.get("simpul.minimum", -FLOAT_MAX),
                                                 le=attrs.get("simpul.maximum", FLOAT_MAX))]
        if kind == "boolean":
            return bool
        if kind == "bytes":
            return bytes
        if kind == "string":
            return self._string(attrs)
        raise CatalogError(f"{self.schema_name}: Avro type {kind!r} has no compiled check (unknown named type?)")

    def _string(self, attrs: Mapping[str, Any]) -> Any:
        where = f"{self.schema_name}.{attrs.get('name', '?')}"
        patterns = []
        if "simpul.pattern" in attrs:
            patterns.append(python_pattern(attrs["simpul.pattern"], where))
        if attrs.get("simpul.pii") == "nik":  # ingress: a raw NIK (the gatekeeper's side of the contract)
            patterns.append(r"\A" + NIK_PATTERN.pattern + r"\Z")
        min_length = attrs.get("simpul.minLength")
        ref = attrs.get("simpul.reference")
        if ref is not None:  # a finite set: keep the codes that also meet the other rules, check membership only
            if ref not in _REFERENCES:
                raise CatalogError(f"{where}: unknown simpul.reference {ref!r}; use one of {sorted(_REFERENCES)}")
            codes = sorted(c for c in _REFERENCES[ref]()
                           if (min_length is None or len(c) >= min_length) and all(re.search(p, c) for p in patterns))
            return Literal[tuple(codes)] if codes else Literal["\0<no valid code>"]  # type: ignore[valid-type]
        if len(patterns) > 1:
            raise CatalogError(f"{where}: a NIK field with its own simpul.pattern has no compiled check; drop the "
                               "pattern (a NIK is always 16 digits) or extend streams/gatekeeper/fast_check")
        meta: dict[str, Any] = {}
        if min_length is not None:
            meta["min_length"] = min_length
        if patterns:
            meta["pattern"] = patterns[0]
        return Annotated[str, msgspec.Meta(**meta)] if meta else str


def _struct(avro: Mapping[str, Any], types: _Types) -> type[msgspec.Struct]:
    fields = [(f["name"], types.annotation(f["type"], f)) for f in avro["fields"]]
    return msgspec.defstruct(avro["name"], fields, forbid_unknown_fields=True)  # type: ignore[no-any-return]


def _field_of(error: msgspec.ValidationError) -> str:
    """The offending field of a msgspec error, as the models name it (`a.b.0`; `<event>` for the whole datum)."""
    _, sep, path = str(error).rpartition(" - at `$")
    if not sep:
        return "<event>"
    path = path.rstrip("`")
    path = _PATH_STEP.sub(lambda m: "." + next(g for g in m.groups() if g is not None), path)
    return path.lstrip(".") or "<event>"


class IngressCheck:
    """The compiled check of every event type of a catalog, for ingress data (raw NIKs) decoded by fastavro."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._types: dict[str, type[msgspec.Struct]] = {}
        self._cross: dict[str, Callable[[Any], list[FieldProblem]] | None] = {}
        for schema in catalog:
            self._types[schema.name] = _struct(schema.definition, _Types(schema.name))
            self._cross[schema.name] = CROSS_CHECKS.get(schema.name)
        self._covered: dict[type[Event], bool] = {}
        self._convert = msgspec.convert

    def covers(self, model: type[Event]) -> bool:
        """Whether this check was generated from the very schema `model` was built from (else: the model alone)."""
        covered = self._covered.get(model)
        if covered is None:
            schema: EventSchema | None = getattr(model, "event_schema", None)
            covered = self._covered[model] = (schema is not None and schema.name in self._types
                                              and self.catalog.get(schema.name) is schema)
        return covered

    def accepts(self, model: type[Event], datum: Mapping[str, Any]) -> bool:
        """True when the datum, read with our own schema of `model`'s event type, meets every rule of `model`
        (the hot path: no reason is worded); False when it does not, or when `model` is not one this check was
        generated for: then the model decides."""
        return self.covers(model) and self.valid(model.event_type, datum)

    def valid(self, event_type: str, datum: Mapping[str, Any]) -> bool:
        """True when the datum meets every rule of its event type's model."""
        try:
            struct = self._convert(datum, self._types[event_type])
        except msgspec.ValidationError:
            return False
        cross = self._cross[event_type]
        if cross is None:
            return True
        try:
            return not cross(struct)
        except Exception:  # noqa: BLE001 - whatever the rule raises, the model decides (and words it)
            return False

    def findings(self, event_type: str, datum: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
        """Which rule the datum breaks and the fields it names: ("field", (first field msgspec refuses,)),
        ("cross-field", every field the event type's cross-field rule names), or ("", ()) when valid. For the
        differential test and diagnostics, not the hot path."""
        try:
            struct = self._convert(datum, self._types[event_type])
        except msgspec.ValidationError as exc:
            return "field", (_field_of(exc),)
        cross = self._cross[event_type]
        problems = cross(struct) if cross is not None else []
        return ("cross-field", tuple(p.path for p in problems)) if problems else ("", ())


_CHECKS: weakref.WeakKeyDictionary[Catalog, IngressCheck] = weakref.WeakKeyDictionary()


def ingress_check(catalog: Catalog) -> IngressCheck:
    """The compiled check of `catalog`, built once per catalog (about 20 ms)."""
    check = _CHECKS.get(catalog)
    if check is None:
        check = _CHECKS[catalog] = IngressCheck(catalog)
    return check
