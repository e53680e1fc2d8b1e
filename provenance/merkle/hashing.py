"""RFC 6962 hashing: domain-separated leaf and interior node hashes over SHA-256."""

from __future__ import annotations

import hashlib

HASH_SIZE = 32
"""Size in bytes of every leaf and node hash."""

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""The root hash of the empty tree, SHA-256 of the empty string (RFC 9162, section 2.1.1)."""


def hash_leaf(data: bytes) -> bytes:
    """Return the leaf hash SHA-256(0x00 ‖ data) of one log entry's bytes."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def hash_children(left: bytes, right: bytes) -> bytes:
    """Return the interior node hash SHA-256(0x01 ‖ left ‖ right) of two child hashes."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()
