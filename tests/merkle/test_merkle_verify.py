"""Proof verification: preconditions with their exact errors, and every tamper must fail.

The tampers follow transparency-dev/merkle's ``corruptInclusionProof`` and
``corruptConsistencyProof``. Size is tampered only by doubling and halving: RFC 6962 proofs do not
commit to the tree size (the inclusion proof of leaf 0 in a tree of 3 also verifies as one in a
tree of 4 against the same root), which is why a checkpoint signs the size together with the root.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provenance.errors import ProofError, RootMismatchError
from provenance.merkle.hashing import hash_leaf
from provenance.merkle.proof import consistency_proof, inclusion_proof
from provenance.merkle.verify import (
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)
from rfc6962_reference import ENTRIES, NodeReader, mth

MAX_SIZE = 2000
PROPERTY = settings(max_examples=150, deadline=None, database=None)
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")
FAILED = (ProofError, RootMismatchError)

LEAF = hash_leaf(ENTRIES[0])
ROOT5 = mth(ENTRIES[:5])
ROOT8 = mth(ENTRIES[:8])


def flip(proof: list[bytes], i: int) -> list[bytes]:
    tampered = list(proof)
    tampered[i] = bytes([tampered[i][0] ^ 8]) + tampered[i][1:]
    return tampered


# --- Preconditions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("index", "size", "leaf", "proof", "message"),
    [
        (0, 0, LEAF, [], "index is beyond size: 0 >= 0"),
        (5, 5, LEAF, [], "index is beyond size: 5 >= 5"),
        (-1, 5, LEAF, [], "index is negative"),
        (0, 1, LEAF[:31], [], "leaf hash has unexpected size 31, want 32"),
        (0, 1, b"", [], "leaf hash has unexpected size 0, want 32"),
        (0, 8, LEAF, [SOME_HASH] * 2, "wrong proof size 2, want 3"),
        (0, 1, LEAF, [SOME_HASH], "wrong proof size 1, want 0"),
        (0, 2, LEAF, [SOME_HASH[:31]], "proof hash 0 has unexpected size 31, want 32"),
    ],
)
def test_inclusion_preconditions(
    index: int, size: int, leaf: bytes, proof: list[bytes], message: str
) -> None:
    with pytest.raises(ProofError, match=message):
        verify_inclusion(index, size, leaf, proof, ROOT8)
    with pytest.raises(ProofError, match=message):
        root_from_inclusion_proof(index, size, leaf, proof)


@pytest.mark.parametrize(
    ("size1", "size2", "proof", "message"),
    [
        (2, 1, [], r"size1 \(2\) > size2 \(1\)"),
        (0, 0, [], "consistency proof from empty tree is meaningless"),
        (0, 5, [], "consistency proof from empty tree is meaningless"),
        (5, 5, [SOME_HASH], "size1 == size2, but proof is not empty"),
        (5, 8, [], "empty proof"),
        (5, 8, [SOME_HASH] * 3, "wrong proof size 3, want 4"),
        (4, 8, [SOME_HASH] * 2, "wrong proof size 2, want 1"),
        (5, 8, [SOME_HASH] * 3 + [b"x"], "proof hash 3 has unexpected size 1, want 32"),
    ],
)
def test_consistency_preconditions(
    size1: int, size2: int, proof: list[bytes], message: str
) -> None:
    with pytest.raises(ProofError, match=message):
        verify_consistency(size1, size2, proof, ROOT5, ROOT8)


def test_single_leaf_tree_root_is_the_leaf_hash() -> None:
    verify_inclusion(0, 1, LEAF, [], LEAF)
    assert root_from_inclusion_proof(0, 1, LEAF, []) == LEAF


def test_root_mismatch_carries_both_roots() -> None:
    good = inclusion_proof(2, 5, NodeReader(ENTRIES[:5]))
    with pytest.raises(RootMismatchError) as caught:
        verify_inclusion(2, 5, hash_leaf(ENTRIES[2]), good, ROOT8)
    assert caught.value.expected_root == ROOT8
    assert caught.value.calculated_root == ROOT5


def test_equal_sizes_need_equal_roots() -> None:
    verify_consistency(5, 5, [], ROOT5, ROOT5)
    with pytest.raises(RootMismatchError) as caught:
        verify_consistency(5, 5, [], ROOT5, ROOT8)
    assert (caught.value.expected_root, caught.value.calculated_root) == (ROOT8, ROOT5)


def test_consistency_mismatch_names_the_root() -> None:
    good = consistency_proof(5, 8, NodeReader(ENTRIES[:8]))
    with pytest.raises(RootMismatchError, match="root at size1 5") as caught:
        verify_consistency(5, 8, good, SOME_HASH, ROOT8)
    assert (caught.value.expected_root, caught.value.calculated_root) == (SOME_HASH, ROOT5)
    with pytest.raises(RootMismatchError, match="root at size2 8") as caught:
        verify_consistency(5, 8, good, ROOT5, SOME_HASH)
    assert (caught.value.expected_root, caught.value.calculated_root) == (SOME_HASH, ROOT8)


# --- Properties -----------------------------------------------------------------------------------


@st.composite
def inclusion_case(draw: st.DrawFn) -> tuple[int, int, list[bytes]]:
    size = draw(st.integers(1, MAX_SIZE))
    index = draw(st.integers(0, size - 1))
    return index, size, inclusion_proof(index, size, NodeReader(ENTRIES[:size]))


@st.composite
def consistency_case(draw: st.DrawFn) -> tuple[int, int, list[bytes]]:
    size2 = draw(st.integers(2, MAX_SIZE))
    size1 = draw(st.integers(1, size2 - 1))
    return size1, size2, consistency_proof(size1, size2, NodeReader(ENTRIES[:size2]))


@PROPERTY
@given(inclusion_case(), st.data())
def test_inclusion_proofs_verify_and_every_tamper_fails(
    case: tuple[int, int, list[bytes]], data: st.DataObject
) -> None:
    index, size, proof = case
    leaf, root = hash_leaf(ENTRIES[index]), mth(ENTRIES[:size])
    assert root_from_inclusion_proof(index, size, leaf, proof) == root
    verify_inclusion(index, size, leaf, proof, root)

    if proof:
        i = data.draw(st.integers(0, len(proof) - 1), label="flipped hash")
        with pytest.raises(RootMismatchError):
            verify_inclusion(index, size, leaf, flip(proof, i), root)
        with pytest.raises(ProofError):
            verify_inclusion(index, size, leaf, proof[:-1], root)
    for longer in ([*proof, SOME_HASH], [SOME_HASH, *proof], [*proof, root], [root, *proof]):
        with pytest.raises(ProofError):
            verify_inclusion(index, size, leaf, longer, root)
    for other_index in {index - 1, index + 1, index ^ 2} - {index}:
        with pytest.raises(FAILED):
            verify_inclusion(other_index, size, leaf, proof, root)
    for other_size in {size * 2, size // 2} - {size}:
        with pytest.raises(FAILED):
            verify_inclusion(index, other_size, leaf, proof, root)
    with pytest.raises(RootMismatchError):
        verify_inclusion(index, size, hash_leaf(b"wrong leaf"), proof, root)
    with pytest.raises(RootMismatchError):
        verify_inclusion(index, size, leaf, proof, SOME_HASH)


@PROPERTY
@given(consistency_case(), st.data())
def test_consistency_proofs_verify_and_every_tamper_fails(
    case: tuple[int, int, list[bytes]], data: st.DataObject
) -> None:
    size1, size2, proof = case
    root1, root2 = mth(ENTRIES[:size1]), mth(ENTRIES[:size2])
    verify_consistency(size1, size2, proof, root1, root2)
    verify_consistency(size1, size1, [], root1, root1)

    i = data.draw(st.integers(0, len(proof) - 1), label="flipped hash")
    with pytest.raises(RootMismatchError):
        verify_consistency(size1, size2, flip(proof, i), root1, root2)
    for wrong in ([], proof[:-1], [*proof, SOME_HASH], [proof[0], *proof], [root1, *proof]):
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, wrong, root1, root2)
    for other_size1 in {size1 - 1, size1 + 1, size1 ^ 2} - {size1}:
        with pytest.raises(FAILED):
            verify_consistency(other_size1, size2, proof, root1, root2)
    for other_size2 in {size2 * 2, size2 // 2} - {size2}:
        with pytest.raises(FAILED):
            verify_consistency(size1, other_size2, proof, root1, root2)
    for roots in ((root2, root1), (SOME_HASH, root2), (root1, SOME_HASH)):
        with pytest.raises(RootMismatchError):
            verify_consistency(size1, size2, proof, *roots)
