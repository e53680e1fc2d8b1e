"""C2SP signed notes (c2sp.org/signed-note): Ed25519 note keys, verifier keys, signing and opening.

A signed note is a UTF-8 text ending in a newline, a blank line, then one or more lines
``— <key name> <base64(4-byte key ID ‖ signature)>``. This module owns that format, the
``<name>+<hex key ID>+<base64(type ‖ key)>`` verifier-key strings, the key ID derivation shared by
every signature type, and the rules for opening a note against a set of trusted keys. It parses the
way Go's ``golang.org/x/mod/sumdb/note.Open`` does, so that notes written by either side read the
same on the other. It never interprets the note text (checkpoints do that) and never decides which
keys to trust: callers pass the verifiers they trust.

Opening follows the spec's rules: a signature is attributed to a verifier only when both the key
name and the key ID match; signatures from unknown keys are ignored; a signature from a known key
that fails rejects the whole note; a note with no verified signature from a known key is rejected.

Two deliberate differences from Go, both stricter: base64 must be canonical (Go ignores nonzero
padding bits), so a parsed note re-serializes byte for byte; and every signature by a known key is
checked, where Go skips repeats of a key after the first.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from provenance.errors import MalformedError, SignatureError
from provenance.keys import (
    PUBLIC_KEY_SIZE,
    SIGNATURE_SIZE,
    public_key_bytes,
    sign_ed25519,
    verify_ed25519,
)

ED25519_TYPE = 0x01
"""Signature type byte of plain Ed25519 note signatures (c2sp.org/signed-note)."""

KEY_ID_SIZE = 4
"""Size in bytes of a note key ID."""

MAX_SIGNATURES = 100
"""Most signature lines a note may carry; the spec asks for at least 16, Go allows 100."""

SIGNATURE_PREFIX = "— "
"""Start of every signature line: em dash (U+2014) then space."""

# Go's unicode.IsSpace: Latin-1 spaces plus the Unicode White_Space property. Python's str.isspace
# differs (it also counts U+001C..U+001F), so the set is spelled out to match Go exactly.
_SPACES = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f]")
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_HEX_KEY_ID = re.compile(r"[0-9a-fA-F]{8}")


# --- Shared helpers (also used by checkpoints and cosignatures) ---------------------------------


def decode_base64(text: str, what: str) -> bytes:
    """Decode canonical standard padded base64 (RFC 4648 section 4); MalformedError naming what.

    Canonical means the text is exactly what encoding the decoded bytes gives back, so each byte
    string has one accepted spelling and a parsed note re-serializes to the bytes it came from.
    """
    if not _BASE64.fullmatch(text):
        raise MalformedError(f"{what}: not standard padded base64")
    try:
        data = base64.b64decode(text, validate=True)
    except binascii.Error as e:
        raise MalformedError(f"{what}: not standard padded base64: {e}") from e
    if encode_base64(data) != text:
        raise MalformedError(f"{what}: non-canonical base64 (nonzero padding bits)")
    return data


def encode_base64(data: bytes) -> str:
    """Encode bytes as standard padded base64 (RFC 4648 section 4)."""
    return base64.b64encode(data).decode("ascii")


def is_valid_key_name(name: str) -> bool:
    """Report whether name is a valid note key name: non-empty, no Unicode spaces, no '+'."""
    return (
        name != ""
        and "+" not in name
        and not any(c in _SPACES for c in name)
        and _is_utf8_encodable(name)
    )


def compute_key_id(name: str, key_type: int, public_key: bytes) -> bytes:
    """Return the 4-byte key ID SHA-256(name ‖ 0x0A ‖ key type ‖ public key)[:4]."""
    data = name.encode("utf-8") + b"\n" + bytes([key_type]) + public_key
    return hashlib.sha256(data).digest()[:KEY_ID_SIZE]


def format_verifier_key(name: str, key_type: int, public_key: bytes) -> str:
    """Return the verifier key string ``<name>+<8 hex key ID>+<base64(type ‖ public key)>``."""
    _check_key_name(name)
    key_id = compute_key_id(name, key_type, public_key)
    return f"{name}+{key_id.hex()}+{encode_base64(bytes([key_type]) + public_key)}"


def parse_verifier_key(vkey: str) -> tuple[str, bytes, int, bytes]:
    """Split a verifier key string into (name, key ID, key type, public key), checking the key ID.

    The rules are Go's ``note.NewVerifier``: a valid name, exactly eight hex digits of key ID, and
    non-empty standard base64 key material whose first byte is the type and whose key ID matches
    the one computed from name and material. Whether the type and key length are acceptable is for
    the caller, which knows which signature type it expects.
    """
    name, _, rest = vkey.partition("+")
    hex_id, _, key64 = rest.partition("+")
    if not is_valid_key_name(name):
        raise MalformedError(f"verifier key: invalid key name {name!r}")
    if not _HEX_KEY_ID.fullmatch(hex_id):
        raise MalformedError(f"verifier key: key ID {hex_id!r} is not eight hex digits")
    material = decode_base64(key64, "verifier key")
    if not material:
        raise MalformedError("verifier key: empty key material")
    key_id = bytes.fromhex(hex_id)
    if key_id != compute_key_id(name, material[0], material[1:]):
        raise MalformedError(f"verifier key: key ID {hex_id} does not match name and key")
    return name, key_id, material[0], material[1:]


# --- Signers and verifiers -----------------------------------------------------------------------


class Signer(Protocol):
    """Anything that signs note text under a key name and key ID."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> bytes: ...

    def sign(self, body: str) -> bytes:
        """Return the signature bytes (without the key ID) over the note text."""
        ...


