"""docs/contract.md and docs/asyncapi.yaml: current with the contract, and a valid AsyncAPI 3 document.

Optional, when present (never downloaded by the tests): the official AsyncAPI JSON Schema from the npm package
@asyncapi/specs, and @asyncapi/parser with the Avro schema parser run through node. Point
SIMPUL_ASYNCAPI_NODE_MODULES at a node_modules folder holding them (e.g. after
`npm install --prefix /tmp/asyncapi-node @asyncapi/parser @asyncapi/avro-schema-parser @asyncapi/specs`).
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import avro.schema
import fastavro
import pytest
import yaml
from typer.testing import CliRunner

import simpul.cli.docs as docs_cli
from contract.asyncapi import AVRO_SCHEMA_FORMAT, REGENCY_PARAMETER, build_asyncapi
from contract.markdown import REGISTRY_V3_PATH, render_contract_md
from contract.sources import derived_record_models
from schemas.catalog import default_catalog
from schemas.feedback import OutcomeStatus, RegencyOutcome
from schemas.models import model_for
from schemas.outcomes import Header, RejectReason
from schemas.reference import regency_codes
from simpul.settings import Settings
from topics.catalog import load_catalog, topic_names

PREFIX = "jateng"
EXAMPLE = "3374"  # a regency code, to name one concrete topic of a parameterised channel
ROOT = docs_cli.REPO_ROOT
HINT = "run `simpul docs generate` (or `python -m simpul docs generate`) and commit the result"


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return build_asyncapi(PREFIX, docs_cli.local_addresses())


@pytest.fixture(scope="module")
def contract() -> str:
    return render_contract_md(PREFIX, docs_cli.local_addresses())


def _event_messages(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    messages = doc["components"]["messages"]
    return {name: m for name, m in messages.items()
            if isinstance(m["payload"], dict) and "schemaFormat" in m["payload"]}


# ---- the committed files are current ---------------------------------------------------------------------------

@pytest.mark.parametrize("rel", [docs_cli.CONTRACT_MD, docs_cli.ASYNCAPI_YAML], ids=str)
def test_committed_document_is_current(rel: Path) -> None:
    path = ROOT / rel
    assert path.exists(), f"{rel} is missing; {HINT}"
    expected = docs_cli.rendered(PREFIX)[rel]
    assert path.read_text(encoding="utf-8") == expected, (
        f"{rel} is stale: the contract changed since it was generated; {HINT}")


def test_generation_is_deterministic() -> None:
    assert docs_cli.rendered(PREFIX) == docs_cli.rendered(PREFIX)


def test_check_names_stale_files_and_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(docs_cli, "REPO_ROOT", tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / docs_cli.CONTRACT_MD).write_text("old\n", encoding="utf-8")
    runner = CliRunner()

    result = runner.invoke(docs_cli.app, ["generate", "--check"])
    assert result.exit_code == docs_cli.EXIT_STALE
    assert "docs/contract.md" in result.stderr and "docs/asyncapi.yaml" in result.stderr
    assert "simpul docs generate" in result.stderr
    assert (tmp_path / docs_cli.CONTRACT_MD).read_text(encoding="utf-8") == "old\n"
    assert not (tmp_path / docs_cli.ASYNCAPI_YAML).exists()

    assert runner.invoke(docs_cli.app, ["generate"]).exit_code == 0
    result = runner.invoke(docs_cli.app, ["generate", "--check", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"ok": True, "files": [
        {"path": "docs/contract.md", "status": "current"}, {"path": "docs/asyncapi.yaml", "status": "current"}]}


# ---- the AsyncAPI document -------------------------------------------------------------------------------------

def test_committed_yaml_loads_to_the_built_document(doc: dict[str, Any]) -> None:
    assert yaml.safe_load((ROOT / docs_cli.ASYNCAPI_YAML).read_text(encoding="utf-8")) == doc


def test_required_structure(doc: dict[str, Any]) -> None:
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"]["title"] == "Simpul" and doc["info"]["version"]
    assert {"channels", "operations", "components", "servers"} <= doc.keys()
    assert doc["servers"]["local"] == {**doc["servers"]["local"], "host": "127.0.0.1:19092", "protocol": "kafka"}
    for sid, server in doc["servers"].items():
        for var in re.findall(r"{(\w+)}", server["host"]):
            assert var in server.get("variables", {}), f"server {sid} uses undeclared variable {var}"
    for cid, channel in doc["channels"].items():
        assert channel["address"] and channel["messages"], cid
        for param in re.findall(r"{(\w+)}", channel["address"]):
            assert param in channel.get("parameters", {}), f"channel {cid} uses undeclared parameter {param}"
    for oid, op in doc["operations"].items():
        assert op["action"] in ("send", "receive"), oid
        assert op["channel"]["$ref"].startswith("#/channels/"), oid
        channel_id = op["channel"]["$ref"].removeprefix("#/channels/")
        for ref in op["messages"]:
            assert ref["$ref"].startswith(f"#/channels/{channel_id}/messages/"), (
                f"{oid}: an operation's messages must be its channel's")


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_every_reference_resolves(doc: dict[str, Any]) -> None:
    refs = _refs(doc)
    assert refs
    for ref in refs:
        _resolve(doc, ref)


def test_channel_addresses_match_the_catalog(doc: dict[str, Any]) -> None:
    addresses: list[str] = []
    for channel in doc["channels"].values():
        params = channel.get("parameters", {})
        if params:
            assert set(params) == {REGENCY_PARAMETER}
            addresses += [channel["address"].replace(f"{{{REGENCY_PARAMETER}}}", code)
                          for code in params[REGENCY_PARAMETER]["enum"]]
        else:
            addresses.append(channel["address"])
            assert channel["bindings"]["kafka"]["topic"] == channel["address"]
    assert sorted(addresses) == sorted(topic_names(PREFIX).names)
    assert sorted(doc["channels"]["ingress"]["parameters"][REGENCY_PARAMETER]["enum"]) == sorted(regency_codes())


def test_kafka_bindings_carry_the_catalog_settings(doc: dict[str, Any]) -> None:
    topics = topic_names(PREFIX)
    for channel in doc["channels"].values():
        binding = channel["bindings"]["kafka"]
        concrete = binding.get("topic") or channel["address"].replace(f"{{{REGENCY_PARAMETER}}}", EXAMPLE)
        spec = topics.by_name(concrete)
        assert binding["partitions"] == spec.partitions
        config = binding["topicConfiguration"]
        assert config["retention.ms"] == int(spec.config["retention.ms"])
        assert config["cleanup.policy"] == spec.config["cleanup.policy"].split(",")


def test_operations_send_on_ingress_and_receive_elsewhere(doc: dict[str, Any]) -> None:
    by_channel = {op["channel"]["$ref"].removeprefix("#/channels/"): op["action"] for op in doc["operations"].values()}
    assert set(by_channel) == set(doc["channels"])
    assert by_channel.pop("ingress") == "send"
    assert set(by_channel.values()) == {"receive"}


def test_every_event_type_has_a_message_on_its_channels(doc: dict[str, Any]) -> None:
    catalog = default_catalog()
    assert set(_event_messages(doc)) == set(catalog.event_types())
    assert set(doc["channels"]["ingress"]["messages"]) == set(catalog.event_types())
    for family, names in catalog.by_family().items():
        channel = next(c for c in doc["channels"].values() if c["address"] == f"{PREFIX}.events.{family}")
        assert set(channel["messages"]) == set(names)
    dlq = doc["channels"]["dlq"]["messages"]["RejectedRecord"]
    reason = _resolve(doc, dlq["$ref"])["headers"]["properties"]["simpul.reason"]
    assert reason["enum"] == [r.value for r in RejectReason]


def test_embedded_avro_is_the_catalog_schema_and_parses(doc: dict[str, Any]) -> None:
    catalog = default_catalog()
    for name, message in _event_messages(doc).items():
        payload = message["payload"]
        assert payload["schemaFormat"] == AVRO_SCHEMA_FORMAT
        assert payload["schema"] == catalog.get(name).definition
        fastavro.parse_schema(json.loads(json.dumps(payload["schema"])), named_schemas={})
        parsed = avro.schema.parse(json.dumps(payload["schema"]))
        assert parsed.fullname == catalog.get(name).full_name
        assert message["bindings"]["kafka"]["schemaLookupStrategy"] == "RecordNameStrategy"


def test_event_examples_are_valid_avro_data(doc: dict[str, Any]) -> None:
    for name, message in _event_messages(doc).items():
        schema = fastavro.parse_schema(json.loads(json.dumps(message["payload"]["schema"])), named_schemas={})
        for ex in message["examples"]:
            fastavro.schemaless_writer(io.BytesIO(), schema, ex["payload"])  # raises if the datum does not fit
            assert ex["headers"]["simpul.event_type"] == name


def test_json_record_examples_match_the_streams_models(doc: dict[str, Any]) -> None:
    models = derived_record_models()
    for ex in doc["components"]["messages"]["Alert"]["examples"]:
        models["Alert"].model_validate(ex["payload"])


def _node_modules() -> Path | None:
    for candidate in (os.environ.get("SIMPUL_ASYNCAPI_NODE_MODULES"), str(ROOT / "node_modules")):
        if candidate and (Path(candidate) / "@asyncapi").is_dir():
            return Path(candidate)
    return None


def test_official_asyncapi_json_schema(doc: dict[str, Any]) -> None:
    modules = _node_modules()
    spec = modules / "@asyncapi/specs/schemas/3.0.0-without-$id.json" if modules else None
    if spec is None or not spec.exists():
        pytest.skip("@asyncapi/specs not installed (set SIMPUL_ASYNCAPI_NODE_MODULES); structural checks ran instead")
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    validator = jsonschema_rs.validator_for(json.loads(spec.read_text(encoding="utf-8")))
    errors = [f"{'/'.join(map(str, e.instance_path))}: {e.message[:300]}" for e in validator.iter_errors(doc)]
    assert not errors, "\n".join(errors[:20])


_NODE_CHECK = """
const { createRequire } = require('module');
const load = createRequire(process.argv[2] + '/');
const { Parser, fromFile } = load('@asyncapi/parser');
const { AvroSchemaParser } = load('@asyncapi/avro-schema-parser');
(async () => {
  const parser = new Parser();
  parser.registerSchemaParser(AvroSchemaParser());
  const { document, diagnostics } = await fromFile(parser, process.argv[3]).parse();
  const problems = diagnostics.filter(d => d.severity <= 1)
    .map(d => `${d.severity === 0 ? 'error' : 'warning'} ${d.code} ${JSON.stringify(d.path)} ${d.message}`);
  console.log(JSON.stringify({ parsed: !!document, problems,
    messages: document ? document.allMessages().length : 0 }));
})();
"""


def test_asyncapi_parser_accepts_the_document(tmp_path: Path) -> None:
    modules = _node_modules()
    node = shutil.which("node")
    if node is None or modules is None or not (modules / "@asyncapi/parser").is_dir() \
            or not (modules / "@asyncapi/avro-schema-parser").is_dir():
        pytest.skip("node with @asyncapi/parser and @asyncapi/avro-schema-parser not available "
                    "(set SIMPUL_ASYNCAPI_NODE_MODULES)")
    script = tmp_path / "check.cjs"
    script.write_text(_NODE_CHECK, encoding="utf-8")
    run = subprocess.run([node, str(script), str(modules), str(ROOT / docs_cli.ASYNCAPI_YAML)],
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["parsed"] and not report["problems"], "\n".join(report["problems"])
    assert report["messages"] == len(build_asyncapi(PREFIX, docs_cli.local_addresses())["components"]["messages"])


# ---- the Markdown contract -------------------------------------------------------------------------------------

def test_contract_lists_every_topic_event_type_and_field(contract: str) -> None:
    topics = topic_names(PREFIX)
    for topic in topics:
        if topic.role not in {"ingress", "receipts", "outcomes"}:
            assert f"`{topic.name}`" in contract
    assert f"`{PREFIX}.ingress.<regency_code>`" in contract
    assert f"`{PREFIX}.receipts.<regency_code>`" in contract
    assert f"`{PREFIX}.outcomes.<regency_code>`" in contract
    for schema in default_catalog():
        section = contract.split(f"\n### {schema.name}\n", 1)[1].split("\n### ", 1)[0]
        for field in schema.fields[5:]:
            assert f"| `{field['name']}` |" in section, f"{schema.name}.{field['name']} missing"
        for nik in schema.nik_fields:
            row = next(line for line in section.splitlines() if line.startswith(f"| `{nik}` |"))
            assert "Personal data (NIK)" in row and "gatekeeper" in row
    for code in regency_codes():
        assert f"| `{code}` |" in contract
    for reason in RejectReason:
        assert f"`{reason.value}`" in contract


def test_outcome_topics_are_one_row_the_regency_reads(contract: str) -> None:
    """35 outcome topics are one row, read by the regency itself (not "province reads"), as receipts are."""
    topics = contract.split("\n## Topics\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in topics.splitlines() if ".outcomes." in line and line.startswith("| ")]
    assert len(rows) == 1, rows
    assert f"`{PREFIX}.outcomes.<regency_code>` (35 topics)" in rows[0]
    assert "outcomes: you read (your own only)" in rows[0] and "RegencyOutcome" in rows[0]


def test_outcome_section_documents_the_model_the_paging_and_the_group(contract: str) -> None:
    section = contract.split("\n### What became of your records\n", 1)[1].split("\n## ", 1)[0]
    fields = section.split("#### ", 1)[0]
    for name in RegencyOutcome.model_fields:
        assert f"| `{name}` |" in fields, f"RegencyOutcome.{name} is not documented"
    for status in OutcomeStatus:
        assert f"`{status.value}`" in fields
    example = RegencyOutcome.model_validate_json(_json_blocks(fields)[0])
    assert example.status == OutcomeStatus.REJECTED and example.reason is not None and example.field
    assert f"`{PREFIX}-regency-<regency_code>-`" in section
    for path in ("#### `GET /v1/events/{event_id}`", "#### `GET /v1/rejections`"):
        assert path in section
    for name in ("since", "after", "limit", "next_since", "next_after"):
        assert f"`{name}`" in section
    answers = [json.loads(block) for block in _json_blocks(section)[1:]]
    assert [RegencyOutcome.model_validate(o) for a in answers for o in a.get("outcomes", a.get("rejections", []))]


def test_asyncapi_outcomes_is_one_parameterised_channel(doc: dict[str, Any]) -> None:
    channel = doc["channels"]["outcomes"]
    assert channel["address"] == f"{PREFIX}.outcomes.{{{REGENCY_PARAMETER}}}"
    assert len(channel["parameters"][REGENCY_PARAMETER]["enum"]) == 35
    assert not [c for c in doc["channels"].values() if c["address"].startswith(f"{PREFIX}.outcomes.3")]
    message = doc["components"]["messages"]["RegencyOutcome"]
    assert set(message["payload"]["properties"]) == set(RegencyOutcome.model_fields)
    for example in message["examples"]:
        RegencyOutcome.model_validate(example["payload"])
    operation = doc["operations"]["receiveOutcomes"]
    assert operation["action"] == "receive" and operation["channel"] == {"$ref": "#/channels/outcomes"}


def _json_blocks(text: str) -> list[str]:
    return re.findall(r"```json\n(.*?)\n```", text, flags=re.S)


def test_contract_examples_are_valid_events(contract: str) -> None:
    for schema in default_catalog():
        section = contract.split(f"\n### {schema.name}\n", 1)[1].split("\n### ", 1)[0]
        (block,) = _json_blocks(section)
        model_for(schema.name).model_validate(json.loads(block))
    # the curl example's body, with the fresh id and time it makes filled in
    curl = re.search(r"```bash\n(.*?)\n```", contract.split("`examples/curl/publish.sh`:", 1)[1], flags=re.S)
    assert curl is not None
    body = curl.group(1).split("<<JSON\n", 1)[1].rsplit("\nJSON", 1)[0]
    body = body.replace("$EVENT_ID", "0b1c6a9e-6a1f-4d7e-9d6e-2f3b1a5c7d8e").replace("$NOW", "2025-03-03T02:15:30.123Z")
    for event in json.loads(body)["events"]:
        fields = dict(event)
        model_for(fields.pop("event_type")).model_validate(fields)


def test_contract_snippets_use_the_wire_settings(contract: str) -> None:
    for needle in ("pack('CN', 0, $id)", "ProducerConfig.ACKS_CONFIG, \"all\"",
                   "ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true", "out.write(0);",
                   "QualifiedRecordIdStrategy.class.getName()", "SerdeConfig.AUTO_REGISTER_ARTIFACT, false",
                   "X-API-Key", "/v1/events", "/apis/ccompat/v7", "/apis/registry/v3"):
        assert needle in contract, needle


# ---- every name the documents print is the code's --------------------------------------------------------------

def _committed() -> dict[str, str]:
    return {str(rel): (ROOT / rel).read_text(encoding="utf-8")
            for rel in (docs_cli.CONTRACT_MD, docs_cli.ASYNCAPI_YAML)}


def _avro_attributes(node: Any) -> set[str]:
    """The `simpul.*` attribute names the .avsc files carry (simpul.pii, simpul.unit, ...): schema text, not headers."""
    if isinstance(node, dict):
        return {k for k in node if k.startswith("simpul.")} | {a for v in node.values() for a in _avro_attributes(v)}
    if isinstance(node, list):
        return {a for v in node for a in _avro_attributes(v)}
    return set()


def test_every_simpul_header_in_the_documents_is_a_header_of_the_code() -> None:
    headers = {v for k, v in vars(Header).items() if k.isupper()}
    attributes = {a for schema in default_catalog() for a in _avro_attributes(schema.definition)}
    for rel, text in _committed().items():
        # lower-case simpul.<name>: headers and schema attributes (record names such as simpul.ComplaintFiled and
        # the example hosts kafka.simpul.example are neither)
        printed = set(re.findall(r"(?<![\w.])simpul\.[a-z_]+(?![\w.])", text)) - {"simpul.example"}
        unknown = printed - headers - attributes
        assert not unknown, f"{rel} prints header name(s) {sorted(unknown)} that schemas.outcomes.Header lacks"
        assert {Header.EVENT_TYPE, Header.EVENT_ID, Header.SOURCE, Header.REASON} <= printed, rel


def test_every_topic_in_the_documents_is_a_catalog_topic() -> None:
    topics = topic_names(PREFIX)
    templates = [t.name.split("{", 1)[0] for t in load_catalog().topics if "{" in t.name]
    for rel, text in _committed().items():
        printed = re.findall(rf"\b{PREFIX}\.[a-z0-9_.]*[a-z0-9_](?:\.[<{{][^>}}]*[>}}])?", text)
        assert topics.dlq.name in printed and topics.alerts.name in printed, rel
        for name in printed:
            if name.endswith((">", "}")):
                stem = name.rsplit(".", 1)[0].removeprefix(f"{PREFIX}.") + "."
                assert stem in templates, f"{rel} prints topic pattern {name!r}, not a template of topics.yaml"
            else:
                assert name in topics.names, f"{rel} prints topic {name!r}, which is not in the catalog"


def test_printed_addresses_are_the_settings_defaults() -> None:
    defaults = Settings.model_construct()
    registry = urlsplit(defaults.registry)
    registry_path = registry.path
    local = {defaults.kafka.bootstrap, registry.netloc, f"{defaults.gateway_host}:{defaults.gateway_port}"}
    for rel, text in _committed().items():
        # the Confluent-compatible API, and the core v3 API beside it (Apicurio's own serde needs that one)
        assert set(re.findall(r"/apis/[\w/]+", text)) <= {registry_path, REGISTRY_V3_PATH}, (
            f"{rel} prints a registry path other than Settings.registry's {registry_path} or {REGISTRY_V3_PATH}")
        for host in set(re.findall(r"127\.0\.0\.1:\d+", text)):
            assert host in local, f"{rel} prints {host}, not a default of Settings"
    contract = _committed()[str(docs_cli.CONTRACT_MD)]
    assert f"`{defaults.kafka.bootstrap}`" in contract and f"`{defaults.registry}`" in contract
    assert f"http://{defaults.gateway_host}:{defaults.gateway_port}/v1/events" in contract


def test_documents_do_not_follow_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    before = docs_cli.rendered(PREFIX)
    monkeypatch.setenv("SIMPUL_KAFKA_PORT", "29092")
    monkeypatch.setenv("SIMPUL_REGISTRY_PORT", "28080")
    monkeypatch.setenv("SIMPUL_GATEWAY_PORT", "28000")
    assert docs_cli.rendered(PREFIX) == before


def test_another_prefix_renames_every_topic() -> None:
    docs = docs_cli.rendered("dinas")
    for text in docs.values():
        assert "jateng." not in text
        assert "`dinas.ingress.<regency_code>`" in text or "dinas.ingress.{regency_code}" in text
