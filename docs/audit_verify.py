#!/usr/bin/env python3
"""Check a Simpul transparency-log proof or receipt with the province's public key alone.

Needs Python 3.9+ and the `cryptography` package, nothing of Simpul:

    python3 audit_verify.py --key 'jatengprov.go.id/simpul/jateng+1a2b3c4d+AQ...' proof.json [--event event.json]

`proof.json` is the output of `simpul audit prove EVENT_ID --json`, or a receipt from the gateway
(`GET /v1/receipts/{event_id}`) or the regency's receipts topic. `--key` is the verifier key the province publishes
(on its transparency site and in `simpul audit key`); the key inside the file is NOT trusted. `--event` is the
event as the province stores it (JSON, NIK as its token); its hash must be the proof's leaf.

It checks (RFC 9162 section 2.1.3.2 and 2.1.4.2, C2SP signed-note and tlog-checkpoint):
  1. the checkpoint note carries a valid Ed25519 signature by --key;
  2. the audit path leads from the leaf hash at its index to the checkpoint's root;
  3. if the file holds a consistency proof, the older checkpoint is signed by --key too and the newer tree extends it.
Exit code 0 and "OK ..." when all hold; 1 and the reason otherwise.
"""

import argparse
import base64
import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


class Invalid(Exception):
    pass


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def open_note(note, vkey):
    """(origin, size, root) of a signed checkpoint note, once its signature by `vkey` verifies."""
    name, key_hash_hex, key_b64 = vkey.split("+", 2)
    raw = base64.b64decode(key_b64)
    if len(raw) != 33 or raw[0] != 1:
        raise Invalid("the verifier key is not an Ed25519 key")
    public = Ed25519PublicKey.from_public_bytes(raw[1:])
    key_hash = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    if key_hash.hex() != key_hash_hex:
        raise Invalid("the verifier key's hash does not match its key")
    text, sep, signatures = note.partition("\n\n")
    if not sep:
        raise Invalid("not a signed note")
    text += "\n"
    for line in signatures.rstrip("\n").split("\n"):
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != "\u2014" or parts[1] != name:
            continue
        blob = base64.b64decode(parts[2])
        if blob[:4] != key_hash:
            continue
        try:
            public.verify(blob[4:], text.encode())
        except InvalidSignature:
            raise Invalid("the checkpoint's signature does not verify: the note was altered") from None
        lines = text.split("\n")
        if lines[0] != name:
            raise Invalid(f"the checkpoint is of log {lines[0]!r}, the key of {name!r}")
        return lines[0], int(lines[1]), base64.b64decode(lines[2])
    raise Invalid("the checkpoint carries no signature by this key")


def verify_inclusion(leaf, index, size, proof, root):
    if not 0 <= index < size:
        raise Invalid(f"index {index} is outside a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise Invalid("the inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or r != root:
        raise Invalid(f"the leaf is not at index {index} of the signed tree of size {size}")


def verify_consistency(old_size, new_size, old_root, new_root, proof):
    if not 0 < old_size <= new_size:
        raise Invalid("a log only grows")
    if old_size == new_size:
        if proof or old_root != new_root:
            raise Invalid("two different trees of one size: the log was rewritten")
        return
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    if not path:
        raise Invalid("an empty consistency proof")
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise Invalid("the consistency proof is too long")
        if fn & 1 or fn == sn:
            fr, sr = node(c, fr), node(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or fr != old_root or sr != new_root:
        raise Invalid(f"the tree of size {new_size} does not extend the tree of size {old_size}: the log was rewritten")


def event_leaf(event):
    data = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    return hashlib.sha256(b"\x00simpul/event/v1\n" + data).digest()


def check(doc, vkey, event=None):
    origin, size, root = open_note(doc["checkpoint"], vkey)
    if size != doc["tree_size"]:
        raise Invalid(f"the proof is for size {doc['tree_size']}, the signed checkpoint is of size {size}")
    leaf = bytes.fromhex(doc["leaf_hash"])
    if event is not None and event_leaf(event) != leaf:
        raise Invalid("the event does not hash to the proof's leaf: it is not the event the province logged")
    verify_inclusion(leaf, doc["log_index"], size, [bytes.fromhex(h) for h in doc["inclusion_proof"]], root)
    said = f"OK: entry {doc.get('event_id') or doc.get('ref_id')} is leaf {doc['log_index']} of {origin}, size {size}"
    if doc.get("consistency"):
        c = doc["consistency"]
        _, old_size, old_root = open_note(c["old_checkpoint"], vkey)
        verify_consistency(old_size, size, old_root, root, [bytes.fromhex(h) for h in c["proof"]])
        said += f"; it extends the checkpoint of size {old_size}"
    return said


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--key", required=True, help="the province's verifier key (name+hash+base64)")
    parser.add_argument("--event", help="the event JSON, to check that it is the logged leaf")
    parser.add_argument("proof", help="proof or receipt JSON file ('-' for stdin)")
    args = parser.parse_args(argv)
    text = sys.stdin.read() if args.proof == "-" else open(args.proof, encoding="utf-8").read()
    event = json.load(open(args.event, encoding="utf-8")) if args.event else None
    try:
        print(check(json.loads(text), args.key, event))
    except (Invalid, KeyError, ValueError) as exc:
        print(f"FAILED: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