class Verifier(Protocol):
    """Anything that verifies note signatures for one (key name, key ID) pair."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> bytes: ...

    def verify(self, body: str, signature: bytes) -> bool:
        """Report whether signature (without the key ID) is valid over the note text."""
        ...


class NoteSigner:
    """Signs note text with an Ed25519 key (signature type 0x01) under a key name."""

    __slots__ = ("_private_key", "key_id", "name", "public_key")

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        _check_key_name(name)
        self.name = name
        self.public_key = public_key_bytes(private_key)
        self.key_id = compute_key_id(name, ED25519_TYPE, self.public_key)
        self._private_key = private_key

    def __repr__(self) -> str:
        return f"NoteSigner({self.name!r}, key_id={self.key_id.hex()})"

    def sign(self, body: str) -> bytes:
        """Return the 64-byte Ed25519 signature of the UTF-8 note text."""
        return sign_ed25519(self._private_key, body.encode("utf-8"))

    def verifier(self) -> NoteVerifier:
        """Return the verifier for this signer's key."""
        return NoteVerifier(self.name, self.public_key)

    def verifier_key(self) -> str:
        """Return the verifier key string ``<name>+<hex key ID>+<base64(0x01 ‖ public key)>``."""
        return format_verifier_key(self.name, ED25519_TYPE, self.public_key)


@dataclass(frozen=True)
class NoteVerifier:
    """Verifies Ed25519 note signatures (type 0x01) by one named public key."""

    name: str
    public_key: bytes
    key_id: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_key_name(self.name)
        if len(self.public_key) != PUBLIC_KEY_SIZE:
            raise MalformedError(
                f"Ed25519 public key is {len(self.public_key)} bytes, want {PUBLIC_KEY_SIZE}"
            )
        object.__setattr__(self, "key_id", compute_key_id(self.name, ED25519_TYPE, self.public_key))

    @classmethod
    def from_vkey(cls, vkey: str) -> NoteVerifier:
        """Parse a verifier key string whose type byte is 0x01 and whose key is 32 bytes."""
        name, _, key_type, public_key = parse_verifier_key(vkey)
        if key_type != ED25519_TYPE:
            raise MalformedError(f"verifier key: type 0x{key_type:02x}, want 0x01 (Ed25519)")
        if len(public_key) != PUBLIC_KEY_SIZE:
            raise MalformedError(f"verifier key: Ed25519 key is {len(public_key)} bytes, want 32")
        return cls(name, public_key)

    def verifier_key(self) -> str:
        """Return the verifier key string ``<name>+<hex key ID>+<base64(0x01 ‖ public key)>``."""
        return format_verifier_key(self.name, ED25519_TYPE, self.public_key)

    def verify(self, body: str, signature: bytes) -> bool:
        """Report whether signature is this key's Ed25519 signature of the UTF-8 note text."""
        if len(signature) != SIGNATURE_SIZE:
            return False
        return verify_ed25519(self.public_key, signature, body.encode("utf-8"))


# --- Notes ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, 4-byte key ID, and the signature bytes that follow the ID."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        """Return the signature line ``— <name> <base64(key ID ‖ signature)>`` with its newline."""
        return f"{SIGNATURE_PREFIX}{self.name} {encode_base64(self.key_id + self.signature)}\n"


@dataclass(frozen=True)
class SignedNote:
    """A note text (ending in a newline) and its signatures, in the order they appear."""

    body: str
    signatures: tuple[NoteSignature, ...]

    def text(self) -> str:
        """Return the signed note: body, blank line, one line per signature."""
        return self.body + "\n" + "".join(s.line() for s in self.signatures)


def sign_note(body: str, signers: Sequence[Signer]) -> str:
    """Sign a note text ending in a newline with each signer, in order; return the signed note."""
    _check_body(body)
    if not signers:
        raise ValueError("sign_note needs at least one signer")
    if len(signers) > MAX_SIGNATURES:
        raise ValueError(f"{len(signers)} signers, more than the {MAX_SIGNATURES} a note may carry")
    for s in signers:
        _check_key_name(s.name)
        if len(s.key_id) != KEY_ID_SIZE:
            raise ValueError(f"signer {s.name!r} has a {len(s.key_id)}-byte key ID, want 4")
    signatures = tuple(NoteSignature(s.name, s.key_id, s.sign(body)) for s in signers)
    return SignedNote(body, signatures).text()


