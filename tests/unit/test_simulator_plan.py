"""The simulator's plan: reproducible, complete, exactly N records, and a manifest that counts what the plan holds."""

from __future__ import annotations

import io
import json
from collections import Counter
from datetime import timedelta

import fastavro
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from producers.simulator import FaultMix, Manifest, plan
from producers.simulator.faults import FAULTS
from producers.simulator.traffic import Expect, PlanError, nik_token
from schemas.catalog import FAMILIES, event_types
from schemas.exceptions import EventValidationError
from schemas.models import model_for
from schemas.nik import tokenise_nik
from schemas.outcomes import AlertRule, GatewayRejection, RejectReason
from schemas.reference import regency_codes
from simpul import secret_files
from simpul.cli.simulate import app

KEY = "simulator-test-nik-key"  # an installation's NIK key; the plan names tokens with it


@pytest.fixture(scope="module")
def default_plan():  # type: ignore[no-untyped-def]
    return plan(2000, 42, nik_hmac_key=KEY)


def test_same_seed_gives_identical_plan_and_byte_identical_manifest() -> None:
    a, b = plan(1500, 7, nik_hmac_key=KEY), plan(1500, 7, nik_hmac_key=KEY)
    assert a.manifest.to_json() == b.manifest.to_json()
    assert a.to_json() == b.to_json()


def test_different_seed_gives_different_traffic() -> None:
    a, b = plan(1500, 7, nik_hmac_key=KEY), plan(1500, 8, nik_hmac_key=KEY)
    assert a.to_json() != b.to_json()
    assert a.manifest.to_json() != b.manifest.to_json()


def test_exactly_n_records_are_planned() -> None:
    for n in (0, 1, 37, 999, 1000, 2500):
        assert len(plan(n, 3, FaultMix.clean(), nik_hmac_key=KEY).records) == n
    for n in (1000, 2500):
        p = plan(n, 3, nik_hmac_key=KEY)
        assert len(p.records) == n == p.manifest.total_sent


def test_every_event_type_and_regency_appears_for_2000(default_plan) -> None:  # type: ignore[no-untyped-def]
    valid = [r for r in default_plan.records if r.expect is Expect.EVENT]
    assert {r.event_type for r in valid} == set(event_types())
    assert {r.event.regency_code for r in valid} == set(regency_codes())
    assert {r.ingress for r in default_plan.records} == set(regency_codes())
    clean = plan(2000, 42, FaultMix.clean(), nik_hmac_key=KEY)
    assert {r.event_type for r in clean.records} == set(event_types())
    assert {r.event.regency_code for r in clean.records} == set(regency_codes())


def test_default_mix_injects_every_fault_from_1000_events() -> None:
    for seed in (1, 2, 3):
        p = plan(1000, seed, nik_hmac_key=KEY)
        assert all(count >= 1 for count in p.manifest.injected.values()), p.manifest.injected
        assert {r.fault for r in p.records if r.fault} == set(FAULTS)
        assert all(p.manifest.alerts[rule] >= 1 for rule in AlertRule)
        assert all(p.manifest.dlq[r] >= 1 for r in RejectReason if r is not RejectReason.UNKNOWN_EVENT_TYPE)


def test_manifest_counts_equal_a_recount_of_the_records(default_plan) -> None:  # type: ignore[no-untyped-def]
    m, records = default_plan.manifest, default_plan.records
    valid = [r for r in records if r.expect is Expect.EVENT]
    # events: one per distinct event_id that is not rejected, per family
    ids: dict[str, set[str]] = {f: set() for f in FAMILIES}
    for r in valid:
        ids[type(r.event).family].add(str(r.event.event_id))
    assert m.events == {f: len(v) for f, v in ids.items()}
    assert sum(m.events.values()) == len({str(r.event.event_id) for r in valid})
    dup = [r for r in records if r.expect is Expect.DUPLICATE]
    assert m.duplicates_sent == len(dup)
    assert all(str(r.event.event_id) in {str(v.event.event_id) for v in valid} for r in dup)
    # DLQ by what the bytes really are
    reasons: Counter[str] = Counter()
    for r in records:
        if r.expect is not Expect.DLQ:
            continue
        if r.raw is not None:
            reasons[RejectReason.UNDECODABLE] += 1
            assert r.raw[:1] != b"\x00"  # not Confluent-framed
        elif r.override:
            with pytest.raises(EventValidationError):
                model_for(r.event_type).model_validate(r.avro_datum())
            reasons[RejectReason.INVALID_EVENT] += 1
        else:
            assert r.ingress != r.event.regency_code
            reasons[RejectReason.REGENCY_MISMATCH] += 1
    assert m.dlq == {reason.value: reasons[reason] for reason in RejectReason}
    assert m.total_sent == len(records)
    assert m.regencies == {c: sum(1 for r in valid if r.event.regency_code == c) for c in sorted(regency_codes())}
    assert sum(m.ingress.values()) == len(records)
    late = [r for r in valid if r.send_at - r.event.occurred_at >= timedelta(days=2)]
    assert all(r.send_at - r.event.occurred_at <= timedelta(days=30) for r in late)
    assert m.late_events == len(late) == m.injected["late"]
    assert m.alerts == {rule.value: len(m.expected_alert_subjects[rule.value]) for rule in AlertRule}
    assert m.gateway_rejected is None


