"""Building RFC 6962 / RFC 9162 inclusion and consistency proofs from stored node hashes.

A port of transparency-dev/merkle's ``proof/proof.go``. Proof construction is split in two: the
functions here name the nodes a proof needs (:func:`inclusion_nodes`, :func:`consistency_nodes`),
the caller reads their hashes from wherever the tree lives, and :meth:`Nodes.rehash` turns those
hashes into the proof. Every node named is a *complete* subtree of the requested tree, that is
``(index + 1) * 2**level <= size``, so a store that keeps only completed subtree hashes (as the log
writer's :class:`~provenance.merkle.compact.CompactRange` reports them) can answer every request.
The one node of a proof that may be incomplete, the *ephemeral* node, is recomputed from the
complete nodes under it. This module does no I/O; it reaches storage only through the ``read``
callable passed to :func:`inclusion_proof` and :func:`consistency_proof`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from provenance.merkle.compact import NodeID, range_nodes
from provenance.merkle.hashing import hash_children

__all__ = [
    "NodeID",
    "Nodes",
    "consistency_nodes",
    "consistency_proof",
    "inclusion_nodes",
    "inclusion_proof",
]

NodeReader = Callable[[Sequence[NodeID]], Sequence[bytes]]
"""Returns the stored hashes of the given complete nodes, in the same order."""


@dataclass(frozen=True)
class Nodes:
    """The nodes whose hashes make up a proof, with at most one ephemeral node among them.

    ``ids`` lists complete nodes in proof order, except that ``ids[begin:end]`` stand for the single
    ephemeral node ``ephem``: they cover its leaves, lower levels first, and :meth:`rehash` folds
    their hashes into its hash. ``begin == end == 0`` when the proof needs no ephemeral node; then
    ``ephem`` is the node it would have been (the fork's sibling), or None for an empty proof.
    """

    ids: list[NodeID]
    begin: int = 0
    end: int = 0
    ephem: NodeID | None = None

    def rehash(self, hashes: Sequence[bytes]) -> list[bytes]:
        """Return the proof from the hashes of ``ids`` (in order), folding ids[begin:end] to one."""
        if len(hashes) != len(self.ids):
            raise ValueError(f"got {len(hashes)} hashes for {len(self.ids)} nodes")
        proof = list(hashes[: self.begin])
        if self.begin < self.end:
            # Each node is to the left of, and higher than, the ones before it.
            ephem = hashes[self.begin]
            for left in hashes[self.begin + 1 : self.end]:
                ephem = hash_children(left, ephem)
            proof.append(ephem)
        proof.extend(hashes[self.end :])
        return proof

    def _skip_first(self) -> Nodes:
        """Drop the first node, which the verifier already knows (the leaf, or a subtree root)."""
        if self.begin < self.end:
            return replace(self, ids=self.ids[1:], begin=self.begin - 1, end=self.end - 1)
        return replace(self, ids=self.ids[1:])


def inclusion_nodes(index: int, size: int) -> Nodes:
    """Return the nodes of the inclusion proof for leaf ``index`` in the tree of ``size`` leaves.

    Requires 0 <= index < size.
    """
    if not 0 <= index < size:
        raise ValueError(f"index {index} out of bounds for tree size {size}")
    return _nodes(index, 0, size)._skip_first()


def consistency_nodes(size1: int, size2: int) -> Nodes:
    """Return the nodes of the consistency proof from the tree of ``size1`` leaves to ``size2``.

    Requires 0 < size1 <= size2; the proof for size1 == size2 is empty.
    """
    if size1 > size2:
        raise ValueError(f"tree size {size1} > {size2}")
    if size1 <= 0:
        raise ValueError("consistency proof from empty tree is meaningless")
    if size1 == size2:
        return Nodes(ids=[])
    # The proof is the inclusion proof of the largest perfect subtree ending at size1, preceded by
    # that subtree's root unless it is the whole size1 tree, whose root the client already has.
    level = (size1 & -size1).bit_length() - 1  # Trailing zero bits.
    nodes = _nodes((size1 - 1) >> level, level, size2)
    return nodes._skip_first() if size1 == 1 << level else nodes


def inclusion_proof(index: int, size: int, read: NodeReader) -> list[bytes]:
    """Return the inclusion proof for leaf ``index`` in the tree of ``size`` leaves.

    Requires 0 <= index < size. Calls ``read`` at most once, with every node the proof needs, and
    not at all when the proof is empty.
    """
    return _build(inclusion_nodes(index, size), read)


def consistency_proof(size1: int, size2: int, read: NodeReader) -> list[bytes]:
    """Return the consistency proof from the tree of ``size1`` leaves to the tree of ``size2``.

    Requires 0 < size1 <= size2. Calls ``read`` at most once, with every node the proof needs, and
    not at all when the proof is empty.
    """
    return _build(consistency_nodes(size1, size2), read)


def _build(nodes: Nodes, read: NodeReader) -> list[bytes]:
    if not nodes.ids:
        return []
    return nodes.rehash(read(nodes.ids))


def _nodes(index: int, level: int, size: int) -> Nodes:
    """Return the nodes proving that node (level, index) is in the tree of ``size`` leaves.

    The first node is (level, index) itself.
    """
    # The fork is where the path from the root to (level, index) leaves the path to leaf `size`.
    # Its sibling is the ephemeral node: it covers the incomplete right edge of the tree, so its
    # hash is rebuilt from the complete nodes under it. `inner` counts the levels up to the fork.
    inner = (index ^ (size >> level)).bit_length() - 1
    fork = NodeID(level + inner, index >> inner)
    begin, end = fork.coverage()

    node = NodeID(level, index)
    ids = [node]
    # Siblings along the path up to the fork; these cover [begin, end).
    while node.level < fork.level:
        ids.append(node.sibling())
        node = node.parent()
    # The nodes covering [end, size) make up the ephemeral node; reversed, lower levels come first
    # as rehash needs. Then the nodes covering [0, begin), ordered by increasing level.
    ephem_begin = len(ids)
    ids.extend(reversed(range_nodes(end, size)))
    ephem_end = len(ids)
    ids.extend(reversed(range_nodes(0, begin)))
    if ephem_begin >= ephem_end:
        ephem_begin = ephem_end = 0
    return Nodes(ids=ids, begin=ephem_begin, end=ephem_end, ephem=fork.sibling())


def inclusion_path(
    index: int,
    size: int,
    node: Callable[[int, int], bytes],
    borders: dict[tuple[int, int], bytes] | None = None,
) -> list[bytes]:
    """Return the inclusion proof of leaf ``index`` in a tree of ``size`` leaves, reading
    complete-subtree hashes one at a time with ``node(level, index)``.

    The same proof as :func:`inclusion_proof`, computed with plain integers: a store that holds
    its nodes in memory (a batch's tiles) answers a thousand receipts without building NodeIDs.
    ``borders``, if given, keeps the hashes of the right border's partial subtrees by (first
    leaf, size) between calls: the receipts of one batch share them, and each costs hashing.
    """
    if not 0 <= index < size:
        raise ValueError(f"index {index} is not in a tree of size {size}")
    inner = (index ^ (size - 1)).bit_length()
    proof = []
    for level in range(inner):
        sibling = (index >> level) ^ 1
        if (sibling + 1) << level <= size:
            proof.append(node(level, sibling))
        elif borders is None:  # the right border: a subtree the tree has only part of
            proof.append(_range_root(sibling << level, size, node))
        else:
            key = (sibling << level, size)
            border = borders.get(key)
            if border is None:
                border = borders[key] = _range_root(sibling << level, size, node)
            proof.append(border)
    level = inner
    while index >> level:
        if (index >> level) & 1:
            proof.append(node(level, (index >> level) - 1))
        level += 1
    return proof


def _range_root(begin: int, end: int, node: Callable[[int, int], bytes]) -> bytes:
    parts = []
    while begin < end:
        level = (begin & -begin).bit_length() - 1 if begin else (end - begin).bit_length() - 1
        while (1 << level) > end - begin:
            level -= 1
        parts.append(node(level, begin >> level))
        begin += 1 << level
    root = parts[-1]
    for part in reversed(parts[:-1]):
        root = hash_children(part, root)
    return root
