"""The contract as an AsyncAPI 3.0.0 document, generated from topics.yaml and the `.avsc` files.

`build_asyncapi(prefix, addresses)` is a pure function of the topic catalog, the event-type catalog, the reference
data, the outcome vocabulary (header names included) and the addresses it is given; `simpul docs generate` writes
it to docs/asyncapi.yaml, and a unit test fails when the committed file differs. Every Avro schema is embedded as
written (docs and `simpul.*` attributes included) in a multi-format schema object, so tools that understand Avro
(AsyncAPI Studio, @asyncapi/parser with the Avro parser, Modelina) browse the same definition the registry holds.
"""

from __future__ import annotations

import copy
import inspect
from typing import Any
from uuid import NAMESPACE_URL, uuid5

import yaml
from pydantic import BaseModel

from contract.addresses import Addresses
from contract.sources import (
    avro_json_value,
    derived_record_models,
    member_docs,
    package_version,
    record_json_schema,
    topic_pattern,
)
from schemas.catalog import EventSchema, default_catalog
from schemas.examples import examples
from schemas.feedback import OutcomeStatus, RegencyOutcome
from schemas.outcomes import AlertRule, Header, RejectReason, source_of
from schemas.reference import regencies
from topics.catalog import TopicSet, TopicSpec, load_catalog, topic_names

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
AVRO_SCHEMA_FORMAT = "application/vnd.apache.avro+json;version=1.9.0"
AVRO_CONTENT_TYPE = "application/vnd.apache.avro"
JSON_CONTENT_TYPE = "application/json"
BYTES_CONTENT_TYPE = "application/octet-stream"
REGENCY_PARAMETER = "regency_code"
DLQ_HEADERS: tuple[tuple[str, str], ...] = (
    (Header.REASON, "Why the gatekeeper rejected the record (one of the reason codes)."),
    (Header.REASON_MESSAGE, "A sentence for people, naming the offending field where there is one."),
    (Header.SOURCE_TOPIC, "The ingress topic the record was read from."),
    (Header.SOURCE_PARTITION, "Its partition (decimal text)."),
    (Header.SOURCE_OFFSET, "Its offset (decimal text)."),
    (Header.REJECTED_AT, "When the gatekeeper rejected it (ISO 8601, UTC)."),
)
EXAMPLE_REGENCY = "3374"


# ---- the document ----------------------------------------------------------------------------------------------

def ingress_address(prefix: str) -> str:
    """The parameterised address of the 35 ingress topics."""
    return topic_pattern(prefix, "ingress", f"{{{REGENCY_PARAMETER}}}")


def channel_id(topic: TopicSpec) -> str:
    """A stable channel id: `ingress`, `events_governance`, `agg_prices`, `alerts`, `dlq`."""
    if topic.role == "ingress":
        return "ingress"
    return "_".join([topic.role, *topic.labels.values()])


def _kafka_channel_binding(topic: TopicSpec, *, concrete: bool) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for key, value in topic.config.items():
        if key == "min.insync.replicas":
            continue  # follows the replication profile of the cluster, not the catalog
        if key == "cleanup.policy":
            config[key] = value.split(",")
        elif value.lstrip("-").isdigit():
            config[key] = int(value)
        else:
            config[key] = value
    binding: dict[str, Any] = {}
    if concrete:
        binding["topic"] = topic.name
    binding["partitions"] = topic.partitions
    binding["topicConfiguration"] = config
    binding["bindingVersion"] = KAFKA_BINDING_VERSION
    return {"kafka": binding}


def _key_schema() -> dict[str, Any]:
    return {
        "type": "string",
        "description": "`<regency_code>:<case_id>` as UTF-8: the ordering key, so that all events of one case stay "
                       "in order on one partition.",
        "pattern": "^33[0-9]{2}:.+$",
        "examples": ["3374:SR-3374-2025-000123"],
    }


