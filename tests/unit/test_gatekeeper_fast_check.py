"""Differential test of the gatekeeper's compiled validation path (streams/gatekeeper/fast_check.py) against the
pydantic models (schemas/models.py), which stay the contract.

Each run generates over 10,000 events, Avro-encoded with our own schemas as a regency's system would send them:
valid ones (the simulator's traffic, the examples) and ones broken in every field rule and cross-field rule the
models know. The rules are enumerated from the models themselves (the pydantic field metadata, the validators,
the cross-field rule table), not from the `.avsc` the compiled check is generated from, so the two sides are
built independently; a rule of a kind this test does not know fails `test_every_rule_of_the_models_is_known`.

Every event goes through the gatekeeper's `screen` twice: with the compiled check, and with the models deciding
everything. Both must give the same outcome (routed, rejected or duplicate), the same reason, message and
(field, reason) pairs, and byte-identical canonical records; the compiled check's own finding must name the
field the model names. A routed record's bytes (NIK tokens spliced into the sender's bytes) must equal a
re-encoding of the tokenised datum.
"""

from __future__ import annotations

import io
import math
import re
import random
import types
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
import fastavro
import pytest
from memory_registry import MemoryRegistry
from pydantic import AfterValidator, AwareDatetime
from pydantic.fields import FieldInfo

from producers.simulator import FaultMix, plan
from schemas import reference
from schemas.codec import AvroCodec, frame
from schemas.dlq_seal import DlqSeal
from schemas.examples import example
from schemas.exceptions import CatalogError, EventValidationError
from schemas.models import CROSS_CHECKS, MODELS, Event
from schemas.nik import NikContext, tokenised_fields
from schemas.outcomes import RejectReason
from schemas.reference import roads
from streams.gatekeeper.fast_check import IngressCheck, ingress_check, python_pattern
from streams.gatekeeper.logic import Rejected, Routed, Routing, decoder_of, screen
from streams.gatekeeper.splice import spliced

MIN_EVENTS = 10_000
RANDOM_MIXES = 7_000  # events breaking (or not) several fields at once, besides one probe per field
SEED = 20261202
KEY = b"differential-hmac-key"
SEAL = DlqSeal("differential-dlq-key-0123456789abcdefghijklmno")
NOW = datetime(2025, 3, 3, 3, 0, tzinfo=UTC)
REGENCIES = sorted(reference.regency_codes())
ROUTING = Routing(
    ingress={f"p.ingress.{r}": r for r in REGENCIES},
    canonical={f: f"p.events.{f}" for f in ("governance", "living", "economy", "environment", "society", "branding")},
    dlq="p.dlq",
)
DUPLICATE_SOURCE = "p.ingress.3374:9:9"

# what the models' validators check, by function name (a new one must be taught to the compiled check and here)
KNOWN_VALIDATORS = {"_check_regency": "regencies", "_check_service": "services",
                    "_check_commodity": "commodities", "_check_nik": "nik", "_to_utc_millis": None}


class _ModelsOnly(IngressCheck):
    """A check that accepts nothing: every record goes to the model, as before the compiled path."""

    def __init__(self) -> None:  # noqa: D107 - nothing to build
        pass

    def accepts(self, model: type[Event], datum: Any) -> bool:  # noqa: ARG002
        return False


# ---- the models' rules, read from the models ----------------------------------------------------------------

@dataclass
class Spec:
    """One field of a model: its base type, whether null is allowed, and the rules pydantic holds it to."""

    base: Any = None
    nullable: bool = False
    literals: tuple[str, ...] = ()
    rules: dict[str, Any] = field(default_factory=dict)  # rule -> its bound or pattern (True when none)


