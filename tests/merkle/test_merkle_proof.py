"""Proof construction: which nodes a proof names, and the proofs built from them.

The node tables are transparency-dev/merkle's ``proof/proof_test.go``. For reference, the tree of
size 7 (RFC 6962's example; level 1 index 3 is never stored because it is incomplete):

              hash              <== Level 3
             /    \\
            k      l            <== Level 2
           / \\    / \\
          g   h  i   [ ]        <== Level 1
         /\\  /\\  /\\  /
         a b c d e f j          <== Level 0
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provenance.merkle.compact import NodeID, range_nodes
from provenance.merkle.hashing import hash_children, hash_leaf
from provenance.merkle.proof import (
    Nodes,
    consistency_nodes,
    consistency_proof,
    inclusion_nodes,
    inclusion_path,
    inclusion_proof,
)
from rfc6962_reference import ENTRIES, NodeReader, path, proof

MAX_SIZE = 2000
PROPERTY = settings(max_examples=150, deadline=None, database=None)


def ids(*pairs: tuple[int, int]) -> list[NodeID]:
    return [NodeID(level, index) for level, index in pairs]


# (index, size) -> (ids, (begin, end) of the ephemeral node's parts, or None).
INCLUSION_NODES = [
    (0, 1, ids(), None),
    (0, 2, ids((0, 1)), None),  # b
    (1, 2, ids((0, 0)), None),  # a
    (1, 3, ids((0, 0), (0, 2)), None),  # a c
    (0, 7, ids((0, 1), (1, 1), (0, 6), (1, 2)), (2, 4)),  # b h j i; l = hash(i, j)
    (1, 7, ids((0, 0), (1, 1), (0, 6), (1, 2)), (2, 4)),  # a h j i
    (2, 7, ids((0, 3), (1, 0), (0, 6), (1, 2)), (2, 4)),  # d g j i
    (3, 7, ids((0, 2), (1, 0), (0, 6), (1, 2)), (2, 4)),  # c g j i
    (4, 7, ids((0, 5), (0, 6), (2, 0)), None),  # f j k
    (5, 7, ids((0, 4), (0, 6), (2, 0)), None),  # e j k
    (6, 7, ids((1, 2), (2, 0)), None),  # i k
    (2, 4, ids((0, 3), (1, 0)), None),  # d g
    (3, 5, ids((0, 2), (1, 0), (0, 4)), None),  # c g e
    (3, 6, ids((0, 2), (1, 0), (1, 2)), None),  # c g i
    (4, 6, ids((0, 5), (2, 0)), None),  # f k
    (10, 15, ids((0, 11), (1, 4), (0, 14), (1, 6), (3, 0)), (2, 4)),
    (24, 31, ids((0, 25), (1, 13), (0, 30), (1, 14), (3, 2), (4, 0)), (2, 4)),
    (
        81,
        95,
        ids((0, 80), (1, 41), (2, 21), (0, 94), (1, 46), (2, 22), (4, 4), (6, 0)),
        (3, 6),
    ),
]

# (size1, size2) -> (ids, (begin, end) or None).
CONSISTENCY_NODES = [
    (1, 2, ids((0, 1)), None),  # b
    (1, 4, ids((0, 1), (1, 1)), None),  # b h
    (1, 6, ids((0, 1), (1, 1), (1, 2)), None),  # b h i
    (2, 3, ids((0, 2)), None),  # c
    (2, 8, ids((1, 1), (2, 1)), None),  # h l
    (3, 7, ids((0, 2), (0, 3), (1, 0), (0, 6), (1, 2)), (3, 5)),  # c d g j i
    (4, 7, ids((0, 6), (1, 2)), (0, 2)),  # j i
    (5, 7, ids((0, 4), (0, 5), (0, 6), (2, 0)), None),  # e f j k
    (6, 7, ids((1, 2), (0, 6), (2, 0)), None),  # i j k
    (7, 8, ids((0, 6), (0, 7), (1, 2), (2, 0)), None),  # j leaf#7 i k
    (1, 1, ids(), None),
    (7, 7, ids(), None),
    (8, 8, ids(), None),
    (2, 4, ids((1, 1)), None),  # h
    (3, 5, ids((0, 2), (0, 3), (1, 0), (0, 4)), None),  # c d g e
    (3, 6, ids((0, 2), (0, 3), (1, 0), (1, 2)), None),  # c d g i
    (4, 6, ids((1, 2)), None),  # i
    (1, 7, ids((0, 1), (1, 1), (0, 6), (1, 2)), (2, 4)),  # b h j i
    (10, 15, ids((1, 4), (1, 5), (0, 14), (1, 6), (3, 0)), (2, 4)),
    (24, 31, ids((3, 2), (0, 30), (1, 14), (2, 6), (4, 0)), (1, 4)),
    (
        81,
        95,
        ids((0, 80), (0, 81), (1, 41), (2, 21), (0, 94), (1, 46), (2, 22), (4, 4), (6, 0)),
        (4, 7),
    ),
]


def assert_nodes(got: Nodes, want_ids: list[NodeID], span: tuple[int, int] | None) -> None:
    assert got.ids == want_ids
    if span is None:
        # A lone node standing for the ephemeral node needs no rehashing; proof.go may still
        # mark it as the (one-element) range.
        assert got.end - got.begin <= 1
    else:
        assert (got.begin, got.end) == span


@pytest.mark.parametrize(("index", "size", "want", "span"), INCLUSION_NODES)
def test_inclusion_nodes(
    index: int, size: int, want: list[NodeID], span: tuple[int, int] | None
) -> None:
    assert_nodes(inclusion_nodes(index, size), want, span)


@pytest.mark.parametrize(("size1", "size2", "want", "span"), CONSISTENCY_NODES)
def test_consistency_nodes(
    size1: int, size2: int, want: list[NodeID], span: tuple[int, int] | None
) -> None:
    assert_nodes(consistency_nodes(size1, size2), want, span)


@pytest.mark.parametrize(("index", "size"), [(0, 0), (1, 0), (2, 1), (3, 0), (8, 7), (-1, 5)])
def test_inclusion_nodes_rejects_bad_index(index: int, size: int) -> None:
    with pytest.raises(ValueError, match="out of bounds"):
        inclusion_nodes(index, size)


@pytest.mark.parametrize(("size1", "size2"), [(5, 0), (9, 8), (0, 0), (0, 5)])
def test_consistency_nodes_rejects_bad_sizes(size1: int, size2: int) -> None:
    with pytest.raises(ValueError, match=r"tree size|empty tree"):
        consistency_nodes(size1, size2)


def test_rehash() -> None:
    h = [hash_leaf(b"Hash %d" % i) for i in range(1, 6)]
    assert inclusion_nodes(3, 8).rehash(h[:3]) == h[:3]
    assert inclusion_nodes(9, 15).rehash(h) == [h[0], h[1], hash_children(h[3], h[2]), h[4]]
    assert inclusion_nodes(2, 7).rehash(h[:4]) == [h[0], h[1], hash_children(h[3], h[2])]
    with pytest.raises(ValueError, match="got 4 hashes for 5 nodes"):
        inclusion_nodes(9, 15).rehash(h[:4])


def assert_well_formed(nodes: Nodes, size: int) -> None:
    """Every node is complete within size; ids[begin:end] cover the ephemeral node's leaves."""
    for node in nodes.ids:
        assert node.coverage()[1] <= size, f"{node} is incomplete in a tree of size {size}"
    if nodes.end - nodes.begin > 1:
        assert nodes.ephem is not None
        ephem_begin, ephem_end = nodes.ephem.coverage()
        assert ephem_end > size  # Otherwise it would be complete, and stored.
        parts = nodes.ids[nodes.begin : nodes.end]
        assert parts == list(reversed(range_nodes(ephem_begin, size)))


