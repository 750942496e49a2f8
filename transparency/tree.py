"""An append-only Merkle tree that keeps every complete subtree's hash, so that appending, a root, an audit path
and a consistency proof each cost O(log² n) hashes instead of the O(n) of `transparency.merkle`'s reference
functions, which it equals for every size (tests/unit/test_transparency_tree.py).

Level h holds the hash of the complete subtree of leaves [i·2^h, (i+1)·2^h) at bytes [32i, 32i+32); RFC 6962
splits every tree at a power of two, so each left subtree of its recursion is one of these, and only right edges
are computed. Each level is one bytearray, 32 bytes a node and about 64 a leaf in all, where a list of `bytes`
objects took about 150.

`forget(base)` drops every node that ends at or before leaf `base` except the frontier of `base` (the complete
subtrees that `base`'s binary digits name, one per level at most): roots, audit paths of leaves from `base` on and
appends need nothing else, because a left sibling that ends by `base` on the path of a leaf after it is exactly
such a frontier node. The transparency stage forgets up to each signed checkpoint, so its memory stays that of
one checkpoint's leaves, however long the log grows; proofs of older leaves come from a tree of the stored leaves.
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


def _first_held(base: int, h: int) -> int:
    """The first node index at level h a tree forgotten up to `base` holds: `base`'s frontier node at this level
    (if its binary digit h is 1), then every node after it."""
    return (base >> h) & ~1


class MerkleTree:
    """The log's leaf hashes and their complete subtrees (about 64 bytes per leaf in memory)."""

    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        self.levels: list[bytearray] = [bytearray()]
        self.cuts: list[int] = [0]  # per level, the index of its first node held (`forget` drops those before)
        self.held_from = 0  # the `base` of the last `forget`: leaves and proofs from here on are answered
        self._size = 0
        for leaf in leaves:
            self.append(leaf)

    def __len__(self) -> int:
        return self._size

    def _node(self, h: int, i: int) -> bytes:
        j = i - self.cuts[h]
        if j < 0:
            raise ProofError(f"this tree holds only what the leaves from {self.held_from} on need (node {i} at "
                             f"height {h} was forgotten); a tree of every stored leaf answers the rest")
        return bytes(self.levels[h][j * HASH_SIZE:(j + 1) * HASH_SIZE])

    @classmethod
    def resume(cls, size: int, frontier: bytes) -> MerkleTree:
        """The tree of `size` leaves forgotten up to `size`, from its `frontier()`: what a restarted stage needs."""
        digits = [h for h in range(size.bit_length()) if size >> h & 1]
        if len(frontier) != HASH_SIZE * len(digits):
            raise ProofError(f"a frontier of a tree of {size} leaves holds {len(digits)} hashes, not "
                             f"{len(frontier) / HASH_SIZE:g}")
        tree = cls()
        tree.levels = [bytearray() for _ in range(max(1, size.bit_length()))]
        tree.cuts = [_first_held(size, h) for h in range(len(tree.levels))]
        for n, h in enumerate(digits):
            tree.levels[h] += frontier[n * HASH_SIZE:(n + 1) * HASH_SIZE]
        tree._size = tree.held_from = size
        return tree

    def frontier(self) -> bytes:
        """The complete subtrees whose hashes `forget(len(self))` keeps, one per binary digit 1 of the size, lowest
        level first: with the size, all a tree needs to go on appending and proving (`resume`)."""
        size = len(self)
        return b"".join(self._node(h, (size >> h) - 1) for h in range(size.bit_length()) if size >> h & 1)

    def forget(self, base: int) -> None:
        """Drop what the leaves from `base` on never need (see the module docstring); `base` only moves forward."""
        if not self.held_from <= base <= self._size:
            raise ProofError(f"cannot forget up to leaf {base}: the tree holds {self._size} leaves and has "
                             f"forgotten up to {self.held_from}")
        for h, level in enumerate(self.levels):
            cut = _first_held(base, h)
            if cut > self.cuts[h]:
                self.levels[h] = level[(cut - self.cuts[h]) * HASH_SIZE:]
                self.cuts[h] = cut
        self.held_from = base

    def append(self, leaf: bytes) -> int:
        """Add one leaf hash; its index."""
        if len(leaf) != HASH_SIZE:
            raise ProofError(f"a leaf hash is {HASH_SIZE} bytes, not {len(leaf)}")
        index = self._size
        levels, cuts = self.levels, self.cuts
        levels[0] += leaf
        self._size += 1
        h, i = 0, index
        while i & 1:  # the leaf closes a complete subtree one level up: hash its two halves, adjacent here
            if h + 1 == len(levels):
                levels.append(bytearray())
                cuts.append(0)
            j = i - 1 - cuts[h]  # held: the left half is `held_from`'s frontier node or after it
            levels[h + 1] += sha256(NODE_PREFIX + levels[h][j * HASH_SIZE:(j + 2) * HASH_SIZE]).digest()
            h, i = h + 1, i >> 1
        return index

    def leaf(self, index: int) -> bytes:
        if not self.held_from <= index < self._size:
            raise IndexError(f"leaf {index} of {self._size}" + (f" (leaves before {self.held_from} are forgotten)"
                                                                 if 0 <= index < self.held_from else ""))
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
