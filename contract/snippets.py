"""The client snippets of docs/contract.md: template files (templates/) filled with the shipped example event, the
catalog's topic, the `Header` names and the addresses given.

Templates use `{{name}}` placeholders, so PHP's and the shell's `$` and Java's braces are written as they are.
"""

from __future__ import annotations

import json
import string
from importlib.resources import files
from typing import Any

from contract.addresses import Addresses
from contract.sources import avro_json_value
from schemas.catalog import EventSchema, default_catalog
from schemas.examples import example
from schemas.outcomes import Header
from topics.catalog import TopicSet

SNIPPET_EVENT = "ServiceRequestSubmitted"


class SnippetTemplate(string.Template):
    """`{{name}}` placeholders; anything else between `{{` and `}}` is an error, not text."""

    delimiter = "{{"
    pattern = r"""
    \{\{(?:
      (?P<escaped>\{\{) |
      (?P<named>[a-z_][a-z0-9_]*)\}\} |
      (?P<braced>(?!)) |
      (?P<invalid>)
    )
    """


def render(template: str, **values: str) -> str:
    """A template file of templates/ filled in; a placeholder without a value raises KeyError naming it."""
    text = (files("contract") / "templates" / template).read_text(encoding="utf-8")
    return SnippetTemplate(text).substitute(values)


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


def php(topics: TopicSet, addresses: Addresses) -> str:
    """Publishing the example with php-rdkafka and avro-php, asking the registry for the schema id itself."""
    schema = default_catalog().get(SNIPPET_EVENT)
    event = example(SNIPPET_EVENT)
    return render(
        "publish.php", registry_url=addresses.production_registry, subject=schema.subject,
        topic=topics.ingress(event.regency_code).name, family=schema.family, event_type=schema.name,
        datum=_php_datum(schema, avro_json_value(event.to_avro())), bootstrap=addresses.production_bootstrap,
        event_type_header=Header.EVENT_TYPE)


def java(topics: TopicSet, addresses: Addresses) -> str:
    """Publishing the example with KafkaProducer and Confluent's KafkaAvroSerializer."""
    schema = default_catalog().get(SNIPPET_EVENT)
    event = example(SNIPPET_EVENT)
    puts = "\n".join("        " + line for line in _java_puts(schema, avro_json_value(event.to_avro())).splitlines())
    return render(
        "PublishServiceRequest.java", bootstrap=addresses.production_bootstrap,
        registry_url=addresses.production_registry, family=schema.family, event_type=schema.name, puts=puts,
        topic=topics.ingress(event.regency_code).name, event_type_header=Header.EVENT_TYPE)


def python_sdk(addresses: Addresses) -> str:
    """Publishing the example with the Simpul SDK against the local platform."""
    event = example(SNIPPET_EVENT)
    return render("publish.py", regency_code=event.regency_code, bootstrap=addresses.kafka_bootstrap,
                  registry_url=addresses.registry_url, event_type=SNIPPET_EVENT)


def curl(addresses: Addresses, body: dict[str, Any]) -> str:
    """Posting `body` to the local HTTP gateway."""
    return render("publish.sh", gateway_url=addresses.gateway_url,
                  body=json.dumps(body, indent=2, ensure_ascii=False))
