"""docs/contract.md, the contract for regency developers, generated from the same sources as docs/asyncapi.yaml.

`render_contract_md(prefix)` is a pure, deterministic function (no timestamps) of topics.yaml, the `.avsc` files,
the reference data, the outcome vocabulary and the example events; a unit test fails when the committed file is
stale. Code snippets embed the shipped example event, so they stay valid as the schemas change.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterable, Sequence
from typing import Any

from schemas.catalog import NAMESPACE, EventSchema, default_catalog
from schemas.examples import example
from schemas.exceptions import EventValidationError, FieldProblem
from schemas.models import model_for
from schemas.outcomes import AlertRule, GatewayRejection, RejectReason
from schemas.reference import (
    commodities,
    complaint_categories,
    complaint_deadlines,
    complaint_workflow,
    reference_sources,
    regencies,
    service_overrides,
    service_standards,
)
from contract.asyncapi import (
    AVRO_SCHEMA_FORMAT,
    DLQ_HEADERS,
    HEADER_EVENT_ID,
    HEADER_EVENT_TYPE,
    HEADER_SOURCE,
    LOCAL_BOOTSTRAP,
    LOCAL_REGISTRY,
    REGISTRY_PATH,
    avro_json_value,
    derived_record_models,
    duration_text,
    member_docs,
    package_version,
)
from topics.catalog import TopicSet, TopicSpec, load_catalog, topic_names

SNIPPET_EVENT = "ServiceRequestSubmitted"
LOCAL_GATEWAY = "http://127.0.0.1:18000"
PRODUCTION_BOOTSTRAP = "kafka.simpul.example:9093"
PRODUCTION_REGISTRY = f"https://registry.simpul.example{REGISTRY_PATH}"


# ---- Markdown helpers ------------------------------------------------------------------------------------------

def _cell(text: object) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines + [""]


def _code(language: str, text: str) -> list[str]:
    return [f"```{language}", text.rstrip("\n"), "```", ""]


def _anchor(title: str) -> str:
    return "".join(ch for ch in title.lower().replace(" ", "-") if ch.isalnum() or ch in "-_")


# ---- Avro types as people read them ---------------------------------------------------------------------------

def _named_types(schema: Any, found: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    if isinstance(schema, list):
        for branch in schema:
            _named_types(branch, found)
    elif isinstance(schema, dict):
        if schema.get("type") in ("enum", "record", "fixed") and "name" in schema:
            found.setdefault(schema["name"], schema)
        for key in ("fields",):
            for f in schema.get(key, []):
                _named_types(f["type"], found)
        for key in ("items", "values"):
            if key in schema:
                _named_types(schema[key], found)
    return found


def type_text(avro: Any) -> str:
    """`string (uuid)`, `long (timestamp-millis)`, `enum ServiceChannel`, `string or null`, `array of string`."""
    if isinstance(avro, str):
        return avro
    if isinstance(avro, list):
        others = [b for b in avro if b != "null"]
        text = " or ".join(type_text(b) for b in others)
        return f"{text} or null" if len(others) < len(avro) else text
    kind = avro.get("type")
    if "logicalType" in avro:
        return f"{type_text(kind)} ({avro['logicalType']})"
    if kind in ("enum", "record", "fixed"):
        return f"{kind} {avro['name']}"
    if kind == "array":
        return f"array of {type_text(avro['items'])}"
    if kind == "map":
        return f"map of {type_text(avro['values'])}"
    return type_text(kind)


def _enums_of(avro: Any, named: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(avro, str):
        found = named.get(avro.rsplit(".", 1)[-1])
        return [found] if found and found.get("type") == "enum" else []
    if isinstance(avro, list):
        return [e for b in avro for e in _enums_of(b, named)]
    if isinstance(avro, dict) and avro.get("type") == "enum":
        return [avro]
    if isinstance(avro, dict) and avro.get("type") == "array":
        return _enums_of(avro["items"], named)
    return []


def _requirement(field: dict[str, Any]) -> str:
    if "default" not in field:
        return "required"
    if field["default"] is None:
        return "optional (null)"
    return f"optional (default `{json.dumps(field['default'], ensure_ascii=False)}`)"


_REFERENCES = {
    "regencies": "one of the 35 regency codes",
    "services": "a service code of the standards catalog",
    "commodities": "a commodity code",
}


def _field_doc(field: dict[str, Any], named: dict[str, dict[str, Any]]) -> str:
    parts: list[str] = []
    if field.get("simpul.pii") == "nik":
        nullable = isinstance(field["type"], list) and "null" in field["type"]
        parts.append(f"**Personal data (NIK): a clear 16-digit NIK{' or null' if nullable else ''} on ingress, "
                     "nothing else (a token-shaped value is rejected as `invalid_event`); the gatekeeper replaces it "
                     "with a keyed token `nik:<43 characters>` before any canonical topic.**")
    parts.append(str(field.get("doc", "")).strip())
    for enum in _enums_of(field["type"], named):
        symbols = ", ".join(f"`{s}`" for s in enum["symbols"])
        default = f" (readers' default `{enum['default']}`)" if "default" in enum else ""
        parts.append(f"Values: {symbols}{default}.")
    rules: list[str] = []
    if "simpul.reference" in field:
        rules.append(_REFERENCES.get(field["simpul.reference"], f"reference {field['simpul.reference']}"))
    if "simpul.unit" in field:
        rules.append(f"unit {field['simpul.unit']}")
    if "simpul.minimum" in field:
        rules.append(f"minimum {field['simpul.minimum']}")
    if "simpul.maximum" in field:
        rules.append(f"maximum {field['simpul.maximum']}")
    if "simpul.minLength" in field:
        rules.append(f"at least {field['simpul.minLength']} character(s)")
    if "simpul.pattern" in field:
        rules.append(f"pattern `{field['simpul.pattern']}`")
    if rules:
        parts.append("Rules: " + "; ".join(rules) + ".")
    return " ".join(p for p in parts if p)


def field_rows(schema: EventSchema, *, skip: int = 0) -> list[list[str]]:
    """One table row per field: name, type, required/default, documentation (with enum values and rules)."""
    named = _named_types(schema.definition, {})
    return [[f"`{f['name']}`", type_text(f["type"]), _requirement(f), _field_doc(f, named)]
            for f in schema.fields[skip:]]


# ---- snippet renderers (from the shipped example event) -------------------------------------------------------

def _php_literal(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def _php_datum(schema: EventSchema, datum: dict[str, Any]) -> str:
    width = max(len(f["name"]) for f in schema.fields) + 2
    lines = []
    for f in schema.fields:
        name, value = f["name"], datum[f["name"]]
        if isinstance(f["type"], dict) and f["type"].get("logicalType") == "timestamp-millis":
            iso = example(schema.name).model_dump(mode="json")[name].replace("000Z", "Z")
            rendered = f"(int) (new DateTimeImmutable('{iso}'))->format('Uv')"
            comment = "  // epoch milliseconds, UTC"
        else:
            rendered, comment = _php_literal(value), ""
        if f.get("simpul.pii") == "nik":
            comment = "  // clear NIK: allowed on ingress only"
        if name == "event_id":
            comment = "  // a UUID made once per fact; reuse it when you retry"
        quoted = "'" + name + "'"
        lines.append(f"    {quoted.ljust(width)} => {rendered},{comment}")
    return "\n".join(lines)


def _java_value(avro: Any, value: Any, field: str, iso: str) -> str:
    if value is None:
        return "null"
    if isinstance(avro, list):
        branch = next(b for b in avro if b != "null")
        return _java_value(branch, value, field, iso)
    if isinstance(avro, dict):
        if avro.get("logicalType") == "timestamp-millis":
            return f'Instant.parse("{iso}").toEpochMilli()'
        if avro.get("type") == "enum":
            return f'new GenericData.EnumSymbol(schema.getField("{field}").schema(), "{value}")'
        return _java_value(avro["type"], value, field, iso)
    if avro == "boolean":
        return "true" if value else "false"
    if avro == "long":
        return f"{value}L"
    if avro in ("int", "double"):
        return repr(value)
    if avro == "float":
        return f"{value}f"
    return json.dumps(str(value), ensure_ascii=False)


def _java_puts(schema: EventSchema, datum: dict[str, Any]) -> str:
    as_json = example(schema.name).model_dump(mode="json")
    lines = []
    for f in schema.fields:
        iso = str(as_json[f["name"]]).replace("000Z", "Z")
        if f["name"] == "event_id":
            lines.append('event.put("event_id", UUID.randomUUID().toString());   // once per fact; reuse on retry')
            continue
        lines.append(f'event.put("{f["name"]}", {_java_value(f["type"], datum[f["name"]], f["name"], iso)});')
    return "\n".join(lines)


# ---- the document ----------------------------------------------------------------------------------------------

def _intro(prefix: str, catalog_size: int) -> list[str]:
    return [
        "<!-- Generated by `simpul docs generate` from topics/topics.yaml, schemas/avro and schemas/reference; "
        "do not edit by hand: tests/unit/test_docs_contract.py fails when this file is stale. -->",
        "",
        "# The Simpul contract, for regency developers",
        "",
        "Simpul is the event integration bus of the Central Java provincial government: the 35 regency and city "
        "governments (kabupaten/kota) publish public-service events from their own systems to Apache Kafka, in Avro "
        "with a shared schema registry. The province validates, deduplicates and aggregates them, so that services "
        "become faster, measurable and transparent, and illegal levies (pungli) and stalled services are caught as "
        "they happen.",
        "",
        f"Contract version {package_version()}; topic prefix `{prefix}`; {catalog_size} event types. The same "
        "contract, machine-readable, is [asyncapi.yaml](asyncapi.yaml) (AsyncAPI 3.0.0, every Avro schema embedded "
        f"with schemaFormat `{AVRO_SCHEMA_FORMAT}`): open it in AsyncAPI Studio or any AsyncAPI tool.",
        "",
        "You can publish in two ways:",
        "",
        "1. **A Kafka client and the schema registry** (PHP, Java, .NET, Python, Go, ...): the fastest and the "
        "recommended way; see [Producing with a Kafka client](#producing-with-a-kafka-client).",
        "2. **The HTTP gateway** for systems that cannot run a Kafka client: `POST /v1/events` with JSON; see "
        "[The HTTP gateway](#the-http-gateway).",
        "",
        "## Contents",
        "",
        "- [The envelope](#the-envelope)",
        "- [The wire format](#the-wire-format)",
        "- [What happens to your event](#what-happens-to-your-event)",
        "- [Topics](#topics)",
        "- [Event types](#event-types)",
        "- [Reference data](#reference-data)",
        "- [Producing with a Kafka client](#producing-with-a-kafka-client)",
        "- [The HTTP gateway](#the-http-gateway)",
        "- [For province services: consuming](#for-province-services-consuming)",
        "",
    ]


def _envelope() -> list[str]:
    catalog = default_catalog()
    first = catalog.get(catalog.event_types()[0])
    lines = [
        "## The envelope",
        "",
        "Every event starts with these five fields, in this order (schemas/avro/Envelope.avsc); each event type adds "
        "its own fields after them.",
        "",
    ]
    lines += _table(["field", "type", "required", "meaning"], field_rows(first)[:5])
    lines += [
        "Timestamps are UTC with millisecond precision. `event_id` makes publishing idempotent: if you are not sure "
        "an event arrived (a timeout, a crash), send it again **with the same event_id**; the province keeps one copy.",
        "",
    ]
    return lines


def _wire_format(topics: TopicSet) -> list[str]:
    ingress = topics.role("ingress")[0].name.rsplit(".", 1)[0] + ".<regency_code>"
    return [
        "## The wire format",
        "",
        f"- **Topic**: your regency's own ingress topic `{ingress}` (e.g. `{topics.ingress('3374').name}` for Kota "
        "Semarang). Your credentials may write only that topic.",
        "- **Key**: `<regency_code>:<case_id>` as UTF-8 text (e.g. `3374:SR-3374-2025-000123`), so that all events "
        "of one case stay in order on one partition.",
        "- **Value**: the Confluent wire format: one magic byte `0`, the schema id as a 4-byte big-endian unsigned "
        "integer, then the Avro binary encoding of the record (no container file, no JSON).",
        f"- **Schema id**: from the Confluent-compatible registry API (`{REGISTRY_PATH}` on the province's Apicurio "
        "Registry). The **subject** is the record's full name, e.g. "
        f"`{NAMESPACE}.{SNIPPET_EVENT}` (RecordNameStrategy; several event types share one topic). The province "
        "registers the schemas: producers must **not** register (auto-register off) and should look up the id of "
        "the exact schema they encode with.",
        f"- **Header** (optional): `{HEADER_EVENT_TYPE}` = the event type. It helps people reading the topic; the "
        "gatekeeper trusts only the schema id.",
        "- **Producer settings**: `acks=all` and `enable.idempotence=true`; keep retrying a failed send (same "
        "event_id) rather than dropping it.",
        "",
        "```text",
        "value = 0x00 | schema id (4 bytes, big-endian) | Avro binary body",
        "key   = \"<regency_code>:<case_id>\"",
        "```",
        "",
        "Schemas evolve under FULL_TRANSITIVE compatibility (schemas/avro/compatibility.yaml): new fields always "
        "come with a default and new enum symbols with a readers' default, so a producer built against an older "
        "version keeps working, and you upgrade when you want the new fields.",
        "",
    ]


def _flow(prefix: str) -> list[str]:
    reasons = member_docs(RejectReason)
    lines = [
        "## What happens to your event",
        "",
        "The gatekeeper reads every ingress topic and checks each record in this order; the first failing check "
        f"sends the record, sealed, to `{prefix}.dlq` with a reason code:",
        "",
    ]
    lines += _table(["reason code", "meaning"], [[f"`{r.value}`", reasons.get(r.value, "")] for r in RejectReason])
    lines += [
        "A record that passes is checked for duplicates (the same `event_id` within 7 days is dropped, not "
        "rejected), its NIK fields are replaced by keyed tokens, and it is written to "
        f"`{prefix}.events.<family>` with the headers `{HEADER_EVENT_ID}`, `{HEADER_EVENT_TYPE}` and "
        f"`{HEADER_SOURCE}` (`<ingress topic>:<partition>:<offset>`).",
        "",
        "A DLQ record keeps the original key, value and headers exactly, sealed in its value (AES-256-GCM under "
        "the installation's DLQ key, since they may hold NIKs): only the province's DLQ tools open them, and they "
        "show NIK fields masked (the first 4 digits, the regency code, kept). Beside it, readable, the gatekeeper "
        "adds:",
        "",
    ]
    lines += _table(["header", "meaning"], [[f"`{n}`", t] for n, t in DLQ_HEADERS])
    lines += [
        "Ask the province's operators for the DLQ records of your regency when your events do not show up; they can "
        "replay them after a fix. Most rejections are caught before sending if you validate against the schema "
        "and the reference data below.",
        "",
    ]
    return lines


def _topics(topics: TopicSet) -> list[str]:
    by_family = default_catalog().by_family()
    templates = {t.role: t for t in load_catalog().topics}
    lines = [
        "## Topics",
        "",
        "From topics/topics.yaml. Retention is how long the broker keeps records; replication is 3 copies "
        "(min.insync.replicas 2) on the provincial cluster.",
        "",
    ]
    rows: list[list[object]] = []
    ingress = topics.role("ingress")
    first: TopicSpec = ingress[0]
    rows.append([f"`{first.name.rsplit('.', 1)[0]}.<regency_code>` ({len(ingress)} topics)", "ingress: you write",
                 first.partitions, duration_text(int(first.config["retention.ms"])),
                 first.config["cleanup.policy"], templates["ingress"].key, "every event type"])
    for topic in topics:
        if topic.role == "ingress":
            continue
        if topic.role == "events":
            carries = ", ".join(by_family[topic.labels["family"]]) or "(no event type yet)"
        elif topic.role == "agg":
            carries = "Aggregate (JSON)"
        elif topic.role == "alerts":
            carries = "Alert (JSON)"
        elif topic.role == "audit":
            carries = "AuditEntry (JSON): ops actions"
        else:
            carries = "rejected records (original bytes)"
        rows.append([f"`{topic.name}`", f"{topic.role}: province reads", topic.partitions,
                     duration_text(int(topic.config["retention.ms"])), topic.config["cleanup.policy"],
                     templates[topic.role].key, carries])
    lines += _table(["topic", "role", "partitions", "retention", "cleanup", "key", "carries"], rows)
    for template in load_catalog().topics:
        lines.append(f"- **{template.role}**: {' '.join(template.description.split())}")
    lines.append("")
    return lines


def _event_types(prefix: str) -> list[str]:
    catalog = default_catalog()
    lines = [
        "## Event types",
        "",
        "Each event type is one Avro record (schemas/avro/<family>/<EventType>.avsc). The tables list the fields "
        "after the [envelope](#the-envelope). **required** fields have no default: a record without them does not "
        "encode. The JSON example is what the HTTP gateway accepts (with `\"event_type\"` added); a Kafka client "
        "encodes the same values in Avro (timestamps as epoch milliseconds).",
        "",
    ]
    lines += _table(["family", "event types"],
                    [[family, ", ".join(f"[{n}](#{_anchor(n)})" for n in names) or "(none yet)"]
                     for family, names in catalog.by_family().items()])
    for family, names in catalog.by_family().items():
        for name in names:
            schema = catalog.get(name)
            lines += [f"### {name}", "", schema.doc, ""]
            facts = [f"family `{family}`", f"topic after the gatekeeper `{prefix}.events.{family}`",
                     f"subject `{schema.subject}`", f"compatibility {schema.compatibility}",
                     f"file `schemas/avro/{family}/{name}.avsc`"]
            if schema.nik_fields:
                facts.append("NIK fields " + ", ".join(f"`{n}`" for n in schema.nik_fields)
                             + " (tokenised by the gatekeeper)")
            lines += ["- " + fact for fact in facts] + [""]
            lines += _table(["field", "type", "required", "meaning"], field_rows(schema, skip=5))
            lines += ["Example:", ""]
            lines += _code("json", json.dumps(example(name).model_dump(mode="json"), indent=2, ensure_ascii=False))
    return lines


def _reference() -> list[str]:
    sources = reference_sources()
    lines = [
        "## Reference data",
        "",
        "Codes that the schemas refer to and the gatekeeper checks (schemas/reference/). An event with an unknown "
        "code is rejected as `invalid_event`.",
        "",
        "### Regencies and cities (`regency_code`)",
        "",
    ]
    lines += ["Sources:", ""] + [f"- {s}" for s in sources["regencies.csv"]] + [""]
    lines += _table(["code", "name", "kind"], [[f"`{r.code}`", r.display_name, r.kind] for r in regencies()])

    lines += ["### Service standards (`service_code`)", ""]
    lines += ["Sources:", ""] + [f"- {s}" for s in sources["service_standards.yaml"]] + [""]

    def hours(h: float | None) -> str:
        return "set by the regency" if h is None else f"{h:g} hours"

    def fee(f: int | None) -> str:
        return "local levy (regency regulation)" if f is None else ("free" if f == 0 else f"Rp {f:,}")

    lines += _table(["code", "service", "agency", "completion time", "official fee", "legal basis", "note"],
                    [[f"`{s.code}`", f"{s.name} ({s.name_id})", s.agency, hours(s.completion_time_hours),
                      fee(s.official_fee_idr), s.legal_basis, s.note] for s in service_standards().values()])
    overrides = service_overrides()
    if overrides:
        lines += ["Regency overrides (they replace the provincial default for that regency):", ""]
        names = {r.code: r.display_name for r in regencies()}
        rows = []
        for reg in sorted(overrides):
            for code, fields in sorted(overrides[reg].items()):
                rows.append([f"`{reg}` {names.get(reg, '')}", f"`{code}`",
                             hours(fields.get("completion_time_hours")) if "completion_time_hours" in fields else "",
                             fee(fields.get("official_fee_idr")) if "official_fee_idr" in fields else "",
                             fields.get("legal_basis", "")])
        lines += _table(["regency", "service", "completion time", "official fee", "legal basis"], rows)
    lines += [
        "A request completed later than its completion time raises an SLA alert; a fee above the official fee "
        "raises a pungli alert. Report `fee_charged_idr` as actually asked.",
        "",
        "### Complaint categories (`category`) and deadlines",
        "",
    ]
    lines += ["Sources:", ""] + [f"- {s}" for s in sources["complaint_categories.yaml"]] + [""]
    d = complaint_deadlines()
    lines += _table(["deadline (working days, Monday to Friday)", "days"], [
        ["verify and forward (RECEIVED -> FORWARDED or NOT_ELIGIBLE)", d.verify_and_forward_working_days],
        ["agency's first follow-up (FORWARDED -> IN_PROGRESS)", d.follow_up_working_days],
        ["close after a follow-up with no reply", d.close_after_follow_up_working_days],
    ])
    lines += _table(["code", "category", "origin", "description", "deadlines (verify / follow up / close)"],
                    [[f"`{c.code}`", f"{c.name} ({c.name_id})", c.origin, c.description,
                      f"{c.deadlines.verify_and_forward_working_days} / {c.deadlines.follow_up_working_days} / "
                      f"{c.deadlines.close_after_follow_up_working_days}"]
                     for c in complaint_categories().values()])
    workflow = complaint_workflow()
    lines += ["Complaint statuses and the transitions allowed from each:", ""]
    lines += _table(["status", "meaning", "may change to"],
                    [[f"`{s}`", meaning, ", ".join(f"`{t}`" for t in workflow.transitions.get(s, ())) or "(final)"]
                     for s, meaning in workflow.statuses.items()])
    lines += ["### Commodities (`commodity_code`)", ""]
    lines += ["Sources:", ""] + [f"- {s}" for s in sources["commodities.yaml"]] + [""]
    lines += _table(["code", "commodity", "price per"],
                    [[f"`{c.code}`", f"{c.name} ({c.name_id})", c.unit] for c in commodities().values()])
    return lines


def _php(prefix: str) -> str:
    schema = default_catalog().get(SNIPPET_EVENT)
    event = example(SNIPPET_EVENT)
    datum = avro_json_value(event.to_avro())
    return f"""<?php
