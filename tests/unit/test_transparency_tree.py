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


def test_a_forgetting_tree_answers_from_its_base_as_the_reference_does() -> None:
    """Forgotten up to any `base`, then grown (forgetting again on the way, as the stage does at each checkpoint):
    roots, appends, batch and single audit paths of the leaves from `base` on equal the reference's."""
    for base in range(len(LEAVES) + 1):
        tree = MerkleTree(LEAVES[:base])
        tree.forget(base)
        for n in range(base, len(LEAVES)):
            tree.append(LEAVES[n])
            size = n + 1
            assert tree.root() == merkle.root(LEAVES[:size])
            paths = tree.inclusion_proofs(tree.held_from, size)
            for index in range(tree.held_from, size):
                assert paths[index - tree.held_from] == merkle.inclusion_proof(LEAVES[:size], index)
                assert tree.leaf(index) == LEAVES[index]
            assert tree.inclusion_proof(size - 1) == paths[-1]
            if size % 7 == 0:  # a checkpoint: forget up to it
                tree.forget(size)


def test_a_forgetting_tree_holds_its_frontier_and_the_leaves_after_it() -> None:
    tree = MerkleTree()
    for n, leaf in enumerate(LEAVES * 30, start=1):  # 2,100 leaves
        tree.append(leaf)
        if n % 100 == 0:
            tree.forget(n)
            held = sum(len(level) for level in tree.levels) // 32
            assert held <= n.bit_length(), (n, held)  # at most one frontier node per level


def test_what_was_forgotten_is_refused_by_name() -> None:
    tree = MerkleTree(LEAVES[:40])
    tree.forget(33)
    with pytest.raises(IndexError, match="leaves before 33 are forgotten"):
        tree.leaf(5)
    with pytest.raises(ProofError, match="holds only what the leaves from 33 on need"):
        tree.inclusion_proof(3)
    with pytest.raises(ProofError, match="cannot forget up to leaf 20"):
        tree.forget(20)
    with pytest.raises(ProofError, match="cannot forget up to leaf 41"):
        tree.forget(41)


def test_a_tree_resumed_from_its_frontier_is_the_forgotten_tree() -> None:
    for size in range(len(LEAVES)):
        tree = MerkleTree(LEAVES[:size])
        frontier = tree.frontier()
        tree.forget(size)
        resumed = MerkleTree.resume(size, frontier)
        assert (resumed.levels, resumed.cuts, len(resumed), resumed.held_from) == (
            tree.levels, tree.cuts, len(tree), tree.held_from)
        assert resumed.root() == merkle.root(LEAVES[:size])
        for leaf in LEAVES[size:size + 9]:
            resumed.append(leaf)
        assert resumed.root() == merkle.root(LEAVES[:size + 9])
        assert resumed.inclusion_proofs(size, len(resumed)) == [
            merkle.inclusion_proof(LEAVES[:len(resumed)], i) for i in range(size, len(resumed))]
    with pytest.raises(ProofError, match="holds 2 hashes, not 1"):
        MerkleTree.resume(5, LEAVES[0])