def parse_note(text: str | bytes) -> SignedNote:
    """Parse a signed note without verifying anything; MalformedError if it breaks the format.

    The rules are those of Go's ``note.Open``: valid UTF-8 with no control characters but newline;
    the last blank line splits the text (which keeps its final newline) from a non-empty block of
    signature lines ending in a newline; each line is em dash, space, a valid key name, space, and
    standard base64 of at least five bytes; at most 100 lines.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise MalformedError(f"note is not valid UTF-8: {e}") from e
    elif not _is_utf8_encodable(text):
        raise MalformedError("note is not valid UTF-8 (lone surrogate)")
    if match := _CONTROL.search(text):
        raise MalformedError(f"note contains control character {match.group()!r}")
    split = text.rfind("\n\n")
    if split < 0:
        raise MalformedError("note has no blank line before its signatures")
    body, block = text[: split + 1], text[split + 2 :]
    if not block:
        raise MalformedError("note has no signature lines")
    if not block.endswith("\n"):
        raise MalformedError("note does not end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedError(f"note has {len(lines)} signatures, more than {MAX_SIGNATURES}")
    return SignedNote(body, tuple(_parse_signature_line(line) for line in lines))


def open_note(text: str | bytes, verifiers: Sequence[Verifier]) -> SignedNote:
    """Parse a signed note and verify it; return it with only the signatures that verified.

    A signature is checked by the verifier with the same key name and key ID; others are ignored.
    SignatureError if a known key's signature fails or if no known key signed; MalformedError if
    the note does not parse. Repeated signatures by one key are all checked and reported once.
    """
    note = parse_note(text)
    known = _index_verifiers(verifiers)
    verified: list[NoteSignature] = []
    seen: set[tuple[str, bytes]] = set()
    for signature in note.signatures:
        key = (signature.name, signature.key_id)
        verifier = known.get(key)
        if verifier is None:
            continue
        if not verifier.verify(note.body, signature.signature):
            raise SignatureError(
                f"invalid signature for key {signature.name}+{signature.key_id.hex()}"
            )
        if key not in seen:
            seen.add(key)
            verified.append(signature)
    if not verified:
        raise SignatureError("note has no valid signature by a known key")
    return SignedNote(note.body, tuple(verified))


def add_signature(text: str, signature: NoteSignature) -> str:
    """Return a signed note with one more signature line, replacing any by the same key.

    The existing note must parse; its other lines are kept exactly. A signature by the same key
    name and key ID is dropped, as Go's ``note.Sign`` does, so re-signing refreshes rather than
    duplicates. Nothing is verified here.
    """
    note = parse_note(text)
    _check_key_name(signature.name)
    if len(signature.key_id) != KEY_ID_SIZE or not signature.signature:
        raise ValueError("a note signature needs a 4-byte key ID and a non-empty signature")
    kept = tuple(
        s for s in note.signatures if (s.name, s.key_id) != (signature.name, signature.key_id)
    )
    if len(kept) + 1 > MAX_SIGNATURES:
        raise ValueError(f"a note may carry at most {MAX_SIGNATURES} signatures")
    return SignedNote(note.body, (*kept, signature)).text()


# --- Internals -----------------------------------------------------------------------------------


def _parse_signature_line(line: str) -> NoteSignature:
    if not line.startswith(SIGNATURE_PREFIX):
        raise MalformedError(f"signature line does not start with em dash and space: {line!r}")
    name, _, b64 = line[len(SIGNATURE_PREFIX) :].partition(" ")
    if not is_valid_key_name(name):
        raise MalformedError(f"signature line has invalid key name {name!r}")
    if not b64:
        raise MalformedError(f"signature line for {name!r} has no signature")
    raw = decode_base64(b64, f"signature by {name!r}")
    if len(raw) < KEY_ID_SIZE + 1:
        raise MalformedError(f"signature by {name!r} is {len(raw)} bytes, want at least 5")
    return NoteSignature(name, raw[:KEY_ID_SIZE], raw[KEY_ID_SIZE:])


def _index_verifiers(verifiers: Sequence[Verifier]) -> dict[tuple[str, bytes], Verifier]:
    known: dict[tuple[str, bytes], Verifier] = {}
    for v in verifiers:
        key = (v.name, v.key_id)
        if key in known and known[key] != v:
            # Two different keys with one name and key ID: the caller's trust list is broken.
            raise ValueError(f"ambiguous verifiers for key {v.name}+{v.key_id.hex()}")
        known[key] = v
    return known


def _check_body(body: str) -> None:
    if not body.endswith("\n"):
        raise MalformedError("note text must end with a newline")
    if not _is_utf8_encodable(body):
        raise MalformedError("note text is not valid UTF-8 (lone surrogate)")
    if match := _CONTROL.search(body):
        raise MalformedError(f"note text contains control character {match.group()!r}")


def _check_key_name(name: str) -> None:
    if not is_valid_key_name(name):
        raise MalformedError(f"invalid key name {name!r}: empty, or has a space or '+'")


def _is_utf8_encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
