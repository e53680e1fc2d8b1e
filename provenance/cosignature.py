"""C2SP tlog cosignatures, Ed25519 version (c2sp.org/tlog-cosignature, signature type 0x04).

A cosignature is a note signature on a checkpoint by a cosigner (a witness) stating that, as of a
time, this is the largest consistent tree it has seen for the log. Its key ID is
SHA-256(name ‖ 0x0A ‖ 0x04 ‖ public key)[:4]; its signature bytes are an 8-byte big-endian POSIX
timestamp followed by an Ed25519 signature over ``cosignature/v1\\ntime <timestamp>\\n`` plus the
whole checkpoint text (extension lines included). This module owns that message, the signer and
verifier for it, and adding a cosignature line to a signed checkpoint.

It never checks consistency or the log's own signature before cosigning: a witness must do both
first. It never reads a clock; callers pass the timestamp. Note that the signed message does not
commit to the cosigner's name, so one key must never serve two cosigner names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from provenance.checkpoint import Checkpoint
from provenance.errors import MalformedError, SignatureError
from provenance.keys import PUBLIC_KEY_SIZE, SIGNATURE_SIZE, public_key_bytes, verify_ed25519
from provenance.note import (
    NoteSignature,
    add_signature,
    compute_key_id,
    format_verifier_key,
    is_valid_key_name,
    parse_note,
    parse_verifier_key,
)

COSIGNATURE_TYPE = 0x04
"""Signature type byte of timestamped Ed25519 cosignatures (c2sp.org/signed-note)."""

TIMESTAMP_SIZE = 8
"""Size in bytes of the big-endian timestamp that starts a cosignature."""

COSIGNATURE_SIZE = TIMESTAMP_SIZE + SIGNATURE_SIZE
"""Size in bytes of a cosignature after the key ID: timestamp then Ed25519 signature."""

MAX_TIMESTAMP = 2**63 - 1
"""Largest timestamp the spec allows."""


def cosigned_message(checkpoint_body: str, timestamp: int) -> bytes:
    """Return the bytes a cosigner signs: header line, time line, then the checkpoint text."""
    return f"cosignature/v1\ntime {timestamp}\n{checkpoint_body}".encode()


def cosignature_timestamp(signature: NoteSignature) -> int:
    """Return the timestamp a cosignature claims, without verifying it; MalformedError if short."""
    if len(signature.signature) != COSIGNATURE_SIZE:
        raise MalformedError(
            f"cosignature by {signature.name!r} is {len(signature.signature)} bytes after the "
            f"key ID, want {COSIGNATURE_SIZE}"
        )
    timestamp = int.from_bytes(signature.signature[:TIMESTAMP_SIZE], "big")
    if timestamp > MAX_TIMESTAMP:
        raise MalformedError(f"cosignature by {signature.name!r} has timestamp above 2^63-1")
    return timestamp


class CosignatureSigner:
    """Cosigns checkpoints with an Ed25519 key (signature type 0x04) under a cosigner name."""

    __slots__ = ("_private_key", "key_id", "name", "public_key")

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        if not is_valid_key_name(name):
            raise MalformedError(f"invalid cosigner name {name!r}: empty, or has a space or '+'")
        self.name = name
        self.public_key = public_key_bytes(private_key)
        self.key_id = compute_key_id(name, COSIGNATURE_TYPE, self.public_key)
        self._private_key = private_key

    def __repr__(self) -> str:
        return f"CosignatureSigner({self.name!r}, key_id={self.key_id.hex()})"

    def cosign(self, checkpoint_body: str, timestamp: int) -> NoteSignature:
        """Return the cosignature of a checkpoint text at a POSIX timestamp in 0..2^63-1.

        The text must parse as a checkpoint (MalformedError otherwise), so this key never signs
        anything else.
        """
        Checkpoint.parse(checkpoint_body)
        if not 0 <= timestamp <= MAX_TIMESTAMP:
            raise ValueError(f"cosignature timestamp {timestamp} is outside 0..2^63-1")
        signature = self._private_key.sign(cosigned_message(checkpoint_body, timestamp))
        return NoteSignature(
            self.name, self.key_id, timestamp.to_bytes(TIMESTAMP_SIZE, "big") + signature
        )

    def verifier(self) -> CosignatureVerifier:
        """Return the verifier for this cosigner's key."""
        return CosignatureVerifier(self.name, self.public_key)

    def verifier_key(self) -> str:
        """Return the verifier key string ``<name>+<hex key ID>+<base64(0x04 ‖ public key)>``."""
        return format_verifier_key(self.name, COSIGNATURE_TYPE, self.public_key)


