"""The DLQ's sealed envelope: a rejected record's original key, value and headers under AES-256-GCM.

A record is rejected with whatever its sender put in it, raw NIKs included (in the value, the key or a header),
and the DLQ keeps it for 30 days. Ops need the original to fix and replay it, not to read it in the clear: the
gatekeeper seals it, and only the DLQ tools open it (the view masks NIK fields; replay writes the bytes back to
the record's own ingress topic). The reason headers the gatekeeper adds stay readable beside the envelope.

Envelope (the value of a DLQ record), version 1:

    1 byte    0xD1: magic and version
    8 bytes   key id: the first 8 bytes of SHA-256 of the derived AES key (current or retired: which one sealed it)
    12 bytes  nonce, random
    the rest  AES-256-GCM ciphertext of the Avro-encoded original (key, value, headers), 16-byte tag included

The associated data is the envelope's first 9 bytes and the source `topic:partition:offset` the record was read
from: an envelope copied onto another DLQ record, or a source header changed, no longer opens.

Keys are derived from the installation's `dlq_key` secret with HKDF-SHA256 (one label per purpose), so the
secret itself never touches a record; secrets retired by `simpul secrets rotate dlq_key` still open what they
sealed. `digest` is an HMAC-SHA256 under another derived key, for audit records that must show whether bytes
changed without an unkeyed hash of NIK-bearing bytes (which a guessed NIK would confirm).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
from collections.abc import Iterable
from dataclasses import dataclass

import fastavro
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from schemas.exceptions import SealError

VERSION_1 = 0xD1
KEY_ID_SIZE = 8
NONCE_SIZE = 12
TAG_SIZE = 16
PREFIX_SIZE = 1 + KEY_ID_SIZE
SEAL_LABEL = b"simpul-dlq-seal v1"
DIGEST_LABEL = b"simpul-dlq-digest"

_ORIGINAL = fastavro.parse_schema({
    "type": "record", "name": "DlqOriginal", "namespace": "simpul.internal",
    "doc": "A rejected record as it was read from its ingress topic.",
    "fields": [
        {"name": "key", "type": ["null", "bytes"]},
        {"name": "value", "type": ["null", "bytes"]},
        {"name": "headers", "type": {"type": "array", "items": {
            "type": "record", "name": "DlqOriginalHeader",
            "fields": [{"name": "name", "type": "string"}, {"name": "value", "type": ["null", "bytes"]}]}}},
    ],
})


@dataclass(frozen=True)
class Original:
    """What the gatekeeper read: the record's key, value and headers, exactly."""

    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...] = ()

    def to_bytes(self) -> bytes:
        out = io.BytesIO()
        fastavro.schemaless_writer(out, _ORIGINAL, {
            "key": self.key, "value": self.value,
            "headers": [{"name": name, "value": value} for name, value in self.headers]})
        return out.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Original:
        datum = fastavro.schemaless_reader(io.BytesIO(data), _ORIGINAL, None)
        return cls(datum["key"], datum["value"],  # type: ignore[index,call-overload]
                   tuple((h["name"], h["value"]) for h in datum["headers"]))  # type: ignore[index]


def derive(secret: str, label: bytes) -> bytes:
    """A 32-byte key for one purpose (`label`) from an installation secret (HKDF-SHA256)."""
    if not secret:
        raise SealError("the DLQ key is empty; set SIMPUL_DLQ_KEY or run `simpul secrets show` to generate it")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(secret.encode("utf-8"))


def key_id_of(aes_key: bytes) -> bytes:
    """The envelope's key id of a derived AES key: the first 8 bytes of its SHA-256."""
    return hashlib.sha256(aes_key).digest()[:KEY_ID_SIZE]


def is_envelope(data: bytes | None) -> bool:
    """Whether `data` is shaped like a version-1 envelope (it may still fail to open)."""
    return bool(data) and data[0] == VERSION_1 and len(data) >= PREFIX_SIZE + NONCE_SIZE + TAG_SIZE  # type: ignore[index]


def associated_data(prefix: bytes, source: str) -> bytes:
    return prefix + source.encode("utf-8")


class DlqSeal:
    """Seals with the current DLQ key; opens with the current or any retired one. No I/O."""

    def __init__(self, key: str, retired: Iterable[str] = ()) -> None:
        current = derive(key, SEAL_LABEL)
        self._key_id = key_id_of(current)
        self._sealer = AESGCM(current)
        self._openers: dict[bytes, AESGCM] = {self._key_id: self._sealer}
        for old in retired:
            if old:
                derived = derive(old, SEAL_LABEL)
                self._openers.setdefault(key_id_of(derived), AESGCM(derived))
        self._digest_key = derive(key, DIGEST_LABEL)

    @property
    def key_id(self) -> str:
        """The current key's id (hex), as written into every envelope it seals."""
        return self._key_id.hex()

    def seal(self, original: Original, source: str) -> bytes:
        """The envelope of `original`, bound to `source` (`topic:partition:offset`)."""
        prefix = bytes([VERSION_1]) + self._key_id
        nonce = os.urandom(NONCE_SIZE)
        return prefix + nonce + self._sealer.encrypt(nonce, original.to_bytes(), associated_data(prefix, source))

    def open(self, envelope: bytes, source: str) -> Original:
        """The original sealed in `envelope` for `source`; `SealError` saying why it does not open."""
        if not is_envelope(envelope):
            raise SealError(f"the DLQ record from {source} is not a sealed envelope (version byte "
                            f"{envelope[:1].hex() or 'missing'}, expected {VERSION_1:02x}); it was not written by "
                            "this gatekeeper and cannot be opened")
        prefix, key_id = envelope[:PREFIX_SIZE], envelope[1:PREFIX_SIZE]
        opener = self._openers.get(key_id)
        if opener is None:
            raise SealError(f"the DLQ record from {source} was sealed with key id {key_id.hex()}, which is neither "
                            f"the current DLQ key ({self.key_id}) nor a retired one; add the key that sealed it to "
                            "SIMPUL_DLQ_KEYS_RETIRED")
        nonce, body = envelope[PREFIX_SIZE:PREFIX_SIZE + NONCE_SIZE], envelope[PREFIX_SIZE + NONCE_SIZE:]
        try:
            plain = opener.decrypt(nonce, body, associated_data(prefix, source))
        except InvalidTag:
            raise SealError(f"the DLQ record from {source} does not authenticate: its envelope was altered, or it "
                            "was sealed for another source record") from None
        try:
            return Original.from_bytes(plain)
        except Exception as exc:  # authenticated, yet not our layout: a future version sealed with this key
            raise SealError(f"the DLQ record from {source} opened but its content is not a version-1 original "
                            f"({type(exc).__name__})") from None

    def digest(self, data: bytes) -> str:
        """HMAC-SHA256 (hex) of `data` under the DLQ digest key: equal bytes, equal digests; nothing to guess."""
        return hmac.new(self._digest_key, data, hashlib.sha256).hexdigest()
