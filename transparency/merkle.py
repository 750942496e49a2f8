"""RFC 6962 (section 2.1) / RFC 9162 (section 2.1) Merkle tree hashing, audit paths and consistency proofs.

Written once against the published test vectors (tests/unit/test_transparency_merkle.py): leaves hash as
SHA-256(0x00 || data), interior nodes as SHA-256(0x01 || left || right), and a tree of n > 1 leaves splits at the
largest power of two below n, so a root, a path or a proof made here verifies in any other RFC 6962 log client.
The functions take the leaf hashes of the tree (the log's store keeps them); verification needs none of them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from transparency.exceptions import ProofError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """The largest power of two smaller than n (n > 1): where RFC 6962 splits a tree of n leaves."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of the leaf hashes `leaves`."""
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    k = split(n)
    return node_hash(root(leaves[:k]), root(leaves[k:]))


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(index, D[n]): the audit path of leaf `index` in the tree of `leaves`."""
    if not 0 <= index < len(leaves):
        raise ProofError(f"leaf {index} is not in a tree of {len(leaves)} leaves")
    if len(leaves) == 1:
        return []
    k = split(len(leaves))
    if index < k:
        return [*inclusion_proof(leaves[:k], index), root(leaves[k:])]
    return [*inclusion_proof(leaves[k:], index - k), root(leaves[:k])]


def consistency_proof(leaves: Sequence[bytes], old_size: int) -> list[bytes]:
    """PROOF(m, D[n]): that the tree of the first `old_size` leaves is a prefix of the tree of `leaves`."""
    if not 0 < old_size <= len(leaves):
        raise ProofError(f"no consistency proof from size {old_size} to size {len(leaves)}: the old size must be "
                         "at least 1 and at most the new size")
    return _subproof(old_size, leaves, complete=True)


def _subproof(m: int, leaves: Sequence[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [root(leaves)]
    k = split(n)
    if m <= k:
        return [*_subproof(m, leaves[:k], complete), root(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], False), root(leaves[:k])]


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], expected_root: bytes) -> None:
    """Raise `ProofError` unless `proof` shows leaf hash `leaf` at `index` in the tree of `size` with
    `expected_root` (RFC 9162, 2.1.3.2)."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError(f"the inclusion proof of leaf {index} in size {size} has too many hashes")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError(f"the inclusion proof of leaf {index} in size {size} has too few hashes")
    if r != expected_root:
        raise ProofError(f"leaf {index} is not in the tree of size {size} with root {expected_root.hex()}")


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> None:
    """Raise `ProofError` unless `proof` shows the tree (`old_size`, `old_root`) is a prefix of the tree
    (`new_size`, `new_root`) (RFC 9162, 2.1.4.2): nothing the log once held was changed or removed."""
    if not 0 < old_size <= new_size:
        raise ProofError(f"sizes {old_size} -> {new_size}: a log only grows, from at least one leaf")
    if old_size == new_size:
        if proof:
            raise ProofError("a proof between equal sizes must be empty")
        if old_root != new_root:
            raise ProofError(f"two different roots for size {old_size}: the log was rewritten")
        return
    if not proof:
        raise ProofError("an empty consistency proof between different sizes")
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is itself a node of the new tree
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError(f"the consistency proof {old_size} -> {new_size} has too many hashes")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError(f"the consistency proof {old_size} -> {new_size} has too few hashes")
    if fr != old_root or sr != new_root:
        raise ProofError(f"the tree of size {new_size} does not extend the tree of size {old_size}: the log was "
                         "rewritten")
