"""Signed checkpoints: the C2SP text and signature line, verification with the verifier key, and every alteration
(size, root, origin, signature, another key) refused."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from transparency.checkpoint import Checkpoint, key_hash, open_note, sign, verifier_key
from transparency.exceptions import NoteError
from transparency.merkle import leaf_hash, root

ORIGIN = "jateng.go.id/simpul/log"


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def test_the_note_is_the_c2sp_layout_and_opens_with_its_key(key: Ed25519PrivateKey) -> None:
    tree_root = root([leaf_hash(b"event-%d" % i) for i in range(5)])
    note = sign(Checkpoint(ORIGIN, 5, tree_root), "jateng-simpul", key)
    text, signature = note.split("\n\n")
    assert text == f"{ORIGIN}\n5\n{base64.b64encode(tree_root).decode()}"
    dash, name, blob = signature.rstrip("\n").split(" ")
    assert dash == "\u2014" and name == "jateng-simpul"
    raw = base64.b64decode(blob)
    public = key.public_key()
    assert raw[:4] == key_hash("jateng-simpul", public) and len(raw) == 4 + 64
    public.verify(raw[4:], (text + "\n").encode())  # the signature covers the text and its final newline
    vkey = verifier_key("jateng-simpul", public)
    name_, hash_hex, _ = vkey.split("+", 2)
    assert name_ == "jateng-simpul" and hash_hex == raw[:4].hex()
    pub_raw = base64.b64decode(vkey.split("+", 2)[2])[1:]
    assert raw[:4] == hashlib.sha256(b"jateng-simpul\n\x01" + pub_raw).digest()[:4]
    assert open_note(note, vkey) == Checkpoint(ORIGIN, 5, tree_root)


def test_every_alteration_is_refused(key: Ed25519PrivateKey) -> None:
    tree_root = root([leaf_hash(b"a"), leaf_hash(b"b")])
    note = sign(Checkpoint(ORIGIN, 2, tree_root), "jateng-simpul", key)
    vkey = verifier_key("jateng-simpul", key.public_key())
    other = verifier_key("jateng-simpul", Ed25519PrivateKey.generate().public_key())
    altered = [note.replace("\n2\n", "\n3\n", 1), note.replace(ORIGIN, ORIGIN + "2", 1),
               note.replace(base64.b64encode(tree_root).decode(), base64.b64encode(bytes(32)).decode())]
    for forged in altered:
        with pytest.raises(NoteError, match="does not verify"):
            open_note(forged, vkey)
    with pytest.raises(NoteError, match="no signature of jateng-simpul"):
        open_note(note, other)  # same name, another key: its hash differs
    with pytest.raises(NoteError, match="no blank line"):
        open_note(note.replace("\n\n", "\n"), vkey)
    with pytest.raises(NoteError, match="does not match its key"):
        open_note(note, vkey.replace(vkey.split("+", 2)[1], "00000000"))


def test_bad_checkpoints_are_never_signed(key: Ed25519PrivateKey) -> None:
    with pytest.raises(NoteError):
        sign(Checkpoint("two\nlines", 1, bytes(32)), "k", key)
    with pytest.raises(NoteError):
        sign(Checkpoint(ORIGIN, 1, bytes(31)), "k", key)
    with pytest.raises(NoteError, match="key name"):
        sign(Checkpoint(ORIGIN, 1, bytes(32)), "with space", key)


def test_a_key_whose_base64_holds_a_plus_still_verifies() -> None:
    while "+" not in verifier_key("k", (key := Ed25519PrivateKey.generate()).public_key()).split("+", 2)[2]:
        pass
    note = sign(Checkpoint(ORIGIN, 1, leaf_hash(b"x")), "k", key)
    assert open_note(note, verifier_key("k", key.public_key())).size == 1