def spec_of(info: FieldInfo) -> Spec:
    spec = Spec()

    def meta(m: Any) -> None:
        if isinstance(m, FieldInfo):
            for x in m.metadata:
                meta(x)
        elif isinstance(m, annotated_types.Ge):
            spec.rules["ge"] = m.ge
        elif isinstance(m, annotated_types.Le):
            spec.rules["le"] = m.le
        elif isinstance(m, annotated_types.MinLen):
            spec.rules["min_length"] = m.min_length
        elif type(m).__name__ == "Strict":
            pass  # the Avro type itself: fastavro gives exactly str/int/bool for our own schema
        elif type(m).__name__ == "AllowInfNan" and m.allow_inf_nan is False:
            spec.rules["finite"] = True
        elif type(m).__name__ == "_PydanticGeneralMetadata" and set(vars(m)) <= {"pattern", "strict"}:
            if getattr(m, "pattern", None) is not None:
                spec.rules["pattern"] = m.pattern
        elif isinstance(m, AfterValidator) and m.func.__name__ in KNOWN_VALIDATORS:
            rule = KNOWN_VALIDATORS[m.func.__name__]
            if rule is not None:
                spec.rules[rule] = True
        else:
            raise AssertionError(f"a model rule this test does not know: {m!r}; teach it to "
                                 "streams/gatekeeper/fast_check.py and to this test")

    def walk(a: Any) -> None:
        origin = get_origin(a)
        if origin is Annotated:
            base, *extra = get_args(a)
            walk(base)
            for m in extra:
                meta(m)
        elif origin in (Union, types.UnionType):
            for x in get_args(a):
                if x is type(None):
                    spec.nullable = True
                else:
                    walk(x)
        elif origin is Literal:
            spec.base, spec.literals = Literal, get_args(a)
        else:
            spec.base = a

    walk(info.annotation)
    for m in info.metadata:
        meta(m)
    return spec


SPECS: dict[str, dict[str, Spec]] = {t: {n: spec_of(f) for n, f in m.model_fields.items()} for t, m in MODELS.items()}


def model_rules() -> set[tuple[str, str, str]]:
    """(event type, field, rule) of every field rule, and (event type, "<cross-field>", rule) of every cross rule."""
    out = {(t, name, rule) for t, fields in SPECS.items() for name, spec in fields.items() for rule in spec.rules}
    return out | {(t, "<cross-field>", CROSS_CHECKS[t].__name__) for t in MODELS if t in CROSS_CHECKS}


# ---- probes: values for each field, tagged with the rule they aim at ("valid": none) ----------------------------

_BOX = roads.central_java_box()
_EDGES = [_BOX.south - _BOX.margin_degrees, _BOX.north + _BOX.margin_degrees, _BOX.west - _BOX.margin_degrees,
          _BOX.east + _BOX.margin_degrees]
_PATTERN_PROBES = ["12345678", "1234567", "123456789", "12345678\n", "1234567a", "١٢٣٤٥٦٧٨", "2025-01", "2025-12",
                   "2025-13", "2025-00", "2025-1", "2025-01\n", "٢٠٢٥-٠١", "https://example.org/p/1.jpg",
                   "https://a\x1cb", "https://a\x1fb", "https://ab\n", "https://a b", "HTTPS://x", "https://",
                   "s3://bucket/k", "https://" + "a" * 500, "https://" + "a" * 501, "https://a\u00a0b",
                   "https://a\x85b", "https://a\u180eb", "https://a\u2028", "9ftp://x", ""]
_NIK = "3374015502900001"
_BAD_NIKS = ["", _NIK[:15], _NIK + "1", _NIK + "\n", "\n" + _NIK, " " + _NIK[1:], "nik:" + "A" * 43,
             "٣٣٧٤٠١٥٥٠٢٩٠٠٠٠١", "３３７４０１５５０２９０００００１", _NIK[:8] + "-" + _NIK[9:]]