@dataclass(frozen=True)
class CosignatureVerifier:
    """Verifies Ed25519 cosignatures (type 0x04) by one named cosigner key.

    It is a :class:`provenance.note.Verifier`, so it can be passed to ``open_note`` and
    ``open_checkpoint`` beside the log's own verifier.
    """

    name: str
    public_key: bytes
    key_id: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise MalformedError(f"invalid cosigner name {self.name!r}")
        if len(self.public_key) != PUBLIC_KEY_SIZE:
            raise MalformedError(
                f"Ed25519 public key is {len(self.public_key)} bytes, want {PUBLIC_KEY_SIZE}"
            )
        object.__setattr__(
            self, "key_id", compute_key_id(self.name, COSIGNATURE_TYPE, self.public_key)
        )

    @classmethod
    def from_vkey(cls, vkey: str) -> CosignatureVerifier:
        """Parse a verifier key string whose type byte is 0x04 and whose key is 32 bytes."""
        name, _, key_type, public_key = parse_verifier_key(vkey)
        if key_type != COSIGNATURE_TYPE:
            raise MalformedError(
                f"verifier key: type 0x{key_type:02x}, want 0x04 (Ed25519 cosignature)"
            )
        if len(public_key) != PUBLIC_KEY_SIZE:
            raise MalformedError(f"verifier key: Ed25519 key is {len(public_key)} bytes, want 32")
        return cls(name, public_key)

    def verifier_key(self) -> str:
        """Return the verifier key string ``<name>+<hex key ID>+<base64(0x04 ‖ public key)>``."""
        return format_verifier_key(self.name, COSIGNATURE_TYPE, self.public_key)

    def verify(self, body: str, signature: bytes) -> bool:
        """Report whether signature (timestamp ‖ Ed25519 signature) cosigns the checkpoint text."""
        if len(signature) != COSIGNATURE_SIZE:
            return False
        timestamp = int.from_bytes(signature[:TIMESTAMP_SIZE], "big")
        if timestamp > MAX_TIMESTAMP:
            return False
        try:
            Checkpoint.parse(body)
        except MalformedError:
            return False
        return verify_ed25519(
            self.public_key, signature[TIMESTAMP_SIZE:], cosigned_message(body, timestamp)
        )


def verify_cosignature(
    checkpoint_body: str, signature: NoteSignature, verifier: CosignatureVerifier
) -> int:
    """Verify one cosignature of a checkpoint text by verifier and return its timestamp.

    SignatureError if the signature's name or key ID is not the verifier's, or if it does not
    verify; MalformedError if its bytes are not timestamp ‖ 64-byte signature or the text is not a
    checkpoint.
    """
    if (signature.name, signature.key_id) != (verifier.name, verifier.key_id):
        raise SignatureError(
            f"signature by {signature.name}+{signature.key_id.hex()} is not from cosigner "
            f"{verifier.name}+{verifier.key_id.hex()}"
        )
    timestamp = cosignature_timestamp(signature)
    Checkpoint.parse(checkpoint_body)
    if not verifier.verify(checkpoint_body, signature.signature):
        raise SignatureError(f"invalid cosignature for key {verifier.name}+{verifier.key_id.hex()}")
    return timestamp


def add_cosignature(signed_checkpoint: str, signer: CosignatureSigner, timestamp: int) -> str:
    """Cosign a signed checkpoint note and return it with the cosignature line appended.

    The note must parse and its text must be a checkpoint; other signature lines are kept as they
    are, and an earlier cosignature by the same key is replaced. The caller must already have
    verified the log's signature and the consistency of the checkpoint.
    """
    note = parse_note(signed_checkpoint)
    return add_signature(signed_checkpoint, signer.cosign(note.body, timestamp))
