"""The receipt docs/contract.md shows regency developers is a real one: the gateway's answer model, a signature that
verifies with its verifier key and an inclusion proof that leads to its checkpoint's root."""

from __future__ import annotations

import pytest

from contract.markdown import RECEIPT_EXAMPLE
from producers.gateway.api import ReceiptOut
from transparency.checkpoint import open_note
from transparency.exceptions import ProofError
from transparency.merkle import verify_inclusion
from transparency.receipts import Receipt


def test_the_documented_receipt_is_a_gateway_answer_and_verifies() -> None:
    out = ReceiptOut.model_validate(RECEIPT_EXAMPLE)
    assert set(RECEIPT_EXAMPLE) == set(Receipt.model_fields) == set(ReceiptOut.model_fields)
    checkpoint = open_note(out.checkpoint, out.verifier_key)
    assert (checkpoint.origin, checkpoint.size) == (out.origin, out.tree_size)
    proof = [bytes.fromhex(h) for h in out.inclusion_proof]
    verify_inclusion(bytes.fromhex(out.leaf_hash), out.log_index, out.tree_size, proof, checkpoint.root_hash)
    with pytest.raises(ProofError):
        verify_inclusion(bytes.fromhex(out.leaf_hash), out.log_index + 1, out.tree_size, proof, checkpoint.root_hash)