def probes(spec: Spec, value: Any, datum: dict[str, Any], rng: random.Random) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = [("valid", None)] if spec.nullable else []
    rules, base = spec.rules, spec.base
    if base is Literal:
        return out + [("valid", s) for s in spec.literals]
    if base is bool:
        return out + [("valid", True), ("valid", False)]
    if base is uuid.UUID:
        return out + [("valid", uuid.UUID(int=rng.getrandbits(128), version=4))]
    if base is AwareDatetime or (isinstance(base, type) and issubclass(base, datetime)):
        at = datum["occurred_at"]
        return out + [("valid", at + timedelta(milliseconds=d)) for d in (-86_400_000, -1, 0, 1, 86_400_000)]
    if base is date:
        day = value if isinstance(value, date) else NOW.date()
        return out + [("valid", day + timedelta(days=d)) for d in (-1, 0, 1)]
    if base is int:
        lo, hi = rules["ge"], rules["le"]
        out += [("ge", lo - 1), ("valid", lo), ("valid", min(lo + 1, hi)), ("valid", hi), ("le", hi + 1)]
        return out + [("valid", rng.randint(lo, min(hi, lo + 60))) for _ in range(4)]
    if base is float:
        lo, hi = rules.get("ge", -1e9), rules.get("le", 1e9)
        out += [("finite", math.nan), ("finite", math.inf), ("finite", -math.inf), ("valid", float(lo)),
                ("valid", float(hi)), ("valid", rng.uniform(lo, hi)), ("valid", 0.0)]
        if "ge" in rules:
            out.append(("ge", math.nextafter(lo, -math.inf)))
        if "le" in rules:
            out.append(("le", math.nextafter(hi, math.inf)))
        edges = [e for x in _EDGES for e in (x, math.nextafter(x, -math.inf), math.nextafter(x, math.inf))]
        return out + [("valid", e) for e in edges if lo <= e <= hi]
    assert base is str, f"no probes for {base!r}"
    if "regencies" in rules:
        return out + [("valid", r) for r in rng.sample(REGENCIES, 3) + ["3374", "3301"]] + [
            ("regencies", c) for c in ("3300", "3330", "3370", "3377", "33 74", "3374 ", "", "٣٣٧٤", "33.74")]
    if "services" in rules:
        codes = sorted(reference.service_codes())
        return out + [("valid", c) for c in codes] + [("services", c) for c in ("X", "", codes[0].lower(),
                                                                                 codes[0] + " ", codes[0] + "\n")]
    if "commodities" in rules:
        codes = sorted(reference.commodities())
        return out + [("valid", c) for c in codes] + [("commodities", c) for c in ("RICE_X", "", codes[0].lower())]
    if "nik" in rules:
        return out + [("valid", _NIK), ("valid", "".join(rng.choice("0123456789") for _ in range(16)))] + [
            ("nik", v) for v in _BAD_NIKS]
    if "pattern" in rules:
        own = value if isinstance(value, str) else ""
        mutated = [own + "\n", own + "x", own[:-1], " " + own, own.replace("1", "١")]
        return out + [("pattern", v) for v in _PATTERN_PROBES + mutated]
    if "min_length" in rules:
        n = rules["min_length"]
        return out + [("min_length", "x" * (n - 1)), ("valid", "x" * n), ("valid", "é" * n), ("valid", "a b\n")]
    # a plain string: values the cross-field rules compare it with, and a NIK of the datum in free text
    authorities = [a.authority for a in roads.road_authorities().values()]
    niks = [v for v in datum.values() if isinstance(v, str) and len(v) == 16 and v.isdigit()]
    return out + [("valid", v) for v in ["", "x", datum.get("case_id", "c"), "other", *authorities,
                                         *(" " + n for n in niks), *(f"NIK {n} ditulis" for n in niks)]]


# ---- generation ---------------------------------------------------------------------------------------------

@dataclass
class Case:
    event_type: str
    regency: str
    value: bytes
    tags: tuple[tuple[str, str], ...]  # (field, rule) of each probe applied


def encode(event_type: str, datum: dict[str, Any]) -> bytes | None:
    """The datum as a regency's system would write it with our schema, or None when Avro cannot carry it."""
    schema = CODEC.catalog.get(event_type)
    body = io.BytesIO()
    try:
        fastavro.schemaless_writer(body, schema.parsed, datum)
    except (ValueError, TypeError, OverflowError, KeyError, AttributeError):
        return None
    return frame(CODEC.schema_id(event_type), body.getvalue())


CODEC = AvroCodec(MemoryRegistry())  # type: ignore[arg-type]
CODEC.register_all()


def bases() -> list[tuple[str, dict[str, Any]]]:
    """Valid data to break: every event type's example and a seeded simulation (every type, real values)."""
    out = [(t, example(t).to_avro()) for t in MODELS]
    out += [(t, example(t, regency_code="3301").to_avro()) for t in MODELS if t != "TourismVisitCount"]
    sim = plan(700, SEED, FaultMix.clean(), nik_hmac_key=KEY.decode()).records
    return out + [(r.event_type, r.event.to_avro()) for r in sim]