def _event_headers() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            Header.EVENT_TYPE: {"type": "string", "description": "The event type (record name). Optional on "
                                "ingress and never trusted: the schema id in the value decides."},
            Header.EVENT_ID: {"type": "string", "format": "uuid",
                              "description": "Set by the gatekeeper on events.<family>: the event_id."},
            Header.SOURCE: {"type": "string", "description": "Set by the gatekeeper on events.<family>: "
                            "`<ingress topic>:<partition>:<offset>` the event was read from."},
        },
    }


def _event_message(schema: EventSchema) -> dict[str, Any]:
    event = examples()[schema.name]
    nik = list(schema.nik_fields)
    doc = schema.doc
    description = (
        f"{doc}\n\nFamily `{schema.family}`; registry subject `{schema.subject}` (RecordNameStrategy); "
        f"compatibility {schema.compatibility}. Written by a regency to its ingress topic, and by the gatekeeper, "
        f"validated and deduplicated, to `events.{schema.family}`."
    )
    if nik:
        description += (
            f" NIK field(s) {', '.join(f'`{n}`' for n in nik)} hold a clear 16-digit NIK on ingress (or null where "
            "the schema allows it), nothing else: a token-shaped value is rejected to the DLQ as `invalid_event`, "
            "since only the gatekeeper mints tokens; on every canonical topic they hold its keyed token (`nik:` + 43 "
            "URL-safe characters)."
        )
    message: dict[str, Any] = {
        "name": schema.name,
        "title": schema.name,
        "summary": doc.split(". ")[0].rstrip(".") + ".",
        "description": description,
        "contentType": AVRO_CONTENT_TYPE,
        "headers": _event_headers(),
        "payload": {"schemaFormat": AVRO_SCHEMA_FORMAT, "schema": copy.deepcopy(schema.definition)},
        "bindings": {"kafka": {
            "key": _key_schema(),
            "schemaIdLocation": "payload",
            "schemaIdPayloadEncoding": "confluent",
            "schemaLookupStrategy": "RecordNameStrategy",
            "bindingVersion": KAFKA_BINDING_VERSION,
        }},
        "examples": [{
            "name": f"{schema.name}-{event.regency_code}",
            "summary": "The Avro datum in JSON form (timestamp-millis as epoch milliseconds, date as days since "
                       "1970-01-01); on the wire it is Avro binary after the 5-byte header.",
            "headers": {Header.EVENT_TYPE: schema.name},
            "payload": avro_json_value(event.to_avro()),
        }],
        "tags": [{"name": schema.family}],
        "x-simpul-family": schema.family,
        "x-simpul-subject": schema.subject,
    }
    if nik:
        message["x-simpul-nik-fields"] = nik
    return message


def _dlq_message(topics: TopicSet) -> dict[str, Any]:
    reasons = member_docs(RejectReason)
    source_topic = topics.ingress(EXAMPLE_REGENCY).name
    reason_text = "; ".join(f"`{r.value}`: {reasons.get(r.value, '')}" for r in RejectReason)
    properties: dict[str, Any] = {}
    for name, text in DLQ_HEADERS:
        prop: dict[str, Any] = {"type": "string", "description": text}
        if name == Header.REASON:
            prop["enum"] = [r.value for r in RejectReason]
        if name == Header.REJECTED_AT:
            prop["format"] = "date-time"
        properties[name] = prop
    return {
        "name": "RejectedRecord",
        "title": "Rejected ingress record",
        "summary": "A record the gatekeeper could not accept, its original sealed.",
        "description": "The original key, value and headers, exactly as they arrived (they may hold NIKs), are "
                       "sealed in the value with AES-256-GCM under the installation's DLQ key and bound to the "
                       "source topic:partition:offset; only the province's DLQ tools open them, showing NIK fields "
                       f"masked. The simpul.* headers beside it are readable. Reasons: {reason_text}",
        "contentType": BYTES_CONTENT_TYPE,
        "headers": {"type": "object", "required": [n for n, _ in DLQ_HEADERS], "properties": properties},
        "payload": {"type": "string", "format": "binary",
                    "description": "The sealed envelope: version byte 0xD1, 8-byte key id, 12-byte nonce, "
                                   "AES-256-GCM ciphertext and tag."},
        "bindings": {"kafka": {"key": {"type": "null", "description": "No key: the original key is sealed."},
                               "bindingVersion": KAFKA_BINDING_VERSION}},
        "examples": [{
            "name": "regency-mismatch",
            "headers": {
                Header.REASON: RejectReason.REGENCY_MISMATCH.value,
                Header.REASON_MESSAGE: f"regency_code 3301 is not the regency of topic {source_topic}",
                Header.SOURCE_TOPIC: source_topic,
                Header.SOURCE_PARTITION: "1",
                Header.SOURCE_OFFSET: "4711",
                Header.REJECTED_AT: "2025-03-03T02:15:31.004Z",
            },
        }],
    }