// composer require flix-tech/avro-php        (Avro encoding)
// pecl install rdkafka                      (php-rdkafka, the librdkafka binding)
require __DIR__ . '/vendor/autoload.php';

const REGISTRY = '{PRODUCTION_REGISTRY}';      // given by the province
const SUBJECT  = '{schema.subject}';     // record full name (RecordNameStrategy)
const TOPIC    = '{prefix}.ingress.{event.regency_code}';   // your regency's ingress topic

// The schema exactly as the province registered it: the .avsc of this contract, unchanged.
$schemaJson = file_get_contents(__DIR__ . '/schemas/avro/{schema.family}/{schema.name}.avsc');

// 1. Look up its id once per process (POST /subjects/<subject> answers {{"subject","version","id","schema"}}).
function schemaId(string $schemaJson): int
{{
    $ch = curl_init(REGISTRY . '/subjects/' . rawurlencode(SUBJECT));
    curl_setopt_array($ch, [
        CURLOPT_POST           => true,
        CURLOPT_HTTPHEADER     => ['Content-Type: application/vnd.schemaregistry.v1+json'],
        CURLOPT_POSTFIELDS     => json_encode(['schema' => $schemaJson]),
        CURLOPT_RETURNTRANSFER => true,
    ]);
    $body = curl_exec($ch);
    if (curl_getinfo($ch, CURLINFO_HTTP_CODE) !== 200) {{
        throw new RuntimeException('schema lookup failed (is it the unchanged .avsc?): ' . $body);
    }}
    return json_decode($body, true)['id'];
}}
$schemaId = schemaId($schemaJson);

