"""Verifying RFC 6962 / RFC 9162 inclusion and consistency proofs.

A port of transparency-dev/merkle's ``proof/verify.go``. Each function checks its preconditions
first (sizes, hash lengths, proof length) and raises :class:`~provenance.errors.ProofError` with a
specific message when one fails, then recomputes the root and raises
:class:`~provenance.errors.RootMismatchError` (expected against calculated) when it differs. Pure
computation over bytes: no I/O, no clock, no storage.

Proof hashes are ordered from the leaf up. An inclusion proof splits into an *inner* part, the
siblings below the point where the paths to leaf ``index`` and to the last leaf ``size - 1``
diverge, and a *border* part, the left siblings above it along the tree's right border.
"""

from __future__ import annotations

from collections.abc import Sequence

from provenance.errors import ProofError, RootMismatchError
from provenance.merkle.hashing import HASH_SIZE, hash_children


def verify_inclusion(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``proof`` puts leaf ``index``, ``leaf_hash``, in the ``size``-leaf tree ``root``.

    Requires 0 <= index < size.
    """
    _verify_match(root, root_from_inclusion_proof(index, size, leaf_hash, proof))


def root_from_inclusion_proof(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes]
) -> bytes:
    """Return the root of the ``size``-leaf tree that ``proof`` implies for leaf ``index``.

    Requires 0 <= index < size.
    """
    if index < 0:
        raise ProofError(f"index is negative: {index}")
    if index >= size:
        raise ProofError(f"index is beyond size: {index} >= {size}")
    if len(leaf_hash) != HASH_SIZE:
        raise ProofError(f"leaf hash has unexpected size {len(leaf_hash)}, want {HASH_SIZE}")
    inner, border = _decomp_incl_proof(index, size)
    if len(proof) != inner + border:
        raise ProofError(f"wrong proof size {len(proof)}, want {inner + border}")
    _check_proof_hashes(proof)

    result = _chain_inner(leaf_hash, proof[:inner], index)
    return _chain_border_right(result, proof[inner:])


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Check that ``proof`` shows tree ``root1`` of ``size1`` leaves is a prefix of ``root2``'s.

    Requires 0 < size1 <= size2; when size1 == size2 the proof must be empty and the roots equal.
    """
    if size1 > size2:
        raise ProofError(f"size1 ({size1}) > size2 ({size2})")
    # verify.go accepts size1 == size2 == 0 with equal roots; the shared vectors (and this ledger)
    # reject every proof from the empty tree, so this check comes before the equal-size case.
    if size1 <= 0:
        raise ProofError("consistency proof from empty tree is meaningless")
    if size1 == size2:
        if proof:
            raise ProofError("size1 == size2, but proof is not empty")
        _verify_match(root2, root1)
        return
    if not proof:
        raise ProofError("empty proof")

    inner, border = _decomp_incl_proof(size1 - 1, size2)
    shift = (size1 & -size1).bit_length() - 1  # Trailing zero bits.
    inner -= shift  # shift < inner because size1 < size2.

    # The proof starts with the root of the perfect subtree of size 2^shift that ends at size1,
    # unless size1 is that very 2^shift, whose root is root1 itself.
    if size1 == 1 << shift:
        seed, start = root1, 0
    else:
        seed, start = proof[0], 1
    if len(proof) != start + inner + border:
        raise ProofError(f"wrong proof size {len(proof)}, want {start + inner + border}")
    _check_proof_hashes(proof)
    # What remains is a suffix of the inclusion proof for leaf size1 - 1 in the size2 tree.
    rest = proof[start:]
    mask = (size1 - 1) >> shift  # Start chaining from level `shift`.

    hash1 = _chain_inner_right(seed, rest[:inner], mask)
    hash1 = _chain_border_right(hash1, rest[inner:])
    _verify_match(root1, hash1, f"root at size1 {size1}")

    hash2 = _chain_inner(seed, rest[:inner], mask)
    hash2 = _chain_border_right(hash2, rest[inner:])
    _verify_match(root2, hash2, f"root at size2 {size2}")


def _verify_match(expected: bytes, calculated: bytes, what: str = "root") -> None:
    if calculated != expected:
        raise RootMismatchError(
            expected,
            calculated,
            f"{what} mismatch: expected {expected.hex()}, calculated {calculated.hex()}",
        )


def _check_proof_hashes(proof: Sequence[bytes]) -> None:
    for i, h in enumerate(proof):
        if len(h) != HASH_SIZE:
            raise ProofError(f"proof hash {i} has unexpected size {len(h)}, want {HASH_SIZE}")


def _decomp_incl_proof(index: int, size: int) -> tuple[int, int]:
    """Return the lengths of the inner and border parts of the inclusion proof for ``index``."""
    inner = (index ^ (size - 1)).bit_length()
    border = (index >> inner).bit_count()
    return inner, border


def _chain_inner(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    """Hash ``seed``, at ``index`` on its level, up through ``proof`` (lower levels first)."""
    for i, h in enumerate(proof):
        seed = hash_children(h, seed) if (index >> i) & 1 else hash_children(seed, h)
    return seed


def _chain_inner_right(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    """Like :func:`_chain_inner`, but only with the left siblings: the subtree's earlier version."""
    for i, h in enumerate(proof):
        if (index >> i) & 1 == 1:
            seed = hash_children(h, seed)
    return seed


def _chain_border_right(seed: bytes, proof: Sequence[bytes]) -> bytes:
    """Hash ``seed`` up the right border, where every proof hash is a left sibling."""
    for h in proof:
        seed = hash_children(h, seed)
    return seed