def _alert_example(model: type[BaseModel]) -> dict[str, Any]:
    subject = [EXAMPLE_REGENCY, "SR-3374-2025-000777"]
    example = model.model_validate({
        "alert_id": str(uuid5(NAMESPACE_URL, f"simpul:{AlertRule.FEE_ABOVE_TARIFF.value}:" + "|".join(subject))),
        "rule": AlertRule.FEE_ABOVE_TARIFF.value,
        "severity": "warning",
        "regency_code": EXAMPLE_REGENCY,
        "window_start": "2025-03-03T02:15:30.123Z",
        "window_end": "2025-03-03T02:15:30.123Z",
        "subject": subject,
        "message": "KTP_EL charged Rp 50,000 where the official tariff is Rp 0",
        "evidence_event_ids": [str(uuid5(NAMESPACE_URL, "simpul:example:evidence"))],
        "raised_at": "2025-03-03T02:15:30.123Z",
        "details": {"fee_charged_idr": 50000, "official_fee_idr": 0},
    })
    return example.model_dump(mode="json")


def _alert_message(model: type[BaseModel], shared: dict[str, Any]) -> dict[str, Any]:
    rules = member_docs(AlertRule)
    return {
        "name": "Alert",
        "title": "Alert",
        "summary": "A rule fired: SLA breach, fee above tariff, overdue complaint, complaint spike, ...",
        "description": f"{inspect.getdoc(model)} JSON (UTF-8); compaction keeps the latest state of each alert; "
                       "alert_id = uuid5(NAMESPACE_URL, \"simpul:<rule>:<subject parts joined by |>\"), so a replay "
                       "raises the same id. Rules: "
                       + "; ".join(f"`{r.value}`: {rules.get(r.value, '')}" for r in AlertRule),
        "contentType": JSON_CONTENT_TYPE,
        "payload": record_json_schema(model, shared),
        "bindings": {"kafka": {"key": {"type": "string", "format": "uuid", "description": "alert_id"},
                               "bindingVersion": KAFKA_BINDING_VERSION}},
        "examples": [{"name": "fee-above-tariff", "payload": _alert_example(model)}],
    }


def _aggregate_message(model: type[BaseModel], shared: dict[str, Any], key: str) -> dict[str, Any]:
    return {
        "name": "Aggregate",
        "title": "Window aggregate",
        "summary": "One window of one metric for one regency x dimension value.",
        "description": f"{inspect.getdoc(model)} JSON (UTF-8); the topic is compacted on the key, so a consumer "
                       "that starts late still sees the latest value of every window.",
        "contentType": JSON_CONTENT_TYPE,
        "payload": record_json_schema(model, shared),
        "bindings": {"kafka": {"key": {"type": "string", "description": key},
                               "bindingVersion": KAFKA_BINDING_VERSION}},
    }


