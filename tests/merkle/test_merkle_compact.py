"""CompactRange, the log writer's right edge: roots, completed nodes, and restoring from storage."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provenance.merkle.compact import CompactRange, NodeID, range_nodes, root_from_range
from provenance.merkle.hashing import EMPTY_ROOT
from rfc6962_reference import ENTRIES, NodeReader, leaf_hashes, mth

GROWN_TO = 600  # Past 512, so that every level up to 9 completes at least once.
LEAVES = leaf_hashes(len(ENTRIES))


def grown(size: int) -> CompactRange:
    compact = CompactRange()
    for leaf in LEAVES[:size]:
        compact.append(leaf)
    return compact


def test_empty_range() -> None:
    compact = CompactRange()
    assert (compact.size, compact.hashes, compact.root()) == (0, [], EMPTY_ROOT)
    assert root_from_range(0, []) == EMPTY_ROOT


def test_grows_leaf_by_leaf() -> None:
    """At every size the root is MTH, the edge is range_nodes, and the completed nodes are exact."""
    compact = CompactRange()
    reader = NodeReader(ENTRIES[:GROWN_TO])
    for size in range(1, GROWN_TO + 1):
        completed = compact.append(LEAVES[size - 1])
        # The nodes that became complete are those whose last leaf is the new one: one per level
        # up to the number of trailing zero bits of the new size, bottom up.
        levels = (size & -size).bit_length()
        assert [node for node, _ in completed] == [
            NodeID(level, (size >> level) - 1) for level in range(levels)
        ]
        assert all(value == reader.node_hash(node) for node, value in completed)
        assert compact.size == size
        assert compact.hashes == [reader.node_hash(node) for node in range_nodes(0, size)]
        assert compact.root() == mth(ENTRIES[:size])


@settings(max_examples=50, deadline=None, database=None)
@given(st.integers(0, 2000))
def test_from_hashes_round_trips(size: int) -> None:
    original = grown(size)
    restored = CompactRange.from_hashes(original.size, original.hashes)
    assert (restored.size, restored.hashes, restored.root()) == (
        original.size,
        original.hashes,
        original.root(),
    )
    assert root_from_range(size, original.hashes) == original.root()
    # The restored range carries on exactly as the original does.
    assert restored.append(LEAVES[size]) == original.append(LEAVES[size])
    assert restored.root() == original.root()


def test_hashes_is_a_copy() -> None:
    compact = grown(3)
    compact.hashes.clear()
    assert len(compact.hashes) == 2


@pytest.mark.parametrize(
    ("size", "count", "message"),
    [(5, 1, "size 5 needs 2 hashes, got 1"), (4, 2, "size 4 needs 1 hashes, got 2")],
)
def test_from_hashes_rejects_wrong_count(size: int, count: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CompactRange.from_hashes(size, LEAVES[:count])
    with pytest.raises(ValueError, match=message):
        root_from_range(size, LEAVES[:count])


def test_from_hashes_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="size -1"):
        CompactRange.from_hashes(-1, [])
    with pytest.raises(ValueError, match="hash 1 is 31 bytes, want 32"):
        CompactRange.from_hashes(3, [LEAVES[0], LEAVES[1][:31]])


def test_append_rejects_bad_leaf_hash() -> None:
    compact = grown(1)
    with pytest.raises(ValueError, match="leaf hash is 31 bytes, want 32"):
        compact.append(LEAVES[1][:31])
    assert compact.size == 1


def test_range_nodes() -> None:
    # compact.Decompose's example: [0b110, 0b11101) splits into sizes 2, 8; 8, 4, 1.
    assert range_nodes(6, 29) == [
        NodeID(1, 3),
        NodeID(3, 1),
        NodeID(3, 2),
        NodeID(2, 6),
        NodeID(0, 28),
    ]
    assert range_nodes(0, 7) == [NodeID(2, 0), NodeID(1, 2), NodeID(0, 6)]
    assert range_nodes(5, 5) == []
    with pytest.raises(ValueError, match=r"invalid range \[3, 2\)"):
        range_nodes(3, 2)
