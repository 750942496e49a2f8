"""RFC 6962 hashing and proofs against the published test vectors (transparency-dev/merkle testonly data, used as
data), and every proof of every leaf and size up to 40 verifying while every altered one fails."""

from __future__ import annotations

import pytest

from transparency.exceptions import ProofError
from transparency.merkle import (EMPTY_ROOT, consistency_proof, inclusion_proof, leaf_hash, root, split,
                                 verify_consistency, verify_inclusion)

H = bytes.fromhex
LEAVES = [leaf_hash(H(x)) for x in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                    "606162636465666768696a6b6c6d6e6f")]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = {  # (index, size) -> published audit path
    (0, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (5, 8): ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
}
CONSISTENCY = {(2, 8): ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]}


def test_roots_are_the_published_ones() -> None:
    assert EMPTY_ROOT.hex() == ROOTS[0]
    for n in range(len(LEAVES) + 1):
        assert root(LEAVES[:n]).hex() == ROOTS[n], n


def test_the_split_is_the_largest_power_of_two_below_n_not_the_midpoint() -> None:
    assert [split(n) for n in (2, 3, 4, 5, 6, 7, 8, 9, 1000)] == [1, 2, 2, 4, 4, 4, 4, 8, 512]


def test_published_paths_and_proofs() -> None:
    for (index, size), path in INCLUSION.items():
        assert [p.hex() for p in inclusion_proof(LEAVES[:size], index)] == path
        verify_inclusion(LEAVES[index], index, size, [H(p) for p in path], H(ROOTS[size]))
    for (old, new), proof in CONSISTENCY.items():
        assert [p.hex() for p in consistency_proof(LEAVES[:new], old)] == proof
        verify_consistency(old, new, H(ROOTS[old]), H(ROOTS[new]), [H(p) for p in proof])


MANY = [leaf_hash(bytes([i, i * 7 % 256])) for i in range(41)]


@pytest.mark.parametrize("size", range(1, 41))
def test_every_inclusion_proof_verifies_and_no_altered_one_does(size: int) -> None:
    tree = MANY[:size]
    top = root(tree)
    for i in range(size):
        path = inclusion_proof(tree, i)
        verify_inclusion(tree[i], i, size, path, top)
        wrong = [(tree[i], (i + 1) % size, size, path, top) if size > 1 else None,
                 (leaf_hash(b"forged"), i, size, path, top),
                 (tree[i], i, size + 1, path, root(MANY[:size + 1])),
                 (tree[i], i, size, [*path, top], top),
                 (tree[i], i, size, path[:-1], top) if path else None,
                 (tree[i], i, size, [bytes(32)] + path[1:], top) if path else None]
        for case in filter(None, wrong):
            with pytest.raises(ProofError):
                verify_inclusion(*case)


@pytest.mark.parametrize("new", range(1, 41))
def test_every_consistency_proof_verifies_and_a_rewritten_log_is_caught(new: int) -> None:
    tree = MANY[:new]
    for old in range(1, new + 1):
        proof = consistency_proof(tree, old)
        verify_consistency(old, new, root(tree[:old]), root(tree), proof)
        rewritten = [*MANY[:old - 1], leaf_hash(b"edited"), *MANY[old:new]]
        with pytest.raises(ProofError):
            verify_consistency(old, new, root(rewritten[:old]), root(tree), proof)
        if old < new:
            with pytest.raises(ProofError):
                verify_consistency(old, new, root(tree[:old]), root(tree), proof[:-1])
            with pytest.raises(ProofError):
                verify_consistency(old, new, root(tree[:old]), root(tree), [])


def test_requests_outside_the_tree_are_refused() -> None:
    with pytest.raises(ProofError, match="leaf 8 is not in a tree of 8"):
        inclusion_proof(LEAVES, 8)
    with pytest.raises(ProofError, match="old size must be at least 1"):
        consistency_proof(LEAVES, 0)
    with pytest.raises(ProofError, match="a log only grows"):
        verify_consistency(5, 4, H(ROOTS[5]), H(ROOTS[4]), [])