def _audit_message(model: type[BaseModel], shared: dict[str, Any], topics: TopicSet) -> dict[str, Any]:
    example = model.model_validate({
        "entry_id": str(uuid5(NAMESPACE_URL, "simpul:example:audit")), "at": "2025-03-03T03:01:12.500Z",
        "actor": "siti", "role": "operator", "action": "dlq.edit", "target": source_of(topics.dlq.name, 1, 4711),
        "before_digest": "9f2c" * 16, "after_digest": "41be" * 16, "result": "ok",
        "detail": "to " + source_of(topics.ingress(EXAMPLE_REGENCY).name, 0, 812)})
    return {
        "name": "AuditEntry",
        "title": "Ops audit entry",
        "summary": "An operator action: a DLQ replay or edit, a dashboard account created or disabled, an API key "
                   "issued or revoked, the alert rules changed.",
        "description": f"{inspect.getdoc(model)} JSON (UTF-8), written by the monitor with acks=all, at least once.",
        "contentType": JSON_CONTENT_TYPE,
        "payload": record_json_schema(model, shared),
        "bindings": {"kafka": {"key": {"type": "string", "format": "uuid", "description": "entry_id"},
                               "bindingVersion": KAFKA_BINDING_VERSION}},
        "examples": [{"name": "dlq-edit", "payload": example.model_dump(mode="json")}],
    }


def _hex(description: str) -> dict[str, Any]:
    return {"type": "string", "pattern": "^[0-9a-f]{64}$", "description": description}


_CHECKPOINT_FIELDS: dict[str, Any] = {
    "size": {"type": "integer", "minimum": 0, "description": "Tree size: how many leaves the checkpoint covers."},
    "root_hash": _hex("RFC 6962 Merkle tree hash of those leaves, hex."),
    "signed_at": {"type": "string", "format": "date-time", "description": "When it was signed (UTC)."},
    "note": {"type": "string", "description": "The C2SP signed note (origin, size, base64 root, Ed25519 "
                                              "signature line): what a third party verifies."},
    "verifier_key": {"type": "string", "description": "The C2SP verifier key of the province's Ed25519 key."},
    "origin": {"type": "string", "description": "The log's origin line."},
}


def _checkpoint_message() -> dict[str, Any]:
    """The transparency log's signed checkpoint (a CheckpointRecord of transparency/log_store.py, as JSON)."""
    return {
        "name": "Checkpoint",
        "title": "Signed checkpoint of the transparency log",
        "summary": "Tree size, root hash and time, signed with the province's Ed25519 key (C2SP signed note).",
        "description": "JSON (UTF-8), written by the transparency stage only; see docs/audit.md for how to verify "
                       "the note with the public key alone.",
        "contentType": JSON_CONTENT_TYPE,
        "payload": {"type": "object", "required": sorted(_CHECKPOINT_FIELDS), "properties": _CHECKPOINT_FIELDS},
        "bindings": {"kafka": {"key": {"type": "string", "description": "the tree size (decimal)"},
                               "bindingVersion": KAFKA_BINDING_VERSION}},
    }


def _receipt_message() -> dict[str, Any]:
    """A regency's receipt (transparency/receipts.py `Receipt`, as JSON)."""
    fields: dict[str, Any] = {
        "event_id": {"type": "string", "format": "uuid", "description": "The accepted event."},
        "regency_code": {"type": "string", "description": "Its regency: the topic's own."},
        "leaf_hash": _hex("SHA-256(0x00 || leaf data) of the event's canonical form, hex."),
        "log_index": {"type": "integer", "minimum": 0, "description": "Its 0-based index in the log."},
        "tree_size": {"type": "integer", "minimum": 1, "description": "Size of the checkpoint that proves it."},
        "inclusion_proof": {"type": "array", "items": _hex("a node of the RFC 9162 audit path")},
        "checkpoint": _CHECKPOINT_FIELDS["note"],
        "verifier_key": _CHECKPOINT_FIELDS["verifier_key"],
        "origin": _CHECKPOINT_FIELDS["origin"],
    }
    return {
        "name": "Receipt",
        "title": "Receipt of an accepted event",
        "summary": "Proof that the province accepted one of the regency's events: leaf hash, log index, an "
                   "inclusion proof and the signed checkpoint it leads to.",
        "description": "JSON (UTF-8), written by the transparency stage only; readable only by the regency whose "
                       "topic it is. Also served by the gateway at `GET /v1/receipts/{event_id}`.",
        "contentType": JSON_CONTENT_TYPE,
        "payload": {"type": "object", "required": sorted(fields), "properties": fields},
        "bindings": {"kafka": {"key": {"type": "string", "format": "uuid", "description": "event_id"},
                               "bindingVersion": KAFKA_BINDING_VERSION}},
    }


