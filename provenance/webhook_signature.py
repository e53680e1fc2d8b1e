"""Signatures around webhooks, both ways: a party's signed request to register or remove a webhook,
and the operator's signature on every delivery.

Requests. A party asks for a webhook by signing, with one of its active keys, a DSSE envelope of
payload type :data:`WEBHOOK_PAYLOAD_TYPE` whose payload is a JSON object::

    {"action": "webhook.register", "party": "<its id>", "time": <unix seconds>,
     "url": "https://...", "events": ["complaint"]}
    {"action": "webhook.remove", "party": "<its id>", "time": <unix seconds>, "webhook": "<id>"}

Webhooks are operational settings, not facts, so these envelopes never enter the log. ``time`` must
be within :data:`REQUEST_TOLERANCE_S` of the server's clock, so that a request seen once cannot be
replayed later (to bring back a webhook its party removed).

Deliveries. Each delivery's body is signed by the operator's governance key (party ``operator`` in
the log, where anyone can read its public keys)::

    Provenance-Signature: t=<unix seconds>,keyid=<hex SHA-256 of the public key>,sig=<base64>

where ``sig`` is Ed25519 over the bytes ``<t>.`` followed by the exact body bytes. A receiver checks
it with :func:`verify_delivery`; the body's ``delivery`` field, covered by the signature, is the id
to deduplicate on, since a delivery may arrive more than once.

This module does no I/O and decides nothing about which keys to trust: callers pass the registry
(requests) or the operator's public key (deliveries).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from provenance.compact_json import object_without_duplicates
from provenance.dsse import Envelope, pae, sign_envelope
from provenance.errors import (
    MalformedError,
    RevokedKeyError,
    SignatureError,
    SuspendedPartyError,
)
from provenance.keys import keyid, public_key_bytes, verify_ed25519
from provenance.registry import Registry

WEBHOOK_PAYLOAD_TYPE = "application/vnd.provenance.webhook+json"
REGISTER = "webhook.register"
REMOVE = "webhook.remove"
REQUEST_TOLERANCE_S = 300
"""How far a signed request's ``time`` may be from the server's clock, in seconds."""

SIGNATURE_HEADER = "Provenance-Signature"
DELIVERY_HEADER = "Provenance-Delivery"
EVENT_HEADER = "Provenance-Event"
DELIVERY_TOLERANCE_S = 300
"""The tolerance receivers are advised to use: a delivery signed longer ago is refused."""

_HEADER = re.compile(r"t=([0-9]{1,12}),keyid=([0-9a-f]{64}),sig=([A-Za-z0-9+/]{86}==)")


# --- Errors --------------------------------------------------------------------------------------


class RequestSignatureError(SignatureError):
    """A webhook request carries no valid signature by a key of the party it is for."""

    code = "bad-request-signature"
    status = 401


class DeliverySignatureError(SignatureError):
    """A delivery's signature does not verify: its body or timestamp changed, or another key made
    it."""

    code = "bad-delivery-signature"
    status = 401


class KeyMismatchError(DeliverySignatureError):
    """A delivery names a signing key other than the one the receiver checks against."""

    code = "delivery-key-mismatch"

    def __init__(self, expected_keyid: str, presented_keyid: str) -> None:
        self.expected_keyid = expected_keyid
        self.presented_keyid = presented_keyid
        super().__init__(f"signed by key {presented_keyid}, expected key {expected_keyid}")

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        return type(self), (self.expected_keyid, self.presented_keyid)


class StaleSignatureError(SignatureError):
    """A genuine signature made too long ago (or too far ahead): a replay, or a skewed clock."""

    code = "stale-signature"
    status = 401

    def __init__(self, timestamp: float, now: float, tolerance_s: float) -> None:
        self.timestamp = timestamp
        self.now = now
        self.tolerance_s = tolerance_s
        super().__init__(
            f"signed at {timestamp:.0f}, {abs(now - timestamp):.0f} s from now ({now:.0f});"
            f" at most {tolerance_s:.0f} s allowed"
        )

    def __reduce__(self) -> tuple[type, tuple[float, float, float]]:
        return type(self), (self.timestamp, self.now, self.tolerance_s)


# --- Requests ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedRequest:
    """A webhook request that verified: its payload, and the party key that signed it."""

    payload: dict[str, Any]
    keyid: str


def sign_request(
    keys: Sequence[Ed25519PrivateKey],
    party_id: str,
    action: str,
    fields: Mapping[str, Any],
    *,
    now: float | None = None,
) -> bytes:
    """Return the JSON bytes of a DSSE envelope asking for ``action`` for ``party_id`` with
    ``fields`` (``url`` and ``events``, or ``webhook``), dated ``now``, signed with ``keys``."""
    body = {"action": action, "party": party_id, "time": int(time.time() if now is None else now)}
    payload = json.dumps({**body, **fields}, separators=(",", ":"), ensure_ascii=False).encode()
    return sign_envelope(WEBHOOK_PAYLOAD_TYPE, payload, keys).to_json()


def open_request(
    data: bytes,
    registry: Registry,
    party_id: str,
    action: str,
    *,
    now: float | None = None,
    tolerance_s: float = REQUEST_TOLERANCE_S,
) -> SignedRequest:
    """Return the webhook request ``data`` (a DSSE envelope's JSON bytes) after checking, in
    order:

    1. it is a DSSE envelope of payload type WEBHOOK_PAYLOAD_TYPE (MalformedError);
    2. the party is registered and not suspended (RequestSignatureError, SuspendedPartyError);
    3. a signature by a key of the party verifies (RequestSignatureError), and that key is not
       revoked (RevokedKeyError, when only revoked keys signed);
    4. the payload is a JSON object whose ``action`` and ``party`` are the ones asked for
       (MalformedError if not an object, RequestSignatureError if signed for something else);
    5. its ``time`` is within ``tolerance_s`` of ``now`` (StaleSignatureError).
    """
    # 1
    envelope = Envelope.from_json(data)
    if envelope.payload_type != WEBHOOK_PAYLOAD_TYPE:
        raise MalformedError(
            f"payloadType is {envelope.payload_type!r}; webhook requests use"
            f" {WEBHOOK_PAYLOAD_TYPE!r}"
        )
    # 2
    party = registry.parties.get(party_id)
    if party is None:
        raise RequestSignatureError(f"no party {party_id!r} is registered")
    if party.status == "suspended":
        raise SuspendedPartyError(party_id, party.status_reason or "")
    # 3
    message = pae(envelope.payload_type, envelope.payload)
    good = []
    for signature in envelope.signatures:
        key = registry.keys.get(signature.keyid)
        if key is None or key.party_id != party_id:
            continue
        try:
            if verify_ed25519(key.public_key, signature.sig, message):
                good.append(key)
        except MalformedError:  # not 64 bytes: a bad signature
            continue
    if not good:
        raise RequestSignatureError(f"no valid signature by a key of party {party_id!r}")
    active = [k for k in good if k.revoked_at is None]
    if not active:
        raise RevokedKeyError(good[0].keyid, good[0].revoked_at or 0)
    # 4
    try:
        payload = json.loads(envelope.payload, object_pairs_hook=object_without_duplicates)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise MalformedError(f"webhook request payload is not JSON: {e}") from e
    if not isinstance(payload, dict):
        raise MalformedError("webhook request payload must be a JSON object")
    if payload.get("action") != action or payload.get("party") != party_id:
        raise RequestSignatureError(
            f"the signed request is {payload.get('action')!r} for party"
            f" {payload.get('party')!r}, not {action!r} for {party_id!r}"
        )
    # 5
    signed_at = payload.get("time")
    if isinstance(signed_at, bool) or not isinstance(signed_at, int | float):
        raise MalformedError("webhook request payload needs 'time', in unix seconds")
    current = time.time() if now is None else now
    if abs(current - signed_at) > tolerance_s:
        raise StaleSignatureError(float(signed_at), current, tolerance_s)
    return SignedRequest(payload, active[0].keyid)


# --- Deliveries ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliverySignature:
    """A parsed ``Provenance-Signature`` header."""

    timestamp: int
    keyid: str
    sig: bytes


def signed_bytes(timestamp: int, body: bytes) -> bytes:
    """The bytes a delivery's signature covers: the decimal timestamp, a dot, the exact body."""
    return b"%d." % timestamp + body


def sign_delivery(key: Ed25519PrivateKey, body: bytes, timestamp: int) -> str:
    """Return the ``Provenance-Signature`` header value signing ``body`` at ``timestamp``."""
    sig = base64.b64encode(key.sign(signed_bytes(timestamp, body))).decode()
    return f"t={timestamp},keyid={keyid(public_key_bytes(key))},sig={sig}"


def parse_signature_header(value: str) -> DeliverySignature:
    """Parse ``t=<digits>,keyid=<64 hex>,sig=<base64 of 64 bytes>``; MalformedError otherwise."""
    match = _HEADER.fullmatch(value.strip())
    if match is None:
        raise MalformedError(
            f"{SIGNATURE_HEADER} must read t=<unix seconds>,keyid=<64 hex>,sig=<base64>"
        )
    try:
        sig = base64.b64decode(match[3], validate=True)
    except binascii.Error as e:
        raise MalformedError(f"{SIGNATURE_HEADER}: sig is not base64: {e}") from e
    return DeliverySignature(int(match[1]), match[2], sig)


def verify_delivery(
    headers: Mapping[str, str],
    body: bytes,
    public_key: bytes,
    tolerance_s: float = DELIVERY_TOLERANCE_S,
    *,
    now: float | None = None,
) -> None:
    """Return if ``body``, received with ``headers`` (names in any case), is signed by the raw
    Ed25519 ``public_key`` within ``tolerance_s`` seconds of ``now``; raise otherwise:

    1. the header is there and well formed (MalformedError);
    2. it names ``public_key``'s keyid (KeyMismatchError);
    3. the signature over ``<t>.<body>`` verifies (DeliverySignatureError);
    4. ``t`` is within ``tolerance_s`` of ``now`` (StaleSignatureError: genuine, but old).
    """
    # 1
    value = next((v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER.lower()), None)
    if value is None:
        raise MalformedError(f"no {SIGNATURE_HEADER} header")
    parsed = parse_signature_header(value)
    # 2
    expected = keyid(public_key)
    if parsed.keyid != expected:
        raise KeyMismatchError(expected, parsed.keyid)
    # 3
    if not verify_ed25519(public_key, parsed.sig, signed_bytes(parsed.timestamp, body)):
        raise DeliverySignatureError("the delivery's signature does not verify over its body")
    # 4
    current = time.time() if now is None else now
    if abs(current - parsed.timestamp) > tolerance_s:
        raise StaleSignatureError(float(parsed.timestamp), current, tolerance_s)
