"""What the log commits to: the bytes of one leaf, for a canonical event and for an ops action.

An event's leaf is its tokenised datum as the store keeps it (`payload`), in canonical JSON (keys sorted, no
spaces, UTF-8): the same bytes whether computed from the canonical topic or from the store, and computable by a
regency from the event it sent (with the NIK token in place of the NIK). A prefix per kind keeps an ops entry from
ever hashing like an event.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic_core import to_jsonable_python

from transparency.merkle import leaf_hash

EVENT_PREFIX = b"simpul/event/v1\n"
OPS_PREFIX = b"simpul/ops/v1\n"


def canonical_json(obj: Mapping[str, Any]) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def event_leaf(payload: Mapping[str, Any] | str) -> bytes:
    """The leaf hash of a canonical event, from its stored payload (a JSON text or its parsed object)."""
    obj = json.loads(payload) if isinstance(payload, str) else payload
    return leaf_hash(EVENT_PREFIX + canonical_json(obj))


def datum_leaf(datum: Mapping[str, Any]) -> bytes:
    """The leaf hash of a canonical event from its decoded Avro datum: equal to `event_leaf(payload_json(datum))`
    (tests/unit/test_transparency_leaves.py) without writing the JSON text and parsing it back, which was a third
    of the stage's per-leaf CPU."""
    return leaf_hash(EVENT_PREFIX + canonical_json(to_jsonable_python(datum)))


def ops_leaf(entry: Mapping[str, Any]) -> bytes:
    """The leaf hash of an ops audit entry, from its JSON object (`AuditEntry.model_dump(mode="json")`)."""
    return leaf_hash(OPS_PREFIX + canonical_json(entry))