def generate() -> tuple[list[Case], Counter[tuple[str, str, str]]]:
    """The cases, and how many probes of each (event type, field, rule) Avro could not carry."""
    rng = random.Random(SEED)
    cases: list[Case] = []
    unencodable: Counter[tuple[str, str, str]] = Counter()
    all_bases = bases()

    def add(event_type: str, regency: str, datum: dict[str, Any], tags: tuple[tuple[str, str], ...]) -> None:
        value = encode(event_type, datum)
        if value is None:
            for f, rule in tags:
                unencodable[(event_type, f, rule)] += 1
            return
        cases.append(Case(event_type, regency, value, tags))

    for event_type, datum in all_bases:  # valid as they are
        add(event_type, datum["regency_code"], datum, ())
    seen_types: set[str] = set()
    for event_type, datum in all_bases:  # one probe at a time, two bases per type
        if event_type in seen_types and rng.random() > 0.02:
            continue
        seen_types.add(event_type)
        for name, spec in SPECS[event_type].items():
            for rule, v in probes(spec, datum[name], datum, rng):
                add(event_type, datum["regency_code"], {**datum, name: v}, ((name, rule),))
    for _ in range(RANDOM_MIXES):  # several probes at once: cross-field rules meet their combinations
        event_type, datum = rng.choice(all_bases)
        names = rng.sample(sorted(SPECS[event_type]), k=min(len(SPECS[event_type]), rng.randint(1, 4)))
        mixed, tags = dict(datum), []
        for name in names:
            choices = probes(SPECS[event_type][name], datum[name], datum, rng)
            valid = [c for c in choices if c[0] == "valid"]
            rule, v = rng.choice(valid if valid and rng.random() < 0.8 else choices)
            mixed[name] = v
            tags.append((name, rule))
        add(event_type, datum["regency_code"], mixed, tuple(tags))
    return cases, unencodable


# ---- the comparison -----------------------------------------------------------------------------------------

def decide(case: Case, offset: int, check: IngressCheck, seen: set[str]):  # type: ignore[no-untyped-def]
    return screen(f"p.ingress.{case.regency}", 0, offset, b"k", case.value, [], codec=CODEC, routing=ROUTING,
                  hmac_key=KEY, seal=SEAL, first_seen=lambda eid: DUPLICATE_SOURCE if eid in seen else None,
                  now=NOW, check=check)


@dataclass
class Tally:
    outcomes: Counter[str] = field(default_factory=Counter)
    broken: dict[tuple[str, str, str], int] = field(default_factory=lambda: defaultdict(int))
    cross_rejections: Counter[str] = field(default_factory=Counter)
    spliced: int = 0


@pytest.fixture(scope="module")
def run() -> tuple[list[Case], Counter[tuple[str, str, str]], Tally]:
    cases, unencodable = generate()
    fast, models_only = ingress_check(CODEC.catalog), _ModelsOnly()
    tally = Tally()
    rng = random.Random(SEED + 1)
    for i, case in enumerate(cases):
        model, record = decoder_of(CODEC)(case.value)  # the datum as the gatekeeper reads it
        event_type = model.event_type
        seen = {str(record["event_id"])} if rng.random() < 0.05 else set()
        a, b = decide(case, i, fast, seen), decide(case, i, models_only, seen)
        what = f"case {i} ({case.event_type}, probes {case.tags})"
        assert type(a) is type(b), f"{what}: compiled path gave {type(a).__name__}, the models {type(b).__name__}"
        if isinstance(a, Rejected):
            assert (a.reason, a.message, a.problems, a.headers, a.event_id, a.case_id) == \
                   (b.reason, b.message, b.problems, b.headers, b.event_id, b.case_id), what
            tally.outcomes[a.reason.value] += 1
        else:
            assert a == b, what
            tally.outcomes[type(a).__name__] += 1
        if isinstance(a, Routed):
            tokens = tokenised_fields(event_type, record, KEY)
            assert a.value == CODEC.encode_datum(event_type, {**record, **tokens}), f"{what}: spliced bytes differ"
            tally.spliced += bool(tokens)
        # the compiled check's own verdict and field, against the model's
        rule, fields = fast.findings(event_type, record)
        try:
            MODELS[event_type].from_avro(record, NikContext.INGRESS)
        except EventValidationError as exc:
            named = [p.path for p in exc.problems]
            assert not fast.valid(event_type, record), f"{what}: the compiled check accepts what the model refuses"
            assert fields and set(fields) <= set(named), f"{what}: compiled check names {fields}, the model {named}"
            if rule == "cross-field" or len(named) == 1:
                assert set(fields) == set(named), f"{what}: compiled check names {fields}, the model {named}"
            for f, r in case.tags:
                if f in named:
                    tally.broken[(event_type, f, r)] += 1
            if rule == "cross-field":
                tally.cross_rejections[event_type] += 1
        else:
            assert fast.valid(event_type, record) and rule == "", f"{what}: the compiled check refuses {fields}"
    return cases, unencodable, tally


