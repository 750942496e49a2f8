"""The retry digest: how the gateway tells a client's retry of an event_id from a reuse of it for other content.

An event's JSON holds raw NIKs. An unkeyed hash of it, kept in the gateway's database, would let anyone holding
that database confirm a guessed NIK (hash the event with each candidate NIK and compare), without any key. So the
digest is an HMAC-SHA256 keyed with the installation's `gateway_digest_key`: without the key it confirms nothing.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from producers.exceptions import ProducerError
from producers.gateway.store import Outcome

HKDF_INFO = b"simpul gateway retry digest v1"


class DigestKeyMissing(ProducerError):
    """The gateway was built without its digest key (there is no default key)."""


class RetryDigest:
    """HMAC-SHA256 of an event's canonical JSON under a key derived (HKDF-SHA256) from the installation secret.

    `key_id` names the key without revealing it, so that a digest made under an earlier key is recognised as
    not comparable instead of as different content."""

    def __init__(self, secret: str) -> None:
        if not secret:
            raise DigestKeyMissing("the gateway needs the installation's gateway_digest_key (SIMPUL_GATEWAY_DIGEST_KEY "
                                   "or the secrets folder, see `simpul secrets show`); it has no default")
        self._key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO).derive(secret.encode())
        self.key_id = hmac.new(self._key, b"key id", hashlib.sha256).hexdigest()[:16]

    def of(self, canonical_json: str) -> str:
        """The hex digest of one event's canonical JSON (`Event.model_dump_json()`)."""
        return hmac.new(self._key, canonical_json.encode(), hashlib.sha256).hexdigest()


@dataclass
class RetryPlan:
    """What to do with each event of a request, given the outcomes already recorded for its event_ids."""

    to_send: list[int] = field(default_factory=list)
    first_in_request: dict[str, int] = field(default_factory=dict)
    conflicts: list[tuple[int, str]] = field(default_factory=list)
    """(index, reason) of each event whose event_id is taken by other content."""


def plan_retries(ids: Sequence[str], digests: Sequence[str], known: Mapping[str, Outcome], key_id: str) -> RetryPlan:
    """Send each event_id once; answer a known one as a duplicate; refuse a known one with other content.

    A recorded outcome whose digest was made under another key (rotated) or before digests were keyed (no digest
    kept) cannot be compared: its event_id is answered as a duplicate, never written twice, as the gatekeeper
    would drop a second copy by event_id anyway."""
    plan = RetryPlan()
    for i, (event_id, digest) in enumerate(zip(ids, digests, strict=True)):
        earlier = known.get(event_id)
        if earlier is not None:
            comparable = earlier.payload_hmac is not None and earlier.digest_key_id == key_id
            if comparable and earlier.payload_hmac != digest:
                plan.conflicts.append((i, "already accepted with different content; a new event needs a new "
                                          "event_id"))
        elif event_id in plan.first_in_request:
            if digests[plan.first_in_request[event_id]] != digest:
                plan.conflicts.append((i, "used twice in this request for different events"))
        else:
            plan.first_in_request[event_id] = i
            plan.to_send.append(i)
    return plan
