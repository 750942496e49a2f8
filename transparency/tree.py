"""An append-only Merkle tree that keeps every complete subtree's hash, so that appending, a root, an audit path
and a consistency proof each cost O(log² n) hashes instead of the O(n) of `transparency.merkle`'s reference
functions, which it equals for every size (tests/unit/test_transparency_tree.py).

Level h holds the hash of the complete subtree of leaves [i·2^h, (i+1)·2^h) at bytes [32i, 32i+32); RFC 6962
splits every tree at a power of two, so each left subtree of its recursion is one of these, and only right edges
are computed. Each level is one bytearray, 32 bytes a node and about 64 a leaf in all, where a list of `bytes`
objects took about 150 (the stage holds the whole log; its memory grows with it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from hashlib import sha256
from typing import TypeVar

from transparency.exceptions import ProofError
from transparency.merkle import EMPTY_ROOT, node_hash, split

T = TypeVar("T")
HASH_SIZE = 32  # SHA-256
NODE_PREFIX = b"\x01"  # RFC 6962's interior node (transparency.merkle.node_hash)


class MerkleTree:
    """The log's leaf hashes and their complete subtrees (about 64 bytes per leaf in memory)."""

    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        self.levels: list[bytearray] = [bytearray()]
        self._size = 0
        for leaf in leaves:
            self.append(leaf)

    def __len__(self) -> int:
        return self._size

    def _node(self, h: int, i: int) -> bytes:
        return bytes(self.levels[h][i * HASH_SIZE:(i + 1) * HASH_SIZE])

    def append(self, leaf: bytes) -> int:
        """Add one leaf hash; its index."""
        if len(leaf) != HASH_SIZE:
            raise ProofError(f"a leaf hash is {HASH_SIZE} bytes, not {len(leaf)}")
        index = self._size
        levels = self.levels
        levels[0] += leaf
        self._size += 1
        h, i = 0, index
        while i & 1:  # the leaf closes a complete subtree one level up: hash its two halves, adjacent here
            if h + 1 == len(levels):
                levels.append(bytearray())
            levels[h + 1] += sha256(NODE_PREFIX + levels[h][(i - 1) * HASH_SIZE:(i + 1) * HASH_SIZE]).digest()
            h, i = h + 1, i >> 1
        return index

    def leaf(self, index: int) -> bytes:
        if not 0 <= index < self._size:
            raise IndexError(f"leaf {index} of {self._size}")
        return self._node(0, index)

    def _hash(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]); `start` is always a multiple of the largest power of two that fits the range."""
        n = end - start
        if n & (n - 1) == 0:
            h = n.bit_length() - 1
            return self._node(h, start >> h)
        k = split(n)
        return node_hash(self._hash(start, start + k), self._hash(start + k, end))

    def root(self, size: int | None = None) -> bytes:
        """The root of the tree of the first `size` leaves (all by default)."""
        size = len(self) if size is None else size
        self._check_size(size)
        return EMPTY_ROOT if size == 0 else self._hash(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[size]), leaf first."""
        size = len(self) if size is None else size
        self._check_size(size)
        if not 0 <= index < size:
            raise ProofError(f"leaf {index} is not in a tree of {size} leaves")
        path: list[bytes] = []
        start, end = 0, size
        while end - start > 1:
            k = split(end - start)
            if index < start + k:
                path.append(self._hash(start + k, end))
                end = start + k
            else:
                path.append(self._hash(start, start + k))
                start += k
        return path[::-1]

    def inclusion_proofs(self, start: int, size: int) -> list[list[bytes]]:
        """The audit paths of leaves start..size-1 to the tree of `size`, each equal to `inclusion_proof(i, size)`,
        in one descent that computes each subtree hash on the way once instead of once per leaf (a checkpoint's
        receipts were ~40% of the transparency stage's CPU)."""
        return self._paths(start, size, lambda h: h)

    def inclusion_proofs_hex(self, start: int, size: int) -> list[list[str]]:
        """`inclusion_proofs` as hex text (what receipts carry), each node's hex taken once, not once per path."""
        return self._paths(start, size, bytes.hex)

    def _paths(self, start: int, size: int, node: Callable[[bytes], T]) -> list[list[T]]:
        out: list[list[T]] = []
        above: list[T] = []  # the siblings from the root down to the subtree being walked

        def walk(lo: int, hi: int) -> None:  # D[lo:hi] holds wanted leaves, up to its last one
            if hi - lo == 1:
                out.append(above[::-1])
                return
            mid = lo + split(hi - lo)
            if start < mid:
                above.append(node(self._hash(mid, hi)))
                walk(lo, mid)
                above.pop()
            above.append(node(self._hash(lo, mid)))
            walk(mid, hi)
            above.pop()

        if 0 <= start < size <= len(self):
            walk(0, size)
        return out

    def consistency_proof(self, old_size: int, size: int | None = None) -> list[bytes]:
        """PROOF(old_size, D[size])."""
        size = len(self) if size is None else size
        self._check_size(size)
        if not 0 < old_size <= size:
            raise ProofError(f"no consistency proof from size {old_size} to size {size}: the old size must be "
                             "at least 1 and at most the new size")
        proof: list[bytes] = []
        start, end, m, complete = 0, size, old_size, True
        while m != end - start:
            k = split(end - start)
            if m <= k:
                proof.append(self._hash(start + k, end))
                end = start + k
            else:
                proof.append(self._hash(start, start + k))
                start, m, complete = start + k, m - k, False
        if not complete:
            proof.append(self._hash(start, end))
        return proof[::-1]

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= len(self):
            raise ProofError(f"the log holds {len(self)} leaves; there is no tree of size {size}")
