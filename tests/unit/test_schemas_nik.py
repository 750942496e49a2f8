"""The NIK's one home: token minting, the two validation contexts, masking and redaction for views."""

from __future__ import annotations

import pytest

from producers.simulator.traffic import nik_token
from schemas.nik import (
    NikContext,
    check_nik,
    is_masked_nik,
    is_nik_token,
    is_raw_nik,
    mask_nik,
    redact_niks,
    redact_value,
    tokenise_nik,
)

NIK = "3374015502900001"


def test_token_is_stable_keyed_and_shaped() -> None:
    token = tokenise_nik(b"key", NIK)
    assert token == tokenise_nik(b"key", NIK) != tokenise_nik(b"other", NIK)
    assert len(token) == 47 and token.startswith("nik:") and "=" not in token and NIK not in token
    assert is_nik_token(token) and not is_raw_nik(token)


def test_token_is_rfc_2104_hmac_sha256_for_every_key_in_turn() -> None:
    """The keyed states are kept per key: alternating keys, more of them than are kept, still mint each key's own."""
    import base64
    import hashlib
    import hmac

    keys = [f"key-{i}".encode() for i in range(6)]
    for key in keys + keys[::-1]:
        digest = hmac.new(key, NIK.encode(), hashlib.sha256).digest()
        assert tokenise_nik(key, NIK) == "nik:" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_there_is_no_default_key() -> None:
    with pytest.raises(ValueError, match="NIK HMAC key"):
        tokenise_nik(b"", NIK)


def test_the_simulator_predicts_tokens_with_the_same_function() -> None:
    assert nik_token("key", NIK) == tokenise_nik(b"key", NIK)
    assert nik_token(b"key", NIK) == tokenise_nik(b"key", NIK)


@pytest.mark.parametrize("value", [NIK, "0000000000000000"])
def test_ingress_takes_raw_and_canonical_refuses_it(value: str) -> None:
    assert check_nik(value, NikContext.INGRESS) == value
    with pytest.raises(ValueError) as info:
        check_nik(value, NikContext.CANONICAL)
    assert value not in str(info.value)


@pytest.mark.parametrize("value", [tokenise_nik(b"k", NIK), "nik:" + "_" * 43])
def test_canonical_takes_tokens_and_ingress_refuses_them(value: str) -> None:
    assert check_nik(value, NikContext.CANONICAL) == value
    with pytest.raises(ValueError) as info:
        check_nik(value, NikContext.INGRESS)
    assert value not in str(info.value)


@pytest.mark.parametrize("value", [f"nik:{NIK}", "nik:" + "A" * 42, "nik:" + "A" * 44, "nik:" + "A" * 42 + "=",
                                   NIK[:-1], NIK + "0", f"{NIK}\n", "", "nik:"])
def test_neither_context_takes_anything_else(value: str) -> None:
    for context in NikContext:
        with pytest.raises(ValueError):
            check_nik(value, context)


def test_mask_keeps_the_regency_code_only() -> None:
    assert mask_nik(NIK) == "3374************"
    assert is_masked_nik(mask_nik(NIK)) and mask_nik(mask_nik(NIK)) == mask_nik(NIK)  # masking twice: the same
    assert mask_nik(f"nik:{NIK}") == "nik:****************"
    assert mask_nik("33-74/0155") == "**-**/****"
    assert not any(c.isdigit() for c in mask_nik(tokenise_nik(b"k", NIK)).removeprefix("nik:"))


def test_redaction_masks_every_long_digit_run() -> None:
    assert redact_niks(f"regency_code: '{NIK}' is not one of") == "regency_code: '3374************' is not one of"
    assert redact_niks(f"a{NIK}b{NIK}0") == "a3374************b3374*************"
    assert redact_niks("offset 123456789012345 and 2025-03-03") == "offset 123456789012345 and 2025-03-03"
    assert redact_value({"k": [NIK, 3374015502900001, True, 7, {"n": f"x{NIK}"}]}) == {
        "k": ["3374************", "3374************", True, 7, {"n": "x3374************"}]}
