"""A naive RFC 6962 Merkle tree, written straight from the recursive definitions of section 2.1.

Slow on purpose, and sharing nothing with ``provenance.merkle`` but the two hash functions: the
tests check the fast code against it. Imported by the test modules beside it (pytest's default
``prepend`` import mode puts this directory on ``sys.path``).
"""

from __future__ import annotations

from collections.abc import Sequence

from provenance.merkle.compact import NodeID
from provenance.merkle.hashing import EMPTY_ROOT, hash_children, hash_leaf

ENTRIES = [b"entry %d" % i for i in range(2048)]
"""Distinct log entries to build test trees from; a tree of size n holds ENTRIES[:n]."""


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def mth(entries: Sequence[bytes]) -> bytes:
    """MTH(D[n]), the Merkle Tree Hash of a list of entries."""
    n = len(entries)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return hash_leaf(entries[0])
    k = _split(n)
    return hash_children(mth(entries[:k]), mth(entries[k:]))


def path(m: int, entries: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]), the audit path (inclusion proof) of entry m, from the leaf up."""
    n = len(entries)
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return [*path(m, entries[:k]), mth(entries[k:])]
    return [*path(m - k, entries[k:]), mth(entries[:k])]


def proof(m: int, entries: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]), the consistency proof from the first m entries to all n."""
    return _subproof(m, entries, True)


def _subproof(m: int, entries: Sequence[bytes], b: bool) -> list[bytes]:
    n = len(entries)
    if m == n:
        return [] if b else [mth(entries)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, entries[:k], b), mth(entries[k:])]
    return [*_subproof(m - k, entries[k:], False), mth(entries[:k])]


def leaf_hashes(size: int) -> list[bytes]:
    return [hash_leaf(e) for e in ENTRIES[:size]]


class NodeReader:
    """Answers node hash requests for the tree of ``entries`` as a store of complete subtrees would.

    Refuses (with AssertionError) any node that is not a complete subtree of this tree, and counts
    calls so tests can check that proof building batches its reads.
    """

    def __init__(self, entries: Sequence[bytes]) -> None:
        self.entries = entries
        self.calls: list[list[NodeID]] = []

    def node_hash(self, node: NodeID) -> bytes:
        begin, end = node.coverage()
        assert end <= len(self.entries), f"{node} is not complete in a tree of {len(self.entries)}"
        return mth(self.entries[begin:end])

    def __call__(self, ids: Sequence[NodeID]) -> list[bytes]:
        self.calls.append(list(ids))
        return [self.node_hash(node) for node in ids]
