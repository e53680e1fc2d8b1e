"""The byte format of a log entry: the exact bytes a Merkle leaf commits to.

An entry's leaf bytes are one ASCII header line, a newline, then the payload exactly as received::

    prov-entry/v1 <index> <time> <kind> <prev>\\n<payload>

- ``index``: the entry's position in the log, decimal, no leading zeros;
- ``time``: when the sequencer accepted it, in milliseconds since the Unix epoch, decimal;
- ``kind``: what the payload is (``party.register``, ``origin``, ``review``...), ``[a-z0-9.-]``;
- ``prev``: base64 of the leaf hash of the entry before it (32 zero bytes before the first), which
  makes the log a hash chain as well as a Merkle tree;
- ``payload``: the bytes that were submitted (for statements, the DSSE envelope), never re-serialized.

Putting the index and the previous hash inside the leaf means that a deleted, inserted or reordered
entry changes every later leaf hash, so replay names the first index where the log was altered. The
format is a single line so that anyone, including the in-browser verifier, can split it without a
parser. This module only encodes and decodes; it never touches storage.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import count

from provenance.errors import MalformedError
from provenance.merkle.hashing import HASH_SIZE, LEAF_PREFIX, hash_leaf

MAGIC = b"prov-entry/v1"
GENESIS_PREV = bytes(HASH_SIZE)
"""The ``prev`` of entry 0: there is no entry before it."""

_valid_kinds: set[str] = set()  # kinds already checked: the check is on every append's hot path
_KIND = re.compile(rb"[a-z0-9][a-z0-9.\-]{0,63}")
_DECIMAL = re.compile(rb"0|[1-9][0-9]{0,18}")


@dataclass(frozen=True, slots=True)
class Entry:
    """One log entry, decoded from (or encoded to) its leaf bytes."""

    index: int
    time_ms: int
    kind: str
    prev: bytes
    payload: bytes

    def leaf(self) -> bytes:
        """Return the exact leaf bytes for this entry."""
        return encode_leaf(self.index, self.time_ms, self.kind, self.prev, self.payload)

    def leaf_hash(self) -> bytes:
        """Return the RFC 6962 leaf hash of this entry."""
        return hash_leaf(self.leaf())


def valid_kind(kind: str) -> bool:
    """Return whether ``kind`` may name an entry kind (lowercase letters, digits, dot, dash)."""
    return _KIND.fullmatch(kind.encode("ascii", "replace")) is not None


def encode_leaf(index: int, time_ms: int, kind: str, prev: bytes, payload: bytes) -> bytes:
    """Return the leaf bytes of an entry; ``index`` and ``time_ms`` must be non-negative."""
    if index < 0 or time_ms < 0:
        raise ValueError("index and time must be non-negative")
    if len(prev) != HASH_SIZE:
        raise ValueError("prev must be a 32-byte hash")
    if kind not in _valid_kinds:
        if not valid_kind(kind):
            raise ValueError(f"invalid entry kind {kind!r}")
        _valid_kinds.add(kind)
    return b"prov-entry/v1 %d %d %s %s\n%s" % (
        index, time_ms, kind.encode(), base64.b64encode(prev), payload,
    )  # fmt: skip


def encode_leaves(
    start: int, time_ms: int, kinds: Sequence[str], payloads: Sequence[bytes], prev: bytes
) -> tuple[list[bytes], list[bytes]]:
    """Return the leaf bytes and leaf hashes of consecutive entries numbered from ``start``, all at
    ``time_ms``, the first chained to ``prev`` and each later one to the leaf before it.

    Entry by entry the same bytes as :func:`encode_leaf` and :func:`~provenance.merkle.hashing.
    hash_leaf`, for a whole batch at once: the chain makes every leaf wait for the hash of the one
    before, so this loop is the part of an append that cannot be batched, and it does the least
    per entry that it can (one format with the constant fields already in it, one hash).
    """
    if start < 0 or time_ms < 0:
        raise ValueError("index and time must be non-negative")
    if len(prev) != HASH_SIZE:
        raise ValueError("prev must be a 32-byte hash")
    if len(kinds) != len(payloads):
        raise ValueError(f"{len(kinds)} kinds for {len(payloads)} payloads")
    templates: dict[str, bytes] = {}
    for kind in set(kinds):
        if kind not in _valid_kinds:
            if not valid_kind(kind):
                raise ValueError(f"invalid entry kind {kind!r}")
            _valid_kinds.add(kind)
        # A valid kind has no '%', so it can sit inside the format; b2a_base64 ends prev's base64
        # with the newline that ends the header line.
        templates[kind] = b"%s %%d %d %s %%s%%s" % (MAGIC, time_ms, kind.encode())
    leaves: list[bytes] = []
    hashes: list[bytes] = []
    add_leaf, add_hash = leaves.append, hashes.append
    base64_line = binascii.b2a_base64
    # Copying a hasher that has taken the prefix is cheaper than a new one over prefix + leaf.
    leaf_hasher = hashlib.sha256(LEAF_PREFIX).copy
    for index, template, payload in zip(count(start), map(templates.__getitem__, kinds), payloads):
        leaf = template % (index, base64_line(prev), payload)
        hasher = leaf_hasher()
        hasher.update(leaf)
        prev = hasher.digest()
        add_leaf(leaf)
        add_hash(prev)
    return leaves, hashes


def decode_leaf(leaf: bytes) -> Entry:
    """Decode leaf bytes into an :class:`Entry`, raising MalformedError if the header is not valid."""
    header, newline, payload = leaf.partition(b"\n")
    if not newline:
        raise MalformedError("entry has no header line")
    fields = header.split(b" ")
    if len(fields) != 5 or fields[0] != MAGIC:
        raise MalformedError("entry header is not 'prov-entry/v1 <index> <time> <kind> <prev>'")
    _, index, time_ms, kind, prev_b64 = fields
    if not _DECIMAL.fullmatch(index) or not _DECIMAL.fullmatch(time_ms):
        raise MalformedError("entry index and time must be decimal numbers without leading zeros")
    if not _KIND.fullmatch(kind):
        raise MalformedError(f"invalid entry kind {kind!r}")
    try:
        prev = base64.b64decode(prev_b64, validate=True)
    except ValueError as e:
        raise MalformedError("entry prev is not base64") from e
    if len(prev) != HASH_SIZE or base64.b64encode(prev) != prev_b64:
        raise MalformedError("entry prev is not the canonical base64 of a 32-byte hash")
    return Entry(int(index), int(time_ms), kind.decode(), prev, payload)
