"""Node IDs and compact ranges: the right edge of a growing RFC 6962 tree.

Owns the addressing of tree nodes (:class:`NodeID`), the decomposition of a leaf range into
perfect subtrees (:func:`range_nodes`), and :class:`CompactRange`, which the log writer keeps to
append leaves and compute roots in O(log n) without reading the tree back. A port of
transparency-dev/merkle's ``compact`` package, restricted to ranges that start at leaf 0. Pure
computation: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Self

from provenance.merkle.hashing import EMPTY_ROOT, HASH_SIZE, hash_children


@dataclass(frozen=True, slots=True, order=True)
class NodeID:
    """The node ``index`` places from the left on ``level`` (0 = leaves), over ``coverage()``."""

    level: int
    index: int

    def parent(self) -> NodeID:
        """Return the node directly above this one."""
        return NodeID(self.level + 1, self.index >> 1)

    def sibling(self) -> NodeID:
        """Return the other child of this node's parent."""
        return NodeID(self.level, self.index ^ 1)

    def coverage(self) -> tuple[int, int]:
        """Return the [begin, end) range of leaves under this node."""
        return self.index << self.level, (self.index + 1) << self.level


def _decompose(begin: int, end: int) -> tuple[int, int]:
    """Split [begin, end) into perfect subtrees, as two bitmasks of their sizes (Go's Decompose).

    Bits of ``left``, from low to high, are the sizes along the left border; bits of ``right``, from
    high to low, those along the right border. Requires 0 <= begin <= end.
    """
    if begin == 0:
        return 0, end
    xbegin = begin - 1
    # Only nodes strictly below the point where the paths to leaves begin-1 and end diverge are in
    # the range: on the left those right of the path to begin-1 (its zero bits), on the right those
    # left of the path to end (its one bits).
    mask = (1 << ((xbegin ^ end).bit_length() - 1)) - 1
    return ~xbegin & mask, end & mask


def range_nodes(begin: int, end: int) -> list[NodeID]:
    """Return the minimal list of perfect subtrees covering leaves [begin, end), left to right.

    Requires 0 <= begin <= end.
    """
    if not 0 <= begin <= end:
        raise ValueError(f"invalid range [{begin}, {end})")
    left, right = _decompose(begin, end)
    ids: list[NodeID] = []
    pos = begin
    while left:  # Left border: lower levels first.
        level = (left & -left).bit_length() - 1
        ids.append(NodeID(level, pos >> level))
        pos += 1 << level
        left ^= 1 << level
    while right:  # Right border: upper levels first.
        level = right.bit_length() - 1
        ids.append(NodeID(level, pos >> level))
        pos += 1 << level
        right ^= 1 << level
    return ids


def _check_hash(name: str, value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise ValueError(f"{name} is {len(value)} bytes, want {HASH_SIZE}")


def root_from_range(size: int, hashes: Sequence[bytes]) -> bytes:
    """Return the RFC 6962 root of the tree of ``size`` leaves whose right edge is ``hashes``.

    ``hashes`` are the roots of the perfect subtrees covering [0, size), largest first; there must
    be exactly popcount(size) of them. The empty tree's root is SHA-256 of the empty string.
    """
    if size < 0 or len(hashes) != size.bit_count():
        raise ValueError(f"size {size} needs {max(size, 0).bit_count()} hashes, got {len(hashes)}")
    if not hashes:
        return EMPTY_ROOT
    # The subtrees are nested to the right: fold from the smallest up.
    root = hashes[-1]
    for left in reversed(hashes[:-1]):
        root = hash_children(left, root)
    return root


class CompactRange:
    """The perfect-subtree hashes along the right edge of a tree of leaves [0, size)."""

    def __init__(self) -> None:
        self._size = 0
        self._hashes: list[bytes] = []

    @classmethod
    def from_hashes(cls, size: int, hashes: Sequence[bytes]) -> Self:
        """Restore the range of the tree of ``size`` leaves from its right edge (largest first)."""
        if size < 0 or len(hashes) != size.bit_count():
            raise ValueError(
                f"size {size} needs {max(size, 0).bit_count()} hashes, got {len(hashes)}"
            )
        for i, h in enumerate(hashes):
            _check_hash(f"hash {i}", h)
        compact = cls()
        compact._size = size
        compact._hashes = list(hashes)
        return compact

    @property
    def size(self) -> int:
        """The number of leaves appended so far."""
        return self._size

    @property
    def hashes(self) -> list[bytes]:
        """The roots of the perfect subtrees covering [0, size), largest first (a copy)."""
        return list(self._hashes)

    def append(self, leaf_hash: bytes) -> list[tuple[NodeID, bytes]]:
        """Append one leaf and return every node it completes, the leaf itself first, bottom up."""
        _check_hash("leaf hash", leaf_hash)
        node, value = NodeID(0, self._size), leaf_hash
        completed = [(node, value)]
        # A right child completes its parent; each one bit at the bottom of the index is a
        # left sibling waiting on the edge for this subtree.
        while node.index & 1:
            value = hash_children(self._hashes.pop(), value)
            node = node.parent()
            completed.append((node, value))
        self._hashes.append(value)
        self._size += 1
        return completed

    def root(self) -> bytes:
        """Return the RFC 6962 root hash (MTH) of the leaves appended so far."""
        return root_from_range(self._size, self._hashes)