// 2. Encode: magic byte 0, 4-byte big-endian schema id, Avro binary body.
$datum = [
{_php_datum(schema, datum)}
];
$io = new AvroStringIO();
(new AvroIODatumWriter(AvroSchema::parse($schemaJson)))->write($datum, new AvroIOBinaryEncoder($io));
$value = pack('CN', 0, $schemaId) . $io->string();
$key = $datum['regency_code'] . ':' . $datum['case_id'];

// 3. Produce with acks=all and idempotence; a failed delivery is retried with the same event_id.
$conf = new RdKafka\\Conf();
$conf->set('bootstrap.servers', '{PRODUCTION_BOOTSTRAP}');
$conf->set('security.protocol', 'SASL_SSL');
$conf->set('sasl.mechanisms', 'SCRAM-SHA-512');
$conf->set('sasl.username', getenv('SIMPUL_KAFKA_USERNAME'));     // given by the province
$conf->set('sasl.password', getenv('SIMPUL_KAFKA_PASSWORD'));
$conf->set('acks', 'all');
$conf->set('enable.idempotence', 'true');
$conf->setDrMsgCb(function (RdKafka\\Producer $producer, RdKafka\\Message $message): void {{
    if ($message->err !== RD_KAFKA_RESP_ERR_NO_ERROR) {{
        error_log('not delivered, send it again later: ' . rd_kafka_err2str($message->err));
    }}
}});
$producer = new RdKafka\\Producer($conf);
$producer->newTopic(TOPIC)->producev(RD_KAFKA_PARTITION_UA, 0, $value, $key,
    ['{HEADER_EVENT_TYPE}' => '{schema.name}']);
