"""Signed checkpoints in the C2SP formats (c2sp.org/tlog-checkpoint, c2sp.org/signed-note), Ed25519.

A checkpoint is three lines: the log's origin (a name unique to this log), the tree size in decimal, and the root
hash in standard base64. The signed note appends a blank line and one signature line per signer,
`— <key name> <base64(key hash || signature)>`, where the key hash is the first four bytes of
SHA-256(key name || "\\n" || 0x01 || public key) and the signature covers the note text, final newline included.
These are the formats of Go's checksum database and Sigstore's logs, so their verifiers read ours.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from transparency.exceptions import NoteError
from transparency.merkle import HASH_SIZE

ED25519 = 0x01  # the signature type byte of c2sp.org/signed-note
DASH = "\u2014"


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: (origin, size, root hash), and optional extension lines (ours: `time <RFC 3339 UTC>`), all
    covered by the signature."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        if not self.origin or "\n" in self.origin or self.size < 0 or len(self.root_hash) != HASH_SIZE:
            raise NoteError(f"not a checkpoint: origin {self.origin!r}, size {self.size}, "
                            f"{len(self.root_hash)}-byte root hash")
        if any(not line or "\n" in line for line in self.extensions):
            raise NoteError("a checkpoint extension is one non-empty line")
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode(), *self.extensions]
        return "\n".join(lines) + "\n"


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_hash(name: str, public: Ed25519PublicKey) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + _raw(public)).digest()[:4]


def verifier_key(name: str, public: Ed25519PublicKey) -> str:
    """The verifier key string a regency or an auditor is given: `<name>+<key hash hex>+<base64(type || key)>`."""
    return f"{name}+{key_hash(name, public).hex()}+{base64.b64encode(bytes([ED25519]) + _raw(public)).decode()}"


def sign(checkpoint: Checkpoint, name: str, private: Ed25519PrivateKey) -> str:
    """The signed note of `checkpoint`, signed by key `name`."""
    if not name or any(c in name for c in " +\n"):
        raise NoteError(f"key name {name!r}: it must be non-empty without spaces, '+' or newlines")
    text = checkpoint.text()
    signature = key_hash(name, private.public_key()) + private.sign(text.encode())
    return f"{text}\n{DASH} {name} {base64.b64encode(signature).decode()}\n"


def parse_verifier_key(vkey: str) -> tuple[str, bytes, Ed25519PublicKey]:
    try:
        name, hash_hex, key_b64 = vkey.split("+", 2)  # base64 may hold "+" too
        raw = base64.b64decode(key_b64, validate=True)
    except ValueError:
        raise NoteError(f"not a verifier key (name+hash+key): {vkey[:60]!r}") from None
    if len(raw) != 33 or raw[0] != ED25519:
        raise NoteError(f"verifier key {name!r} is not an Ed25519 key")
    public = Ed25519PublicKey.from_public_bytes(raw[1:])
    if key_hash(name, public).hex() != hash_hex:
        raise NoteError(f"verifier key {name!r}: its key hash {hash_hex} does not match its key")
    return name, bytes.fromhex(hash_hex), public


def open_note(note: str, vkey: str) -> Checkpoint:
    """The checkpoint of a signed note, once a signature by `vkey` verifies; `NoteError` saying why not."""
    name, hash_, public = parse_verifier_key(vkey)
    text, sep, signatures = note.partition("\n\n")
    if not sep or not signatures.endswith("\n"):
        raise NoteError("not a signed note: no blank line between the text and its signatures")
    text += "\n"
    for line in signatures[:-1].split("\n"):
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != DASH or parts[1] != name:
            continue
        try:
            blob = base64.b64decode(parts[2], validate=True)
        except ValueError:
            continue
        if blob[:4] != hash_:
            continue
        try:
            public.verify(blob[4:], text.encode())
        except InvalidSignature:
            raise NoteError(f"the signature of {name} on this checkpoint does not verify: the note was altered") \
                from None
        return _parse(text)
    raise NoteError(f"the note carries no signature of {name}")


def _parse(text: str) -> Checkpoint:
    lines = text.split("\n")
    if len(lines) < 4:
        raise NoteError("a checkpoint has an origin, a size and a root hash line")
    origin, size, root_b64 = lines[0], lines[1], lines[2]
    if not size.isdigit() or (size != "0" and size.startswith("0")):
        raise NoteError(f"checkpoint size {size!r} is not a decimal number")
    try:
        root_hash = base64.b64decode(root_b64, validate=True)
    except ValueError:
        raise NoteError("checkpoint root hash is not base64") from None
    if len(root_hash) != HASH_SIZE:
        raise NoteError(f"checkpoint root hash has {len(root_hash)} bytes, not {HASH_SIZE}")
    return Checkpoint(origin, int(size), root_hash, tuple(lines[3:-1]))