def outcome_example(topics: TopicSet) -> dict[str, Any]:
    """A rejected record's RegencyOutcome as the gatekeeper writes it (validated by the model, so it cannot drift)."""
    problem = {"field": "fee_charged_idr", "reason": "Input should be greater than or equal to 0"}
    outcome = RegencyOutcome.model_validate({
        "regency_code": EXAMPLE_REGENCY, "event_id": str(uuid5(NAMESPACE_URL, "simpul:example:outcome")),
        "event_type": "ServiceRequestSubmitted", "case_id": "SR-3374-2025-000123",
        "status": OutcomeStatus.REJECTED.value, "reason": RejectReason.INVALID_EVENT.value,
        "field": problem["field"], "problems": [problem],
        "message": "fee_charged_idr: Input should be greater than or equal to 0",
        "source": source_of(topics.ingress(EXAMPLE_REGENCY).name, 2, 1187), "at": "2025-03-03T02:15:31.042Z"})
    return outcome.model_dump(mode="json")


def _outcome_message(shared: dict[str, Any], topics: TopicSet, key: str) -> dict[str, Any]:
    """A regency's outcome record (schemas/feedback.py `RegencyOutcome`, as JSON)."""
    statuses = member_docs(OutcomeStatus)
    return {
        "name": "RegencyOutcome",
        "title": "Outcome of one of the regency's records",
        "summary": "What the gatekeeper did with one record of the regency's ingress topic: routed, duplicate, or "
                   "rejected with its reason code and offending fields (never a value sent, no NIK).",
        "description": f"{inspect.getdoc(RegencyOutcome)} JSON (UTF-8), written by the gatekeeper only; readable "
                       "only by the regency whose topic it is. Also served by the gateway at "
                       "`GET /v1/events/{event_id}` and `GET /v1/rejections`. Statuses: "
                       + "; ".join(f"`{s.value}`: {statuses.get(s.value, '')}" for s in OutcomeStatus),
        "contentType": JSON_CONTENT_TYPE,
        "payload": record_json_schema(RegencyOutcome, shared),
        "bindings": {"kafka": {"key": {"type": "string", "description": key},
                               "bindingVersion": KAFKA_BINDING_VERSION}},
        "examples": [{"name": "rejected", "payload": outcome_example(topics)}],
    }


def _info(prefix: str, topics: TopicSet, addresses: Addresses) -> dict[str, Any]:
    return {
        "title": "Simpul",
        "version": package_version(),
        "description": (
            "Simpul is the event integration bus of the Central Java provincial government (Pemerintah Provinsi "
            "Jawa Tengah). The 35 regency and city governments publish public-service events from their own "
            "systems; the province validates, deduplicates, aggregates and forwards them to provincial stores "
            "and alerts.\n\n"
            "Wire format of every Avro message: magic byte `0`, the 4-byte big-endian schema id from the "
            f"Confluent-compatible registry (`{addresses.registry_path}`), then the Avro binary body. The registry "
            "subject is the record's full name (RecordNameStrategy), so several event types share one topic. The "
            "key is `<regency_code>:<case_id>`. Each regency writes only its own ingress topic "
            f"`{ingress_address(prefix)}`; what the gatekeeper cannot accept goes to `{topics.dlq.name}` with a reason "
            "code. Regency developers: read docs/contract.md."
        ),
        "license": {"name": "Apache-2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0"},
        "tags": [{"name": family} for family in default_catalog().by_family()],
    }


