"""Reference data: 35 regencies, service standards with overrides, complaint deadlines, commodities."""

from __future__ import annotations

import pytest

from schemas import reference
from schemas.exceptions import UnknownServiceCode


def test_35_regencies_29_kabupaten_6_kota() -> None:
    regs = reference.regencies()
    assert len(regs) == 35
    assert sum(r.kind == "kabupaten" for r in regs) == 29
    assert sum(r.kind == "kota" for r in regs) == 6
    assert reference.regency("3374").display_name == "Kota Semarang"
    assert reference.regency("3322").display_name == "Kabupaten Semarang"
    assert reference.regency("3375").display_name == "Kota Pekalongan"
    assert reference.regency_codes() == {f"33{n:02d}" for n in range(1, 30)} | {f"33{n}" for n in range(71, 77)}


def test_regency_file_matches_the_shared_reference() -> None:
    from pathlib import Path

    shared = Path("/work/shared/reference/regencies.csv")
    if not shared.exists():
        pytest.skip("shared reference not on this machine")
    ours = [ln for ln in (reference.REFERENCE_DIR / "regencies.csv").read_text().splitlines() if not ln.startswith("#")]
    assert ours == shared.read_text().splitlines()


def test_every_reference_file_cites_its_source() -> None:
    sources = reference.reference_sources()
    assert set(sources) == {"regencies.csv", "service_standards.yaml", "complaint_categories.yaml", "commodities.yaml",
                            "spmb_quotas.yaml"}
    assert any("edwardsamuel/Wilayah-Administratif-Indonesia" in s for s in sources["regencies.csv"])
    assert any("UU 25/2009" in s for s in sources["service_standards.yaml"])
    assert any("PermenPANRB 15/2014" in s for s in sources["service_standards.yaml"])
    assert any("SP4N-LAPOR" in s for s in sources["complaint_categories.yaml"])
    assert any("Permendikdasmen 3/2025" in s for s in sources["spmb_quotas.yaml"])


def test_service_standards_default_and_override() -> None:
    ktp = reference.standard_for("KTP_EL", "3301")
    assert (ktp.completion_time_hours, ktp.official_fee_idr) == (24, 0)
    assert "Permendagri 19/2018" in ktp.legal_basis
    assert reference.standard_for("PBG").completion_time_hours is None  # set by each regency
    pbg = reference.standard_for("PBG", "3374")
    assert pbg.regency_code == "3374" and pbg.completion_time_hours == 24
    assert reference.standard_for("PBG", "3301").regency_code is None
    assert {"KTP_EL", "AKTA_KELAHIRAN", "KARTU_KELUARGA", "AKTA_KEMATIAN", "NIB", "PBG"} <= reference.service_codes()


def test_unknown_service_names_the_catalog() -> None:
    with pytest.raises(UnknownServiceCode, match="KTP_EL"):
        reference.standard_for("SIM_A")


def test_complaint_deadlines_and_workflow() -> None:
    d = reference.complaint_deadlines()
    assert (d.verify_and_forward_working_days, d.follow_up_working_days, d.close_after_follow_up_working_days) == (3, 5, 10)
    cats = reference.complaint_categories()
    assert "PUNGLI" in cats and cats["PUNGLI"].deadlines == d and cats["PUNGLI"].origin == "reference"
    wf = reference.complaint_workflow()
    assert wf.can_transition("IN_VERIFICATION", "FORWARDED")
    assert not wf.can_transition("CLOSED", "IN_PROGRESS")
    assert {"RESOLVED", "IN_VERIFICATION", "IN_PROGRESS", "UNANSWERED", "NOT_ELIGIBLE"} <= set(wf.statuses)


def test_commodities() -> None:
    c = reference.commodities()
    assert c["BERAS"].unit == "KG" and c["MINYAK_GORENG"].unit == "LITRE"
    assert all(lo < hi for lo, hi in (x.simulation_price_idr for x in c.values()))