for ($i = 0; $i < 30 && $producer->flush(1000) !== RD_KAFKA_RESP_ERR_NO_ERROR; $i++) {{
    // wait for the broker's acknowledgement (acks=all) before reporting success
}}
"""


def _java(prefix: str) -> str:
    schema = default_catalog().get(SNIPPET_EVENT)
    event = example(SNIPPET_EVENT)
    datum = avro_json_value(event.to_avro())
    puts = "\n".join("        " + line for line in _java_puts(schema, datum).splitlines())
    return f"""// Maven: org.apache.kafka:kafka-clients, org.apache.avro:avro, and io.confluent:kafka-avro-serializer
// (the last from the repository https://packages.confluent.io/maven/).
import io.confluent.kafka.serializers.KafkaAvroSerializer;
import io.confluent.kafka.serializers.subject.RecordNameStrategy;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Properties;
import java.util.UUID;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

public class PublishServiceRequest {{
    public static void main(String[] args) throws Exception {{
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, "{PRODUCTION_BOOTSTRAP}");
        props.put("security.protocol", "SASL_SSL");
        props.put("sasl.mechanism", "SCRAM-SHA-512");
        props.put("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required username=\\""
                + System.getenv("SIMPUL_KAFKA_USERNAME") + "\\" password=\\"" + System.getenv("SIMPUL_KAFKA_PASSWORD") + "\\";");
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, KafkaAvroSerializer.class);
        props.put("schema.registry.url", "{PRODUCTION_REGISTRY}");   // the ccompat base URL
        props.put("value.subject.name.strategy", RecordNameStrategy.class.getName());
        props.put("auto.register.schemas", false);   // the province registers the schemas
        props.put("use.latest.version", false);      // look up the id of the schema you encode with

        // The .avsc of this contract, unchanged (or classes generated from it by avro-maven-plugin).
        Schema schema = new Schema.Parser().parse(new File("schemas/avro/{schema.family}/{schema.name}.avsc"));
        GenericRecord event = new GenericData.Record(schema);
{puts}

        String topic = "{prefix}.ingress.{event.regency_code}";
        String key = event.get("regency_code") + ":" + event.get("case_id");
        try (KafkaProducer<String, Object> producer = new KafkaProducer<>(props)) {{
            ProducerRecord<String, Object> record = new ProducerRecord<>(topic, key, event);
            record.headers().add("{HEADER_EVENT_TYPE}", "{schema.name}".getBytes(StandardCharsets.UTF_8));
            producer.send(record, (metadata, error) -> {{
                if (error != null) {{
                    // not delivered: keep the event and send it again later with the same event_id
                }}
            }});
            producer.flush();
        }}
    }}
}}
"""


def _producing(prefix: str) -> list[str]:
    schema = default_catalog().get(SNIPPET_EVENT)
    lines = [
        "## Producing with a Kafka client",
        "",
        "What you need from the province: the bootstrap address, the registry URL (the `"
        f"{REGISTRY_PATH}` base), a SCRAM-SHA-512 user and password that may write `{prefix}.ingress.<your code>`, "
        "and the CA certificate if the cluster's is not public. For a local trial, `simpul platform up` gives "
        f"Kafka at `{LOCAL_BOOTSTRAP}` (PLAINTEXT) and the registry at `{LOCAL_REGISTRY}`, and "
        "`simpul schemas register` registers the schemas there.",
        "",
        "Every client does the same four things: look up the schema id of the subject, encode the record in Avro, "
        "prepend the 5-byte header, and produce with `acks=all` and idempotence under the key "
        "`<regency_code>:<case_id>`. The examples publish the "
        f"[{SNIPPET_EVENT}](#{_anchor(SNIPPET_EVENT)}) example of this document.",
        "",
        "### PHP (php-rdkafka and flix-tech/avro-php)",
        "",
        "There is no Confluent serializer for PHP, so the snippet asks the registry itself: "
        f"`POST {{registry}}/subjects/{schema.subject}` with `{{\"schema\": \"<the .avsc text>\"}}` answers the "
        "id under which that exact schema is registered (HTTP 404 with error code 40403 if it differs from every "
        "registered version: use the .avsc unchanged). `GET {registry}/subjects/<subject>/versions/latest` "
        "returns the latest id and schema instead, if you prefer to encode with what the registry holds. Cache the id: "
        "it never changes for a given schema.",
        "",
    ]
    lines += _code("php", _php(prefix))
    lines += [
        "Avro values: `timestamp-millis` fields are integers of epoch milliseconds (UTC); enum fields are the "
        "symbol as a string; optional fields are `null` or the value (avro-php picks the union branch).",
        "",
        "### Java (KafkaProducer and Confluent's KafkaAvroSerializer)",
        "",
        "The serializer does the lookup, the framing and the caching; the settings that matter are "
        "`value.subject.name.strategy=RecordNameStrategy`, `auto.register.schemas=false`, "
        "`use.latest.version=false`, and `schema.registry.url` = the ccompat base URL.",
        "",
    ]
    lines += _code("java", _java(prefix))
    lines += [
        "### .NET",
        "",
        "Confluent.Kafka with Confluent.SchemaRegistry.Serdes.Avro: `AvroSerializer<GenericRecord>` with "
        "`new AvroSerializerConfig { SubjectNameStrategy = SubjectNameStrategy.Record, AutoRegisterSchemas = false, "
        "UseLatestVersion = false }`, and a `ProducerConfig` with `Acks = Acks.All`, `EnableIdempotence = true`, "
        "`SecurityProtocol = SaslSsl`, `SaslMechanism = ScramSha512`.",
        "",
        "### Python",
        "",
        "The Simpul SDK (producers/sdk.py) validates against the models, encodes and publishes with the settings "
        "above:",
        "",
    ]
    lines += _code("python", f"""from producers.sdk import RegencyProducer