def test_http_manifest_moves_rejections_from_dlq_to_gateway() -> None:
    sdk, http = plan(1000, 5, via="sdk", nik_hmac_key=KEY), plan(1000, 5, via="http", nik_hmac_key=KEY)
    assert sdk.to_json() == http.to_json()  # the same traffic; only the expected outcome differs
    assert all(v == 0 for v in http.manifest.dlq.values())
    assert http.manifest.gateway_rejected == {
        GatewayRejection.INVALID_EVENT.value: sdk.manifest.dlq["undecodable"] + sdk.manifest.dlq["invalid_event"],
        GatewayRejection.REGENCY_FORBIDDEN.value: sdk.manifest.dlq["regency_mismatch"],
    }
    assert http.manifest.events == sdk.manifest.events


def test_manifest_json_is_stable_and_round_trips() -> None:
    m = plan(1000, 9, nik_hmac_key=KEY).manifest
    text = m.to_json()
    data = json.loads(text)
    assert list(data) == sorted(data)
    assert {"seed", "events", "dlq", "alerts", "duplicates_sent", "regencies", "expected_alert_subjects",
            "total_sent"} <= set(data)
    assert "gateway_rejected" not in data
    assert Manifest.from_json(text).to_json() == text


def test_garbage_is_undecodable_and_invalid_payloads_decode() -> None:
    p = plan(1000, 11, nik_hmac_key=KEY)
    garbage = [r for r in p.records if r.raw is not None]
    assert garbage and all(r.dlq_reason is RejectReason.UNDECODABLE for r in garbage)
    for r in [r for r in p.records if r.override and r.raw is None]:
        body = io.BytesIO()
        schema = type(r.event).event_schema.parsed
        fastavro.schemaless_writer(body, schema, r.avro_datum())  # Avro accepts it ...
        datum = fastavro.schemaless_reader(io.BytesIO(body.getvalue()), schema, schema)
        with pytest.raises(EventValidationError):  # ... the contract does not
            model_for(r.event_type).from_avro(datum)


def test_fault_mix_validation_and_rounding() -> None:
    with pytest.raises(ValidationError):
        FaultMix(duplicates=101)
    with pytest.raises(ValidationError):
        FaultMix(late=-1)
    with pytest.raises(ValidationError):
        FaultMix(unknown=1)  # type: ignore[call-arg]
    assert all(v == 0 for v in FaultMix.clean().counts(10_000).values())
    assert FaultMix(sla_breach=0.25).count("sla_breach", 1000) == 3  # 2.5 rounds half up, exactly
    assert FaultMix(sla_breach=0.15).count("sla_breach", 1000) == 2


def test_a_mix_too_large_for_n_is_refused() -> None:
    with pytest.raises(PlanError, match="--events"):
        plan(100, 1, FaultMix(complaint_burst=10), nik_hmac_key=KEY)


def test_aid_subjects_use_the_gatekeeper_token() -> None:
    p = plan(1000, 4, nik_hmac_key="k")
    second = [r for r in p.records if r.alert is AlertRule.AID_DOUBLE_PAYMENT]
    assert second
    for r in second:
        assert r.alert_subject is not None
        assert r.alert_subject[0] == nik_token("k", r.event.recipient_nik)  # type: ignore[attr-defined]
        assert len(r.alert_subject[0]) == 4 + 43
        assert r.alert_subject[0] == tokenise_nik(b"k", r.event.recipient_nik)  # type: ignore[attr-defined]


def test_the_nik_key_is_required_and_has_no_public_default() -> None:
    import producers.simulator.traffic as traffic

    assert not any("NIK_KEY" in name for name in vars(traffic))
    with pytest.raises(TypeError, match="nik_hmac_key"):
        plan(10, 1)  # type: ignore[call-arg]
    token_of = {r.alert_subject[0] for r in plan(1000, 4, nik_hmac_key="k1").records if r.alert_subject and
                r.alert is AlertRule.AID_DOUBLE_PAYMENT}
    assert token_of and token_of.isdisjoint(
        r.alert_subject[0] for r in plan(1000, 4, nik_hmac_key="k2").records if r.alert_subject)


@pytest.fixture
def own_secrets(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """A secrets folder of the test's own: the CLI tokenises NIKs with the installation's key, and a unit test
    must not depend on an earlier test (or `simpul platform up`) having generated the suite's."""
    folder = tmp_path / "secrets"
    secret_files.ensure(folder)
    monkeypatch.setenv("SIMPUL_SECRETS_DIR", str(folder))
    monkeypatch.delenv("SIMPUL_NIK_HMAC_KEY", raising=False)
    return folder


def test_cli_dry_run_twice_writes_byte_identical_manifests(tmp_path, own_secrets) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    outs = []
    for name in ("a.json", "b.json"):
        result = runner.invoke(app, ["--events", "1200", "--seed", "77", "--manifest", str(tmp_path / name),
                                     "--dry-run", "--json"])
        assert result.exit_code == 0, result.output
        outs.append((tmp_path / name).read_bytes())
    assert outs[0] == outs[1]
    summary = json.loads(result.stdout[result.stdout.index("{"):])
    assert summary["total_sent"] == 1200 and summary["dry_run"] is True


def test_cli_fault_flags_and_clean(tmp_path, own_secrets) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "m.json"
    result = CliRunner().invoke(app, ["-n", "500", "--clean", "--sla-breach", "1", "--manifest", str(path),
                                      "--dry-run"])
    assert result.exit_code == 0, result.output
    m = Manifest.from_json(path.read_text())
    assert m.alerts["sla_breach"] == 5 and sum(m.alerts.values()) == 5 and sum(m.dlq.values()) == 0
    bad = CliRunner().invoke(app, ["-n", "10", "--late", "200", "--manifest", str(path), "--dry-run"])
    assert bad.exit_code != 0
