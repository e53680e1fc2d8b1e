"""DSSE v1 envelopes (secure-systems-lab/dsse): signed statements as they arrive from suppliers.

An envelope is ``{"payloadType", "payload" (base64), "signatures": [{"keyid", "sig"}]}`` and each
signature is Ed25519 over PAE(payloadType, payload). This module owns the pre-authentication
encoding, strict JSON parsing of envelopes, signing, and verification against keys the caller
names by keyid. The payload is kept as the exact bytes decoded from the envelope and is never
parsed or re-serialized here: what is verified, stored and hashed is what the signer signed.
It never decides whether a payload type is supported or whether a keyid belongs to a party in
good standing; the caller does both.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from provenance.compact_json import loads_unambiguous
from provenance.errors import MalformedError, SignatureError
from provenance.keys import SIGNATURE_SIZE, keyid, public_key_bytes, sign_ed25519, verify_ed25519

_STANDARD = re.compile(r"[A-Za-z0-9+/]*=*")
_URL_SAFE = re.compile(r"[A-Za-z0-9_-]*=*")
_FROM_URL_SAFE = str.maketrans("-_", "+/")


def pae(payload_type: str, payload: bytes) -> bytes:
    """Return PAE = "DSSEv1" SP LEN(type) SP type SP LEN(payload) SP payload, lengths in bytes."""
    try:
        type_bytes = payload_type.encode("utf-8")
    except UnicodeEncodeError as e:
        raise MalformedError("payloadType is not valid UTF-8 (lone surrogate)") from e
    return b"DSSEv1 %d %b %d %b" % (len(type_bytes), type_bytes, len(payload), payload)


@dataclass(frozen=True)
class Signature:
    """One envelope signature: the keyid hint (empty when omitted) and the raw signature bytes."""

    keyid: str
    sig: bytes


@dataclass(frozen=True)
class Envelope:
    """A DSSE envelope: payload type, the exact payload bytes, and one or more signatures."""

    payload_type: str
    payload: bytes
    signatures: tuple[Signature, ...]

    @classmethod
    def from_json(cls, data: bytes) -> Envelope:
        """Parse a JSON envelope strictly; MalformedError naming the offending field.

        The input must be UTF-8 JSON holding one object with exactly ``payloadType`` (string),
        ``payload`` (base64 string) and ``signatures`` (non-empty list of objects with ``sig``, a
        base64 string, and optionally ``keyid``, a string). Standard and URL-safe base64 are both
        accepted, padded or not, as the DSSE protocol requires of verifiers. Duplicate keys,
        unknown fields, and non-canonical base64 are refused.
        """
        try:
            document = loads_unambiguous(data)
        except UnicodeDecodeError as e:
            raise MalformedError(f"envelope is not valid UTF-8: {e}") from e
        except ValueError as e:
            # JSONDecodeError is a ValueError; so are the duplicate-key and constant refusals.
            raise MalformedError(f"envelope is not valid JSON: {e}") from e
        return cls.from_document(document)

    @classmethod
    def from_document(cls, document: object) -> Envelope:
        """Check a decoded JSON envelope as :meth:`from_json` does after decoding; MalformedError
        naming the offending field. For a caller that decoded it already (one envelope of a
        batch) and stores its compact JSON encoding, which decodes to this same document."""
        envelope = _expect_object(
            document, "envelope", required={"payloadType", "payload", "signatures"}
        )
        payload_type = _expect_string(envelope["payloadType"], "payloadType")
        payload = _decode_base64(_expect_string(envelope["payload"], "payload"), "payload")
        items = envelope["signatures"]
        if not isinstance(items, list):
            raise MalformedError("signatures: expected a list")
        if not items:
            raise MalformedError("signatures: the list is empty")
        signatures = tuple(
            _parse_signature(item, f"signatures[{i}]") for i, item in enumerate(items)
        )
        return cls(payload_type, payload, signatures)

    def to_json(self) -> bytes:
        """Serialize as compact UTF-8 JSON, standard padded base64, keys in DSSE order."""
        document = {
            "payloadType": self.payload_type,
            "payload": base64.b64encode(self.payload).decode("ascii"),
            "signatures": [
                {"keyid": s.keyid, "sig": base64.b64encode(s.sig).decode("ascii")}
                for s in self.signatures
            ],
        }
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@functools.lru_cache(maxsize=64)
def _keyid_of(key: Ed25519PrivateKey) -> str:
    # A service signs with the same few keys all day; their keyids need computing once.
    return keyid(public_key_bytes(key))


def sign_envelope(payload_type: str, payload: bytes, keys: Sequence[Ed25519PrivateKey]) -> Envelope:
    """Sign PAE(payload_type, payload) with each key; keyids are SHA-256 hex of the public keys."""
    if not keys:
        raise ValueError("sign_envelope needs at least one key")
    message = pae(payload_type, payload)
    signatures = tuple(Signature(_keyid_of(k), sign_ed25519(k, message)) for k in keys)
    return Envelope(payload_type, bytes(payload), signatures)


def verify_envelope(envelope: Envelope, public_keys: Mapping[str, bytes]) -> list[str]:
    """Return the keyids, in order and each once, whose signatures verify over the envelope's PAE.

    public_keys maps keyid to raw 32-byte Ed25519 public key. Signatures whose keyid is not in it
    are skipped. SignatureError if a signature by a listed keyid fails, or if none verifies. Two
    keyids naming the same public key count once, so a threshold over the result counts keys.
    """
    message = pae(envelope.payload_type, envelope.payload)
    accepted: list[str] = []
    accepted_keys: set[bytes] = set()
    for i, signature in enumerate(envelope.signatures):
        public_key = public_keys.get(signature.keyid)
        if public_key is None:
            continue
        if len(signature.sig) != SIGNATURE_SIZE or not verify_ed25519(
            public_key, signature.sig, message
        ):
            raise SignatureError(f"signatures[{i}]: invalid signature by keyid {signature.keyid!r}")
        if public_key not in accepted_keys:
            accepted_keys.add(public_key)
            accepted.append(signature.keyid)
    if not accepted:
        raise SignatureError("envelope has no valid signature by a known keyid")
    return accepted


# --- Internals -----------------------------------------------------------------------------------


def _expect_object(
    value: object, what: str, required: set[str], optional: frozenset[str] = frozenset()
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedError(f"{what}: expected a JSON object")
    if value.keys() == required:  # the usual case, in one comparison
        return value
    for name in sorted(required):
        if name not in value:
            raise MalformedError(f"{what}: missing field {name!r}")
    for name in value:
        if name not in required and name not in optional:
            raise MalformedError(f"{what}: unknown field {name!r}")
    return value


def _expect_string(value: object, what: str) -> str:
    if type(value) is str and value.isascii():  # the usual case: ASCII has no lone surrogate
        return value
    if not isinstance(value, str):
        raise MalformedError(f"{what}: expected a string")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise MalformedError(f"{what}: not valid UTF-8 (lone surrogate escape)") from e
    return value


def _parse_signature(item: object, what: str) -> Signature:
    fields = _expect_object(item, what, required={"sig"}, optional=frozenset({"keyid"}))
    # The DSSE envelope lets empty fields be omitted; an omitted keyid is the empty hint.
    key = _expect_string(fields.get("keyid", ""), f"{what}.keyid")
    sig = _decode_base64(_expect_string(fields["sig"], f"{what}.sig"), f"{what}.sig")
    if not sig:
        raise MalformedError(f"{what}.sig: empty signature")
    return Signature(key, sig)


def _decode_base64(text: str, what: str) -> bytes:
    """Decode standard or URL-safe base64, padded or not; refuse mixed alphabets, bad padding."""
    # What signers almost always send, padded standard base64, is decoded and checked canonical
    # in two C calls; anything else (URL-safe, unpadded, or invalid) takes the general path below,
    # which accepts the same texts and names what is wrong with the others.
    try:
        data = binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):  # ValueError: text that is not ASCII
        pass
    else:
        if binascii.b2a_base64(data, newline=False) == text.encode("ascii"):
            return data
    if _STANDARD.fullmatch(text):
        standard = text
    elif _URL_SAFE.fullmatch(text):
        standard = text.translate(_FROM_URL_SAFE)
    else:
        raise MalformedError(f"{what}: not base64 (standard or URL-safe alphabet)")
    unpadded = standard.rstrip("=")
    padding = len(standard) - len(unpadded)
    if len(unpadded) % 4 == 1 or padding not in (0, -len(unpadded) % 4):
        raise MalformedError(f"{what}: bad length or padding for base64")
    try:
        data = binascii.a2b_base64(unpadded + "=" * (-len(unpadded) % 4), strict_mode=True)
    except binascii.Error as e:
        raise MalformedError(f"{what}: not base64: {e}") from e
    if base64.b64encode(data).decode("ascii").rstrip("=") != unpadded:
        raise MalformedError(f"{what}: non-canonical base64 (nonzero padding bits)")
    return data
