"""Signed statements: what a DSSE envelope's payload says, parsed without changing its bytes.

Every statement is a JSON object inside a DSSE envelope of payload type :data:`PAYLOAD_TYPE`, with at
least ``type`` (what kind of statement it is) and ``by`` (the id of the party that makes it, whose
key must sign it). The registry statements (parties and keys) are defined here with their bodies;
attestation statements (origin, transformation, ...) are checked against their published schemas
(:mod:`provenance.attestations`).

The payload is parsed to read it, never to re-serialize it: the log stores the envelope as received.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from provenance.attestations import ATTESTATION_TYPES, validate_attestation
from provenance.capture import CAPTURE, EPCIS_PAYLOAD_TYPE, Capture, parse_capture
from provenance.compact_json import loads_compact, object_without_duplicates
from provenance.dsse import Envelope, pae, sign_envelope
from provenance.entry import decode_leaf
from provenance.errors import AppendRefused, InvalidStatementError, MalformedError
from provenance.keys import verify_ed25519
from provenance.store.sql import Reader

PAYLOAD_TYPE = "application/vnd.provenance.statement+json"

ROLES = ("supplier", "certifier", "brand", "moderator", "operator")

PARTY_REGISTER = "party.register"
PARTY_SUSPEND = "party.suspend"
PARTY_REINSTATE = "party.reinstate"
KEY_ADD = "key.add"
KEY_REVOKE = "key.revoke"
REGISTRY_TYPES = (PARTY_REGISTER, PARTY_SUSPEND, PARTY_REINSTATE, KEY_ADD, KEY_REVOKE)

STATEMENT_TYPES = (*REGISTRY_TYPES, *ATTESTATION_TYPES, CAPTURE)
"""Entry kinds whose payload is a signed envelope."""

PARTY_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_GLN = re.compile(r"[0-9]{13}")
_COUNTRY = re.compile(r"[A-Z]{2}")
MAX_TEXT = 1000


@dataclass(frozen=True)
class Statement:
    """A parsed statement and the envelope it came in.

    An EPCIS capture names no party in its payload: its ``by`` is empty until the registry
    resolves it to the owner of the signing key (:meth:`Registry.resolve_party`).
    """

    envelope: Envelope
    type: str
    by: str
    body: dict[str, Any]
    capture: Capture | None = None

    @cached_property
    def signed_bytes(self) -> bytes:
        """What the signatures sign: PAE(payload type, payload)."""
        return pae(self.envelope.payload_type, self.envelope.payload)

    @cached_property
    def digest(self) -> bytes:
        """SHA-256 of the bytes the signatures sign: equal for two submissions of one statement."""
        return hashlib.sha256(self.signed_bytes).digest()

    def __getstate__(self) -> dict[str, Any]:
        # The PAE is as big as the payload and cheap to make again: a statement sent to another
        # process (replay's workers send registry statements and captures) goes without it.
        state = dict(self.__dict__)
        state.pop("signed_bytes", None)
        return state


def check_signatures(statement: Statement, keys: Mapping[str, bytes]) -> tuple[set[str], set[str]]:
    """Verify every signature on ``statement`` by a key in ``keys`` (by keyid) over its PAE bytes;
    return the keyids whose signature verified and those whose did not. Signatures by other keys
    are left out of both."""
    envelope = statement.envelope
    message = statement.signed_bytes
    verified: set[str] = set()
    failed: set[str] = set()
    for signature in envelope.signatures:
        public_key = keys.get(signature.keyid)
        if public_key is None:
            continue
        try:
            good = verify_ed25519(public_key, signature.sig, message)
        except MalformedError:  # not 64 bytes: a bad signature, not a malformed envelope
            good = False
        (verified if good else failed).add(signature.keyid)
    return verified, failed


_KNOWN_TYPES = (*REGISTRY_TYPES, *ATTESTATION_TYPES)
_decode_payload_json = json.JSONDecoder(object_pairs_hook=object_without_duplicates).decode


def parse_envelope(data: bytes) -> Envelope:
    """Parse a submitted DSSE envelope, converting parse errors into InvalidStatementError."""
    try:
        return Envelope.from_json(data)
    except MalformedError as e:
        raise InvalidStatementError(f"not a valid DSSE envelope: {e}") from e


def decode_payload(payload: bytes) -> Any:
    """Decode a statement payload as JSON, refusing duplicate keys; InvalidStatementError if it
    is not JSON."""
    body = loads_compact(payload)  # compact JSON (nearly every payload), in one C call
    if body is not None:
        return body
    try:
        # What json.loads does with bytes (any UTF, lone surrogates let through), with a decoder
        # built once rather than per call.
        text = payload.decode(json.detect_encoding(payload), "surrogatepass")
        return _decode_payload_json(text)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise InvalidStatementError(f"payload is not JSON: {e}") from e


def parse_statement(envelope: Envelope) -> Statement:
    """Read the statement inside ``envelope``; raise InvalidStatementError if it is not one."""
    if envelope.payload_type == EPCIS_PAYLOAD_TYPE:
        return Statement(envelope, CAPTURE, "", {}, parse_capture(envelope))
    if envelope.payload_type != PAYLOAD_TYPE:
        raise InvalidStatementError(
            f"payloadType is {envelope.payload_type!r}; statements use {PAYLOAD_TYPE!r}"
            f" and EPCIS documents {EPCIS_PAYLOAD_TYPE!r}"
        )
    body = decode_payload(envelope.payload)
    if not isinstance(body, dict):
        raise InvalidStatementError("payload must be a JSON object")
    kind = body.get("type")
    if not isinstance(kind, str) or kind not in _KNOWN_TYPES:
        known = ", ".join(_KNOWN_TYPES)
        raise InvalidStatementError(f"unknown statement type {kind!r}; known: {known}")
    by = body.get("by")
    if not isinstance(by, str) or not PARTY_ID.fullmatch(by):
        raise InvalidStatementError("'by' must be the id of the party making the statement")
    if kind in REGISTRY_TYPES:
        _REGISTRY_BODY[kind](body)
    else:
        validate_attestation(body)
    return Statement(envelope, kind, by, body)


# --- Registry statement bodies ------------------------------------------------------------------


def _text(body: dict[str, Any], name: str, *, required: bool = True, limit: int = MAX_TEXT) -> None:
    value = body.get(name)
    if value is None and not required:
        return
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InvalidStatementError(f"'{name}' must be a non-empty string of at most {limit} chars")


def _party_id(body: dict[str, Any], name: str = "party") -> None:
    value = body.get(name)
    if not isinstance(value, str) or not PARTY_ID.fullmatch(value):
        raise InvalidStatementError(f"'{name}' must be a party id ({PARTY_ID.pattern})")


def public_key_of(value: object) -> bytes:
    """Decode a base64 Ed25519 public key from a statement, or raise InvalidStatementError."""
    try:
        key = base64.b64decode(value, validate=True) if isinstance(value, str) else b""
    except ValueError:
        key = b""
    if len(key) != 32:
        raise InvalidStatementError("a public key must be the base64 of 32 Ed25519 key bytes")
    return key


def _register(body: dict[str, Any]) -> None:
    party = body.get("party")
    if not isinstance(party, dict):
        raise InvalidStatementError("'party' must be an object with id, role and name")
    _party_id(party, "id")
    if party.get("role") not in ROLES:
        raise InvalidStatementError(f"'party.role' must be one of {', '.join(ROLES)}")
    _text(party, "name", limit=200)
    if party.get("gln") is not None and not (
        isinstance(party["gln"], str) and _GLN.fullmatch(party["gln"]) and gln_ok(party["gln"])
    ):
        raise InvalidStatementError("'party.gln' must be a 13-digit GLN with a valid check digit")
    if party.get("country") is not None and not (
        isinstance(party["country"], str) and _COUNTRY.fullmatch(party["country"])
    ):
        raise InvalidStatementError("'party.country' must be an ISO 3166-1 alpha-2 code")
    _text(party, "website", required=False, limit=500)
    keys = body.get("keys")
    if not isinstance(keys, list) or not 1 <= len(keys) <= 16:
        raise InvalidStatementError("'keys' must list 1 to 16 base64 Ed25519 public keys")
    for key in keys:
        public_key_of(key)


def _status_change(body: dict[str, Any]) -> None:
    _party_id(body)
    _text(body, "reason")


def _key_add(body: dict[str, Any]) -> None:
    _party_id(body)
    public_key_of(body.get("public_key"))


def _key_revoke(body: dict[str, Any]) -> None:
    _party_id(body)
    keyid = body.get("keyid")
    if not isinstance(keyid, str) or not re.fullmatch(r"[0-9a-f]{64}", keyid):
        raise InvalidStatementError("'keyid' must be the 64-hex-digit id of a key")
    _text(body, "reason")


_REGISTRY_BODY = {
    PARTY_REGISTER: _register,
    PARTY_SUSPEND: _status_change,
    PARTY_REINSTATE: _status_change,
    KEY_ADD: _key_add,
    KEY_REVOKE: _key_revoke,
}


def gln_ok(digits: str) -> bool:
    """Return whether a GS1 key's last digit is the GS1 mod-10 check digit of the others."""
    body, check = digits[:-1], int(digits[-1])
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


def statement_at(reader: Reader, index: int) -> tuple[str, str] | None:
    """Return (type, party) of the statement stored at ``index``, or None if it holds none."""
    leaf = reader.leaf(index)
    if leaf is None:
        return None
    try:
        statement = parse_statement(parse_envelope(decode_leaf(leaf).payload))
    except (AppendRefused, MalformedError):
        return None
    return statement.type, statement.by


def sign_statement(body: dict[str, Any], keys: Sequence[Ed25519PrivateKey]) -> bytes:
    """Serialize ``body`` as a statement payload, sign it with ``keys`` and return the envelope's
    JSON bytes, ready to submit."""
    payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return sign_envelope(PAYLOAD_TYPE, payload, keys).to_json()