@st.composite
def index_and_size(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(1, MAX_SIZE))
    return draw(st.integers(0, size - 1)), size


@st.composite
def two_sizes(draw: st.DrawFn) -> tuple[int, int]:
    size2 = draw(st.integers(1, MAX_SIZE))
    return draw(st.integers(1, size2)), size2


@PROPERTY
@given(index_and_size())
def test_inclusion_proof_matches_reference(args: tuple[int, int]) -> None:
    index, size = args
    assert_well_formed(inclusion_nodes(index, size), size)
    read = NodeReader(ENTRIES[:size])
    assert inclusion_proof(index, size, read) == path(index, ENTRIES[:size])
    assert len(read.calls) == (1 if size > 1 else 0)


@PROPERTY
@given(two_sizes())
def test_consistency_proof_matches_reference(args: tuple[int, int]) -> None:
    size1, size2 = args
    assert_well_formed(consistency_nodes(size1, size2), size2)
    read = NodeReader(ENTRIES[:size2])
    assert consistency_proof(size1, size2, read) == proof(size1, ENTRIES[:size2])
    assert len(read.calls) == (1 if size1 < size2 else 0)


@PROPERTY
@given(index_and_size())
def test_inclusion_path_matches_reference(args: tuple[int, int]) -> None:
    index, size = args
    read = NodeReader(ENTRIES[:size])
    assert inclusion_path(index, size, lambda level, i: read.node_hash(NodeID(level, i))) == path(
        index, ENTRIES[:size]
    )


def test_inclusion_path_rejects_bad_index() -> None:
    with pytest.raises(ValueError, match="not in a tree"):
        inclusion_path(5, 5, lambda level, i: b"")
