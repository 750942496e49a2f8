"""The DLQ envelope: AES-256-GCM round trip, bound to its source, refusing tampering and unknown keys."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from schemas.dlq_seal import (
    DIGEST_LABEL,
    KEY_ID_SIZE,
    NONCE_SIZE,
    PREFIX_SIZE,
    SEAL_LABEL,
    VERSION_1,
    DlqSeal,
    Original,
    derive,
    is_envelope,
)
from schemas.exceptions import SealError

KEY = "a" * 10 + "current-dlq-key-0123456789abcdefghi"
OLD = "b" * 10 + "retired-dlq-key-0123456789abcdefghi"
SOURCE = "jateng.ingress.3374:2:1045"
NIK = b"3374015502900001"
ORIGINAL = Original(NIK, b"\x00\x00\x00\x00\x07" + NIK + b"body", (("x-citizen", NIK), ("x-none", None), (NIK.decode(), b"")))


def test_round_trip_and_layout() -> None:
    seal = DlqSeal(KEY)
    envelope = seal.seal(ORIGINAL, SOURCE)
    assert envelope[0] == VERSION_1 and is_envelope(envelope)
    assert envelope[1:PREFIX_SIZE] == hashlib.sha256(derive(KEY, SEAL_LABEL)).digest()[:KEY_ID_SIZE]
    assert seal.key_id == envelope[1:PREFIX_SIZE].hex()
    assert NIK not in envelope and b"x-citizen" not in envelope
    assert seal.open(envelope, SOURCE) == ORIGINAL
    assert seal.seal(ORIGINAL, SOURCE)[PREFIX_SIZE:PREFIX_SIZE + NONCE_SIZE] != envelope[PREFIX_SIZE:PREFIX_SIZE + NONCE_SIZE]


@pytest.mark.parametrize("original", [Original(None, None), Original(b"", b""), Original(None, b"x" * 100_000)])
def test_empty_and_large_originals(original: Original) -> None:
    seal = DlqSeal(KEY)
    assert seal.open(seal.seal(original, SOURCE), SOURCE) == original


@pytest.mark.parametrize("at", [0, 1, PREFIX_SIZE, PREFIX_SIZE + NONCE_SIZE, -1])
def test_any_altered_byte_refuses_to_open(at: int) -> None:
    seal = DlqSeal(KEY)
    envelope = bytearray(seal.seal(ORIGINAL, SOURCE))
    envelope[at] ^= 0x01
    with pytest.raises(SealError):
        seal.open(bytes(envelope), SOURCE)


def test_an_envelope_moved_to_another_source_refuses_to_open() -> None:
    seal = DlqSeal(KEY)
    envelope = seal.seal(ORIGINAL, SOURCE)
    with pytest.raises(SealError, match="does not authenticate"):
        seal.open(envelope, "jateng.ingress.3301:2:1045")
    with pytest.raises(SealError, match="does not authenticate"):
        seal.open(envelope, "jateng.ingress.3374:2:1046")


def test_a_truncated_or_foreign_value_is_not_an_envelope() -> None:
    seal = DlqSeal(KEY)
    envelope = seal.seal(ORIGINAL, SOURCE)
    for value in (envelope[:PREFIX_SIZE + NONCE_SIZE + 3], b"", b"\x00\x00\x00\x00\x07avro", b"garbage"):
        with pytest.raises(SealError):
            seal.open(value, SOURCE)


def test_wrong_key_refuses_naming_the_key_id() -> None:
    envelope = DlqSeal(OLD).seal(ORIGINAL, SOURCE)
    with pytest.raises(SealError, match=f"key id {DlqSeal(OLD).key_id}.*SIMPUL_DLQ_KEYS_RETIRED"):
        DlqSeal(KEY).open(envelope, SOURCE)


def test_a_retired_key_still_opens_what_it_sealed() -> None:
    old_envelope = DlqSeal(OLD).seal(ORIGINAL, SOURCE)
    rotated = DlqSeal(KEY, retired=[OLD, ""])
    assert rotated.open(old_envelope, SOURCE) == ORIGINAL
    assert rotated.seal(ORIGINAL, SOURCE)[1:PREFIX_SIZE].hex() == DlqSeal(KEY).key_id  # new seals: the current key


def test_an_empty_key_is_refused() -> None:
    with pytest.raises(SealError, match="SIMPUL_DLQ_KEY"):
        DlqSeal("")


def test_digest_is_a_keyed_hmac() -> None:
    seal = DlqSeal(KEY)
    assert seal.digest(NIK) == hmac.new(derive(KEY, DIGEST_LABEL), NIK, hashlib.sha256).hexdigest()
    assert seal.digest(NIK) != hashlib.sha256(NIK).hexdigest() and seal.digest(NIK) != DlqSeal(OLD).digest(NIK)
    assert derive(KEY, DIGEST_LABEL) != derive(KEY, SEAL_LABEL)
