"""The .avsc catalog: parses, documented, one namespace, one envelope, families, PII marks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import avro.schema
import fastavro
import pytest

from schemas import reference
from schemas.catalog import (
    AVRO_DIR,
    ENVELOPE_FIELDS,
    FAMILIES,
    NAMESPACE,
    Catalog,
    default_catalog,
    event_types,
    event_types_by_family,
    family_of,
    nik_fields,
    schema_of,
    subject_of,
)
from schemas.exceptions import CatalogError, UnknownEventType

ALL = event_types()
REQUIRED = {
    "ServiceRequestSubmitted", "ServiceRequestStatusChanged", "ServiceRequestCompleted", "ComplaintFiled",
    "ComplaintStatusChanged", "HealthFacilityVisit", "StapleFoodPriceObserved", "AirQualityReading",
    "DisasterReported", "SocialAidDisbursed", "TourismVisitCount",
}


def test_catalog_covers_the_issue_event_types() -> None:
    assert REQUIRED <= set(ALL)


@pytest.mark.parametrize("event_type", ALL)
def test_every_schema_parses_with_fastavro_and_apache_avro(event_type: str) -> None:
    s = schema_of(event_type)
    fastavro.parse_schema(json.loads(s.text), named_schemas={})
    parsed = avro.schema.parse(s.text)
    assert parsed.fullname == s.full_name == s.subject == f"{NAMESPACE}.{event_type}"


def _walk(node: object, out: list[dict]) -> None:
    if isinstance(node, dict):
        if node.get("type") == "record":
            out.extend(node["fields"])
        for v in node.values():
            _walk(v, out)
    elif isinstance(node, list):
        for v in node:
            _walk(v, out)


@pytest.mark.parametrize("event_type", ALL)
def test_every_field_and_record_is_documented(event_type: str) -> None:
    s = schema_of(event_type)
    fields: list[dict] = []
    _walk(s.definition, fields)
    assert s.doc.strip()
    assert all(f.get("doc", "").strip() for f in fields), [f["name"] for f in fields if not f.get("doc")]


def test_one_root_namespace() -> None:
    namespaces = {s.definition["namespace"] for s in default_catalog()}
    assert namespaces == {NAMESPACE}


@pytest.mark.parametrize("event_type", ALL)
def test_envelope_is_the_shared_one(event_type: str) -> None:
    envelope = json.loads((AVRO_DIR / "Envelope.avsc").read_text())["fields"]
    fields = schema_of(event_type).fields
    assert [f["name"] for f in envelope] == list(ENVELOPE_FIELDS)
    assert fields[: len(envelope)] == envelope
    by_name = {f["name"]: f for f in fields}
    assert by_name["event_id"]["type"] == {"type": "string", "logicalType": "uuid"}
    assert by_name["occurred_at"]["type"] == {"type": "long", "logicalType": "timestamp-millis"}
    assert by_name["regency_code"]["simpul.reference"] == "regencies"
    assert "in order" in by_name["case_id"]["doc"]


def test_same_named_types_are_identical_across_schemas() -> None:
    seen: dict[str, tuple[str, dict]] = {}

    def visit(node: object, owner: str) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("enum", "fixed", "record") and "name" in node and owner != node["name"]:
                prev = seen.setdefault(node["name"], (owner, node))
                assert prev[1] == node, f"{node['name']} differs between {prev[0]} and {owner}"
            for v in node.values():
                visit(v, owner)
        elif isinstance(node, list):
            for v in node:
                visit(v, owner)

    for s in default_catalog():
        visit(s.definition, s.name)
    assert "ServiceChannel" in seen and "ComplaintCategory" in seen


def test_families_route_every_event_type() -> None:
    by_family = event_types_by_family()
    assert tuple(by_family) == FAMILIES
    assert all(by_family[f] for f in FAMILIES), "every family has at least one event type"
    assert sorted(t for ts in by_family.values() for t in ts) == ALL
    assert family_of("ComplaintFiled") == "governance"
    assert family_of(f"{NAMESPACE}.HealthFacilityVisit") == "living"
    assert family_of("StapleFoodPriceObserved") == "economy"
    assert family_of("DisasterReported") == "environment"
    assert family_of("SocialAidDisbursed") == "society"
    assert family_of("TourismVisitCount") == "branding"
    assert subject_of("TourismVisitCount") == f"{NAMESPACE}.TourismVisitCount"


def test_nik_fields_are_marked_machine_readably() -> None:
    assert nik_fields("HealthFacilityVisit") == ("patient_nik",)
    assert nik_fields("SocialAidDisbursed") == ("recipient_nik",)
    assert nik_fields("ServiceRequestSubmitted") == ("applicant_nik",)
    assert nik_fields("ComplaintFiled") == ("reporter_nik",)
    assert nik_fields("AirQualityReading") == ()
    for s in default_catalog():
        for f in s.fields:
            if "nik" in f["name"]:
                assert f.get("simpul.pii") == "nik", f"{s.name}.{f['name']} holds a NIK but is not marked"


def test_unknown_event_type_names_the_known_ones() -> None:
    with pytest.raises(UnknownEventType, match="ComplaintFiled"):
        schema_of("NoSuchEvent")


def test_rules_are_backward_or_stricter() -> None:
    assert {s.compatibility for s in default_catalog()} <= {"BACKWARD", "BACKWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE"}


def test_enums_agree_with_reference_data() -> None:
    def symbols(event_type: str, field: str) -> list[str]:
        t = next(f for f in schema_of(event_type).fields if f["name"] == field)["type"]
        t = next(b for b in t if b != "null") if isinstance(t, list) else t
        return t["symbols"]

    assert set(symbols("ComplaintFiled", "category")) == set(reference.complaint_categories())
    assert set(symbols("ComplaintStatusChanged", "from_status")) == set(reference.complaint_workflow().statuses)
    assert {c.unit for c in reference.commodities().values()} <= set(symbols("StapleFoodPriceObserved", "unit"))


# ---- catalog rules refuse broken files ----------------------------------------------------------------------

@pytest.fixture
def copy_dir(tmp_path: Path) -> Path:
    target = tmp_path / "avro"
    shutil.copytree(AVRO_DIR, target)
    return target


def _edit(path: Path, change) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_copy_loads(copy_dir: Path) -> None:
    assert Catalog.load(copy_dir).event_types() == ALL


def test_missing_doc_is_refused(copy_dir: Path) -> None:
    _edit(copy_dir / "economy/StapleFoodPriceObserved.avsc", lambda d: d["fields"][-1].pop("doc"))
    with pytest.raises(CatalogError, match="price_idr.*no `doc`"):
        Catalog.load(copy_dir)


def test_foreign_namespace_is_refused(copy_dir: Path) -> None:
    _edit(copy_dir / "economy/StapleFoodPriceObserved.avsc", lambda d: d.update(namespace="org.example"))
    with pytest.raises(CatalogError, match="root namespace"):
        Catalog.load(copy_dir)


def test_envelope_drift_is_refused(copy_dir: Path) -> None:
    _edit(copy_dir / "economy/StapleFoodPriceObserved.avsc", lambda d: d["fields"][1].update(doc="changed"))
    with pytest.raises(CatalogError, match="regency_code.*differs"):
        Catalog.load(copy_dir)


def test_wrong_family_folder_is_refused(copy_dir: Path) -> None:
    (copy_dir / "economy/StapleFoodPriceObserved.avsc").rename(copy_dir / "living/StapleFoodPriceObserved.avsc")
    with pytest.raises(CatalogError, match="simpul.family"):
        Catalog.load(copy_dir)


def test_weak_rule_is_refused(copy_dir: Path) -> None:
    (copy_dir / "compatibility.yaml").write_text("default: NONE\n")
    with pytest.raises(CatalogError, match="BACKWARD or stricter"):
        Catalog.load(copy_dir)
