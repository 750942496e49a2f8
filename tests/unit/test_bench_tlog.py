"""The transparency log's cost in the bench: the stage's batched audit paths equal the tree's one-by-one paths."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/ is not an installed package

from transparency.exceptions import ProofError  # noqa: E402
from transparency.merkle import leaf_hash, verify_inclusion  # noqa: E402
from transparency.stage import inclusion_proofs  # noqa: E402
from transparency.tree import MerkleTree  # noqa: E402


def _tree(n: int) -> MerkleTree:
    return MerkleTree(leaf_hash(hashlib.sha256(str(i).encode()).digest()) for i in range(n))


def test_batched_audit_paths_equal_the_trees_own_for_every_start_and_size() -> None:
    tree = _tree(70)
    for size in range(1, 71):
        for start in range(size):
            assert inclusion_proofs(tree, start, size) == [tree.inclusion_proof(i, size) for i in range(start, size)]


def test_batched_audit_paths_on_a_larger_tree_verify() -> None:
    tree = _tree(5000)
    proofs = inclusion_proofs(tree, 1234, 4321)
    assert len(proofs) == 4321 - 1234
    assert proofs[0] == tree.inclusion_proof(1234, 4321) and proofs[-1] == tree.inclusion_proof(4320, 4321)
    root = tree.root(4321)
    verify_inclusion(tree.leaf(2000), 2000, 4321, proofs[2000 - 1234], root)  # raises when it does not verify
    with pytest.raises(ProofError):
        verify_inclusion(tree.leaf(2000), 2000, 4321, proofs[2001 - 1234], root)


def test_no_paths_for_an_empty_or_impossible_range() -> None:
    tree = _tree(8)
    assert inclusion_proofs(tree, 8, 8) == []
    assert inclusion_proofs(tree, 0, 9) == []
