"""The senders' logic that needs no broker: HTTP batching and answers (against a stand-in gateway), pacing, and
the framing of invalid payloads. Delivery through Kafka is tested for real in tests/integration."""

from __future__ import annotations

import io
import json
from typing import Any

import fastavro
import httpx
import pytest

from producers.simulator import FaultMix, plan
from producers.simulator.send import HTTP_BATCH, Pacer, SendFailed, encode_invalid, send_http
from producers.simulator.traffic import Expect
from schemas.codec import unframe
from schemas.models import model_for
from schemas.reference import regency_codes

KEYS = {code: f"key-{code}" for code in regency_codes()}

KEY = "simulator-test-nik-key"  # an installation's NIK key; the plan names tokens with it


def fake_gateway(seen: list[dict[str, Any]]) -> httpx.MockTransport:
    """Answers like the gateway's contract: 403 foreign regency, 422 invalid, else 202 with per-event results."""
    regency_of = {v: k for k, v in KEYS.items()}

    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        regency = regency_of[request.headers["X-API-Key"]]
        seen.append({"regency": regency, "events": body["events"]})
        results = []
        for i, item in enumerate(body["events"]):
            data = {k: v for k, v in item.items() if k != "event_type"}
            if data["regency_code"] != regency:
                return httpx.Response(403, json={"error": "forbidden", "message": "x", "problems": []})
            try:
                model_for(item["event_type"]).model_validate(data)
            except ValueError:
                return httpx.Response(422, json={"error": "invalid_event", "message": "x", "problems": []})
            results.append({"index": i, "event_id": data["event_id"], "status": "accepted"})
        return httpx.Response(202, json={"accepted": len(results), "duplicates": 0, "results": results})

    return httpx.MockTransport(handle)


def test_http_sender_batches_per_regency_and_matches_the_manifest() -> None:
    p = plan(3000, 2, via="http", nik_hmac_key=KEY)
    seen: list[dict[str, Any]] = []
    with httpx.Client(transport=fake_gateway(seen)) as client:
        report = send_http(p.records, base_url="http://gw", api_keys=KEYS, client=client, show_progress=False)
    assert report.failed == 0 and report.unexpected == [] and report.unexpected_count == 0
    assert report.sent == report.delivered == p.manifest.total_sent
    assert report.gateway_rejected == {k: v for k, v in (p.manifest.gateway_rejected or {}).items() if v}
    assert all(len(batch["events"]) <= HTTP_BATCH for batch in seen)
    # each regency's records reach the gateway in plan order
    for code in regency_codes():
        sent = [e["event_id"] for b in seen if b["regency"] == code for e in b["events"]]
        planned = [str(r.event.event_id) for r in p.records if r.ingress == code]
        assert sorted(sent) == sorted(planned)
        valid_sent = [i for i in sent if i in {str(r.event.event_id) for r in p.records
                                               if r.ingress == code and r.expect is not Expect.DLQ}]
        assert valid_sent == [str(r.event.event_id) for r in p.records if r.ingress == code
                              and r.expect is not Expect.DLQ]


def test_http_sender_reports_answers_that_differ_from_the_plan() -> None:
    p = plan(1000, 3, via="http", nik_hmac_key=KEY)

    def accept_all(request: httpx.Request) -> httpx.Response:
        n = len(json.loads(request.content)["events"])
        return httpx.Response(202, json={"results": [{"index": i, "status": "accepted"} for i in range(n)]})

    with httpx.Client(transport=httpx.MockTransport(accept_all)) as client:
        report = send_http(p.records, base_url="http://gw", api_keys=KEYS, client=client, show_progress=False)
    assert report.unexpected_count == sum((p.manifest.gateway_rejected or {}).values()) > 0


def test_http_sender_raises_when_the_gateway_is_down_after_trying_everything() -> None:
    p = plan(200, 3, FaultMix.clean(), via="http", nik_hmac_key=KEY)
    with httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(503, json={"error": "unavailable"}))
                      ) as client, pytest.raises(SendFailed, match="200 of 200") as info:
        send_http(p.records, base_url="http://gw", api_keys=KEYS, client=client, show_progress=False)
    assert info.value.report is not None and info.value.report.failed == 200


def test_http_sender_needs_a_key_for_every_regency() -> None:
    p = plan(200, 3, FaultMix.clean(), via="http", nik_hmac_key=KEY)
    with pytest.raises(SendFailed, match="no API key"):
        send_http(p.records, base_url="http://gw", api_keys={}, show_progress=False)


def test_pacer_spaces_records_without_drift() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    pacer = Pacer(100.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(201):
        pacer.wait()
    assert now[0] == pytest.approx(2.0)
    unlimited = Pacer(0, clock=lambda: 0.0, sleep=lambda s: pytest.fail("slept"))
    unlimited.wait()


class _Codec:
    """Only what encode_invalid needs of an AvroCodec: the catalog and a schema id."""

    def __init__(self) -> None:
        from schemas.catalog import default_catalog

        self.catalog = default_catalog()

    def schema_id(self, event_type: str) -> int:
        return 41


def test_invalid_payloads_are_framed_avro_that_the_model_refuses() -> None:
    p = plan(2000, 6, nik_hmac_key=KEY)
    invalid = [r for r in p.records if r.override and r.raw is None]
    assert invalid
    for r in invalid:
        schema_id, body = unframe(encode_invalid(_Codec(), r))  # type: ignore[arg-type]
        assert schema_id == 41
        parsed = type(r.event).event_schema.parsed
        datum = fastavro.schemaless_reader(io.BytesIO(body), parsed, parsed)
        with pytest.raises(ValueError):
            model_for(r.event_type).from_avro(datum)


def test_cli_via_http_needs_a_keys_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from simpul.cli.simulate import app

    runner = CliRunner()
    result = runner.invoke(app, ["-n", "100", "--via", "http", "--manifest", str(tmp_path / "m.json")])
    assert result.exit_code == 1 and "--keys-file" in result.output
    keys = tmp_path / "keys.json"
    keys.write_text("[1, 2]")
    result = runner.invoke(app, ["-n", "100", "--via", "http", "--keys-file", str(keys),
                                 "--manifest", str(tmp_path / "m.json")])
    assert result.exit_code == 1 and "regency_code: api_key" in result.output
    assert runner.invoke(app, ["-n", "10", "--via", "kafka", "--manifest", str(tmp_path / "m.json")]).exit_code == 2
