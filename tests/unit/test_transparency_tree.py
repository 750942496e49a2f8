"""The incremental tree equals the reference RFC 6962 functions for every size, index and old size up to 70."""

from __future__ import annotations

import hashlib

import pytest

from transparency import merkle
from transparency.exceptions import ProofError
from transparency.tree import MerkleTree

LEAVES = [merkle.leaf_hash(hashlib.sha256(str(i).encode()).digest()) for i in range(70)]


def test_roots_equal_the_reference_for_every_size() -> None:
    tree = MerkleTree()
    assert tree.root() == merkle.EMPTY_ROOT
    for n, leaf in enumerate(LEAVES, start=1):
        assert tree.append(leaf) == n - 1
        assert tree.root() == merkle.root(LEAVES[:n])
    for n in range(len(LEAVES) + 1):
        assert tree.root(n) == merkle.root(LEAVES[:n])


def test_inclusion_proofs_equal_the_reference_and_verify() -> None:
    tree = MerkleTree(LEAVES)
    for size in range(1, len(LEAVES) + 1):
        root = tree.root(size)
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            assert proof == merkle.inclusion_proof(LEAVES[:size], index)
            merkle.verify_inclusion(LEAVES[index], index, size, proof, root)


def test_consistency_proofs_equal_the_reference_and_verify() -> None:
    tree = MerkleTree(LEAVES)
    for size in range(1, len(LEAVES) + 1):
        for old in range(1, size + 1):
            proof = tree.consistency_proof(old, size)
            assert proof == merkle.consistency_proof(LEAVES[:size], old)
            merkle.verify_consistency(old, size, tree.root(old), tree.root(size), proof)


def test_sizes_beyond_the_log_are_refused() -> None:
    tree = MerkleTree(LEAVES[:5])
    with pytest.raises(ProofError, match="holds 5 leaves"):
        tree.root(6)
    with pytest.raises(ProofError, match="leaf 5 is not in a tree of 5"):
        tree.inclusion_proof(5)
    with pytest.raises(ProofError, match="old size must be at least 1"):
        tree.consistency_proof(0)