def _servers(addresses: Addresses) -> dict[str, Any]:
    return {
        "local": {
            "host": addresses.kafka_bootstrap,
            "protocol": "kafka",
            "description": "The local platform of `simpul platform up` (one KRaft broker, PLAINTEXT on loopback; "
                           f"Apicurio Registry at {addresses.registry_url}).",
            "bindings": {"kafka": {"schemaRegistryUrl": addresses.registry_url, "schemaRegistryVendor": "apicurio",
                                   "bindingVersion": KAFKA_BINDING_VERSION}},
        },
        "production": {
            "host": "{bootstrap}",
            "protocol": "kafka-secure",
            "description": "The provincial cluster (SASL_SSL with SCRAM-SHA-512, one user per regency, prefix ACLs "
                           "on its own ingress topic). The province hands each regency its bootstrap address, "
                           "registry URL and credentials.",
            "variables": {"bootstrap": {"default": addresses.production_bootstrap,
                                        "description": "Bootstrap address given by the province."}},
            "security": [{"$ref": "#/components/securitySchemes/regencyScram"}],
            "bindings": {"kafka": {"schemaRegistryUrl": addresses.production_registry,
                                   "schemaRegistryVendor": "apicurio",
                                   "bindingVersion": KAFKA_BINDING_VERSION}},
        },
    }