def test_every_rule_of_the_models_is_known() -> None:
    assert model_rules()  # spec_of raised at import for any rule kind it does not know
    for event_type, model in MODELS.items():
        decorators = model.__pydantic_decorators__
        assert set(decorators.model_validators) == {"_cross_field_checks"}, (event_type, decorators.model_validators)
        assert not decorators.field_validators and not decorators.validators, event_type
    assert set(CROSS_CHECKS) <= set(MODELS)


def test_at_least_ten_thousand_events_all_decided_alike(run) -> None:  # type: ignore[no-untyped-def]
    cases, _, tally = run
    assert len(cases) >= MIN_EVENTS
    outcomes = tally.outcomes
    assert sum(outcomes.values()) == len(cases)
    # both kinds in earnest: valid events routed, broken ones refused, mismatches and duplicates met
    assert outcomes["Routed"] >= 2_000 and outcomes[RejectReason.INVALID_EVENT.value] >= 2_000, outcomes
    assert outcomes[RejectReason.REGENCY_MISMATCH.value] > 0 and outcomes["Duplicate"] > 0, outcomes
    assert tally.spliced >= 500  # NIK tokens spliced into the sender's bytes, each checked against a re-encoding


def test_every_rule_of_the_models_is_broken_and_agreed_on(run) -> None:  # type: ignore[no-untyped-def]
    _, unencodable, tally = run
    missed = []
    for event_type, name, rule in sorted(model_rules()):
        if name == "<cross-field>":
            if tally.cross_rejections[event_type] == 0:
                missed.append((event_type, rule))
        elif tally.broken[(event_type, name, rule)] == 0 and unencodable[(event_type, name, rule)] == 0:
            missed.append((event_type, name, rule))
    assert not missed, f"rules no generated event broke (extend the probes): {missed}"


@pytest.mark.parametrize(("pattern", "text", "matches"), [
    (r"^[0-9]{8}$", "12345678\n", False),  # Python's $ would match before the newline; pydantic's does not
    (r"^[0-9]{8}$", "12345678", True),
    (r"^x://\S{1,5}$", "x://a\x1cb", True),  # U+001C is no Unicode White_Space, though Python's \S excludes it
    (r"^x://\S{1,5}$", "x://a\u00a0b", False),
])
def test_patterns_mean_what_pydantic_means(pattern: str, text: str, matches: bool) -> None:
    assert (re.search(python_pattern(pattern, "t"), text) is not None) is matches


def test_a_pattern_the_engines_read_differently_is_refused() -> None:
    for pattern in (r"^\w+$", r"^a$|^b$", r"^[\s]+$", r"\bx"):
        with pytest.raises(CatalogError, match="read differently"):
            python_pattern(pattern, "t")


def test_a_nik_whose_bytes_occur_twice_is_re_encoded_not_spliced() -> None:
    datum = example("ComplaintFiled", anonymous=False, reporter_nik=_NIK).to_avro()
    once = encode("ComplaintFiled", datum)
    twice = encode("ComplaintFiled", {**datum, "title": f"pungli, pelapor {_NIK}"})  # " " + NIK: the same 17 bytes
    assert once is not None and twice is not None
    tokens = tokenised_fields("ComplaintFiled", datum, KEY)
    out = spliced(once, datum, tokens)
    assert out is not None and out == CODEC.encode_datum("ComplaintFiled", {**datum, **tokens})
    assert spliced(twice, {**datum, "title": f"pungli, pelapor {_NIK}"}, tokens) is None
    routed = decide(Case("ComplaintFiled", datum["regency_code"], twice, ()), 1, ingress_check(CODEC.catalog), set())
    assert isinstance(routed, Routed)
    assert CODEC.decode_record(routed.value)[1]["title"] == f"pungli, pelapor {_NIK}"  # only the NIK field is rewritten
    assert CODEC.decode_record(routed.value)[1]["reporter_nik"] == tokens["reporter_nik"]