from schemas.examples import example
from schemas.exceptions import EventValidationError, FieldProblem
from schemas.models import model_for

with RegencyProducer.connect("3374", bootstrap="{LOCAL_BOOTSTRAP}",
                             registry_url="{LOCAL_REGISTRY}") as producer:
    delivery = producer.publish(example("{SNIPPET_EVENT}")).result()   # raises if not acknowledged
    print(delivery)""")
    lines += [
        "",
        "A process that publishes for several regencies under one identity (a provincial importer, the "
        "simulator) gives its `RegencyProducer`s one shared client, `client=AckedProducer(kafka, "
        "client_id=...)` from producers/delivery.py, and closes that client last: one set of connections and threads instead of one per "
        "regency (three times the throughput of 35 separate clients on the bench host).",
        "",
        "With confluent-kafka's own `AvroSerializer`/`AvroDeserializer` (version 2.14 or newer), pass "
        "`subject.name.strategy` explicitly in both configurations (`record_subject_name_strategy` to produce); "
        "without it the client asks the registry's association endpoint, which Apicurio does not implement, "
        "and the call hangs.",
    ]
    return lines


def _problems(event_type: str, **bad: Any) -> list[FieldProblem]:
    """What the models (and so the gateway) answer for an example with `bad` fields: real messages, not invented."""
    data = {**example(event_type).model_dump(mode="json"), **bad}
    try:
        model_for(event_type).model_validate(data)
    except EventValidationError as exc:
        return list(exc.problems)
    raise AssertionError(f"{bad} is valid for {event_type}; pick a value the contract refuses")


def _gateway(prefix: str) -> list[str]:
    event = example(SNIPPET_EVENT)
    body = {"events": [{"event_type": SNIPPET_EVENT, **event.model_dump(mode="json")}]}
    accepted = {"accepted": 1, "duplicates": 0, "results": [{
        "index": 0, "event_id": str(event.event_id), "status": "accepted",
        "topic": f"{prefix}.ingress.{event.regency_code}", "partition": 1, "offset": 42}]}
    refused = {"error": GatewayRejection.INVALID_EVENT.value,
               "message": "1 of 1 event(s) are invalid; nothing was sent",
               "problems": [{"index": 0, "field": p.path, "reason": p.message}
                            for p in _problems(SNIPPET_EVENT, fee_charged_idr=-1)]}
    return [
        "## The HTTP gateway",
        "",
        "For systems that cannot run a Kafka client. The gateway validates each event against the same schemas "
        "and reference data, encodes it and produces it to your ingress topic with `acks=all`, and answers only "
        "when the broker has acknowledged every event of the request.",
        "",
        f"- `POST {{gateway}}/v1/events` over HTTPS (local: `{LOCAL_GATEWAY}`), header "
        "`X-API-Key: <your regency's key>`, `Content-Type: application/json`. The key is checked before the body "
        "is read.",
        "- Body: `{\"events\": [ ... ]}` with up to 1,000 events of your regency; each event is an object with "
        "`event_type` (the event type name) and the event's fields as in the tables above (timestamps as ISO 8601 "
        "with a time zone, dates as `YYYY-MM-DD`, enums as their symbol, absent optional fields as `null` or "
        "left out).",
        "- All or nothing: if any event is invalid, nothing of the request is sent.",
        "- Retrying the same request is safe: an event_id already accepted is answered `duplicate`, not "
        "written twice.",
        "",
    ] + _code("bash", f"""curl -sS -X POST {LOCAL_GATEWAY}/v1/events \\
  -H "X-API-Key: $SIMPUL_API_KEY" -H "Content-Type: application/json" \\
  --data-binary @- <<'JSON'
{json.dumps(body, indent=2, ensure_ascii=False)}
JSON""") + [
        "`202 Accepted`: every event is on the broker (or was already):",
        "",
    ] + _code("json", json.dumps(accepted, indent=2)) + _table(["status", "`error`", "when"], [
        ["400", "`bad_request`", "the body is not JSON, or not `{\"events\": [...]}`"],
        ["401", "`unauthorized`", "the X-API-Key header is missing, unknown or revoked (answered before the body "
         "is read; the connection is closed)"],
        ["403", f"`{GatewayRejection.REGENCY_FORBIDDEN.value}`", "an event of another regency than the key's "
         "(nothing was sent)"],
        ["413", "`payload_too_large`", "more than 1,000 events, or more than 4,096,000 bytes (4,096 per event) in "
         "one request: answered as soon as the body passes the limit; the connection is closed"],
        ["422", f"`{GatewayRejection.INVALID_EVENT.value}`", "an event breaks the schema or the reference data; "
         "`problems` names each event (`index`), `field` and `reason`, never the value sent"],
        ["503", "`unavailable`", "the broker or the registry is unavailable: retry the same request later"],
    ]) + [
        "Every error answer has the same shape:",
        "",
    ] + _code("json", json.dumps(refused, indent=2))


def _consuming(prefix: str) -> list[str]:
    models = derived_record_models()
    rules = member_docs(AlertRule)
    lines = [
        "## For province services: consuming",
        "",
        f"- `{prefix}.events.<family>`: the same Avro records (same subjects, Confluent wire format), validated, "
        "deduplicated, NIK fields tokenised; key `<regency_code>:<case_id>`. Delivery is at-least-once: "
        "upsert by `event_id`.",
        f"- `{prefix}.agg.<metric>`: JSON `Aggregate` records (schemas/records.py): "
        f"{inspect.getdoc(models['Aggregate'])}",
        f"- `{prefix}.alerts`: JSON `Alert` records (schemas/records.py): {inspect.getdoc(models['Alert'])}",
        f"- `{prefix}.dlq`: rejected records with the headers listed in "
        "[What happens to your event](#what-happens-to-your-event).",
        "",
        "Alert rules:",
        "",
    ]
    lines += _table(["rule", "meaning"], [[f"`{r.value}`", rules.get(r.value, "")] for r in AlertRule])
    return lines


def render_contract_md(prefix: str = "jateng") -> str:
    """docs/contract.md as text: deterministic (no timestamps), from the catalogs, reference data and examples."""
    topics = topic_names(prefix)
    lines: list[str] = []
    lines += _intro(prefix, len(default_catalog()))
    lines += _envelope()
    lines += _wire_format(topics)
    lines += _flow(prefix)
    lines += _topics(topics)
    lines += _event_types(prefix)
    lines += _reference()
    lines += _producing(prefix)
    lines += _gateway(prefix)
    lines += _consuming(prefix)
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n"