def build_asyncapi(prefix: str, addresses: Addresses) -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document of the topics of `prefix` (a plain dict, ready for YAML or JSON)."""
    topics: TopicSet = topic_names(prefix)
    templates = {t.role: t for t in load_catalog().topics}
    catalog = default_catalog()
    by_family = catalog.by_family()
    messages: dict[str, Any] = {name: _event_message(catalog.get(name)) for name in catalog.event_types()}
    shared: dict[str, Any] = {}
    models = derived_record_models()
    messages["Aggregate"] = _aggregate_message(models["Aggregate"], shared, templates["agg"].key)
    messages["Alert"] = _alert_message(models["Alert"], shared)
    messages["RejectedRecord"] = _dlq_message(topics)
    messages["AuditEntry"] = _audit_message(models["AuditEntry"], shared, topics)
    messages["Checkpoint"] = _checkpoint_message()
    messages["Receipt"] = _receipt_message()
    messages["RegencyOutcome"] = _outcome_message(shared, topics, templates["outcomes"].key)

    def refs(names: list[str]) -> dict[str, Any]:
        return {n: {"$ref": f"#/components/messages/{n}"} for n in names}

    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    ingress = topics.role("ingress")
    codes = [t.labels["regency"] for t in ingress]
    names = {r.code: r.display_name for r in regencies()}
    channels["ingress"] = {
        "address": ingress_address(prefix),
        "title": "Regency ingress",
        "summary": "One topic per regency; only that regency may write it.",
        "description": f"{ingress[0].description} Key: {templates['ingress'].key}.",
        "parameters": {REGENCY_PARAMETER: {
            "description": "Kemendagri/BPS code of the regency or city: "
                           + ", ".join(f"{c} {names[c]}" for c in codes) + ".",
            "enum": codes,
            "examples": [EXAMPLE_REGENCY],
        }},
        "messages": refs(catalog.event_types()),
        "bindings": _kafka_channel_binding(ingress[0], concrete=False),
    }
    operations["sendIngress"] = {
        "action": "send",
        "channel": {"$ref": "#/channels/ingress"},
        "title": "A regency system publishes its events",
        "summary": "Produce with acks=all and idempotence, key `<regency_code>:<case_id>`, Confluent-framed Avro.",
        "messages": [{"$ref": f"#/channels/ingress/messages/{n}"} for n in catalog.event_types()],
    }
    for role, message, title, summary, reading, flatten in (
            ("receipts", "Receipt", "Regency receipts", "One topic per regency; only that regency may read it.",
             "A regency system reads its receipts", False),
            ("outcomes", "RegencyOutcome", "Regency outcomes",
             "One topic per regency; only that regency (and the gateway) may read it.",
             "A regency system reads what became of its records", True)):
        channels[role], operations[f"receive{role.capitalize()}"] = _regency_channel(
            topics.role(role), templates[role].key, prefix, refs, role=role, message=message, title=title,
            summary=summary, reading=reading, flatten=flatten)
    for topic in topics:
        if topic.role in {"ingress", "receipts", "outcomes"}:
            continue
        cid = channel_id(topic)
        if topic.role == "events":
            names_here = by_family[topic.labels["family"]]
        elif topic.role == "agg":
            names_here = ["Aggregate"]
        elif topic.role == "alerts":
            names_here = ["Alert"]
        elif topic.role == "audit":
            names_here = ["AuditEntry"]
        elif topic.role == "checkpoints":
            names_here = ["Checkpoint"]
        else:
            names_here = ["RejectedRecord"]
        channels[cid] = {
            "address": topic.name,
            "title": topic.name,
            "description": f"{topic.description} Key: {topic.key}.",
            "messages": refs(names_here),
            "bindings": _kafka_channel_binding(topic, concrete=True),
        }
        operations[f"receive_{cid}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{cid}"},
            "summary": f"Province services consume {topic.name}.",
            "messages": [{"$ref": f"#/channels/{cid}/messages/{n}"} for n in names_here],
        }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:id:go:jatengprov:simpul",
        "info": _info(prefix, topics, addresses),
        "defaultContentType": AVRO_CONTENT_TYPE,
        "servers": _servers(addresses),
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": dict(sorted(shared.items())),
            "messages": messages,
            "securitySchemes": {"regencyScram": {
                "type": "scramSha512",
                "description": "One SCRAM-SHA-512 user per regency; its ACL allows writing only "
                               f"{topic_pattern(prefix, 'ingress', '<its code>')}.",
            }},
        },
    }


HEADER_COMMENT = (
    "# Generated by `simpul docs generate` from topics/topics.yaml, schemas/avro/**/*.avsc and schemas/reference;\n"
    "# do not edit by hand (tests/unit/test_docs_contract.py fails when this file is stale).\n"
)


def render_asyncapi_yaml(prefix: str, addresses: Addresses) -> str:
    """docs/asyncapi.yaml as text: deterministic, keys in document order."""
    body = yaml.safe_dump(build_asyncapi(prefix, addresses), sort_keys=False, allow_unicode=True, width=120,
                          default_flow_style=False)
    return HEADER_COMMENT + body


__all__ = ["ASYNCAPI_VERSION", "AVRO_SCHEMA_FORMAT", "build_asyncapi", "render_asyncapi_yaml"]


def _regency_channel(specs: list[TopicSpec], key: str, prefix: str, refs: Any, *, role: str, message: str, title: str,
                     summary: str, reading: str, flatten: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """One channel for a per-regency topic a regency reads (receipts, outcomes), with its receive operation."""
    description = " ".join(specs[0].description.split()) if flatten else specs[0].description
    channel = {
        "address": topic_pattern(prefix, role, f"{{{REGENCY_PARAMETER}}}"),
        "title": title,
        "summary": summary,
        "description": f"{description} Key: {key}.",
        "parameters": {REGENCY_PARAMETER: {
            "description": "Kemendagri/BPS code of the regency or city (as for ingress).",
            "enum": [t.labels["regency"] for t in specs],
            "examples": [EXAMPLE_REGENCY],
        }},
        "messages": refs([message]),
        "bindings": _kafka_channel_binding(specs[0], concrete=False),
    }
    operation = {
        "action": "receive",
        "channel": {"$ref": f"#/channels/{role}"},
        "title": reading,
        "summary": "Consume with a group starting `<prefix>-regency-<code>-`; the ACL allows no other regency's topic.",
        "messages": [{"$ref": f"#/channels/{role}/messages/{message}"}],
    }
    return channel, operation
