"""C2SP transparency log checkpoints (c2sp.org/tlog-checkpoint): the signed tree head of the log.

A checkpoint is a signed note whose text is the origin line, the tree size in decimal, the base64
root hash, then optional non-empty extension lines. This module owns that text: building it,
parsing it strictly, and signing or opening it through :mod:`provenance.note`. Parsing accepts only
the canonical spelling, so a parsed checkpoint always re-serializes to the exact bytes that were
signed. It never computes Merkle roots and never checks consistency between two checkpoints.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from provenance.errors import MalformedError, SignatureError
from provenance.note import Signer, Verifier, decode_base64, encode_base64, open_note, sign_note

ROOT_HASH_SIZE = 32
"""Size in bytes of the RFC 6962 SHA-256 root hash a checkpoint carries."""

MAX_TREE_SIZE = 2**63 - 1
"""Largest tree size accepted, the int64 bound of Go's tlog and torchwood parsers."""

_SIZE = re.compile(r"0|[1-9][0-9]*")
_CONTROL = re.compile("[\x00-\x1f]")


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head: origin, tree size, root hash, and opaque extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise MalformedError(f"checkpoint size {self.size} is outside 0..2^63-1")
        if len(self.root_hash) != ROOT_HASH_SIZE:
            raise MalformedError(
                f"checkpoint root hash is {len(self.root_hash)} bytes, want {ROOT_HASH_SIZE}"
            )
        for i, line in enumerate(self.extensions):
            _check_line(line, f"extension line {i + 1}")

    def body(self) -> str:
        """Return the note text: origin, size, base64 root, then extensions, one line each."""
        lines = (self.origin, str(self.size), encode_base64(self.root_hash), *self.extensions)
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        """Parse a checkpoint note text strictly; MalformedError naming the first bad line.

        The origin must be non-empty; the size ASCII decimal with no sign and no leading zero; the
        root standard padded base64 of exactly 32 bytes; every extension line non-empty; and the
        text must end with a newline.
        """
        if not body.endswith("\n"):
            raise MalformedError("checkpoint does not end with a newline")
        lines = body[:-1].split("\n")
        if len(lines) < 3:
            raise MalformedError(f"checkpoint has {len(lines)} lines, want at least 3")
        origin, size_text, root_text, *extensions = lines
        if not _SIZE.fullmatch(size_text):
            raise MalformedError(f"checkpoint size {size_text!r} is not canonical decimal")
        root_hash = decode_base64(root_text, "checkpoint root hash")
        return cls(origin, int(size_text), root_hash, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, signer: Signer) -> str:
    """Return the checkpoint as a signed note carrying one signature by signer."""
    return sign_note(checkpoint.body(), [signer])


def open_checkpoint(
    text: str | bytes, verifiers: Sequence[Verifier], origin: str | None = None
) -> Checkpoint:
    """Verify a signed checkpoint note and return its checkpoint.

    The note must carry a valid signature by one of verifiers and none that fails (see
    :func:`provenance.note.open_note`); its text must parse as a checkpoint; and if origin is
    given, the checkpoint's origin must equal it. MalformedError for unparseable input,
    SignatureError for signatures and for an origin other than the one expected.
    """
    note = open_note(text, verifiers)
    checkpoint = Checkpoint.parse(note.body)
    if origin is not None and checkpoint.origin != origin:
        raise SignatureError(f"checkpoint is for origin {checkpoint.origin!r}, expected {origin!r}")
    return checkpoint


def _check_line(line: str, what: str) -> None:
    if not line:
        raise MalformedError(f"checkpoint {what} is empty")
    if match := _CONTROL.search(line):
        raise MalformedError(f"checkpoint {what} contains control character {match.group()!r}")
