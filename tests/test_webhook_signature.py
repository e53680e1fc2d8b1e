"""Webhook signatures: every delivery rule and every request rule has a tamper test that asserts
the exact error, and a genuine delivery or request passes."""

from __future__ import annotations

import base64
import json
import pickle
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from factories import kid
from provenance.dsse import Envelope, sign_envelope
from provenance.errors import (
    MalformedError,
    ProvenanceError,
    RevokedKeyError,
    SuspendedPartyError,
)
from provenance.keys import generate_private_key, public_key_bytes
from provenance.registry import KeyState, PartyState, Registry
from provenance.webhook_signature import (
    REGISTER,
    REMOVE,
    SIGNATURE_HEADER,
    WEBHOOK_PAYLOAD_TYPE,
    DeliverySignatureError,
    KeyMismatchError,
    RequestSignatureError,
    StaleSignatureError,
    open_request,
    parse_signature_header,
    sign_delivery,
    sign_request,
    verify_delivery,
)

OPERATOR = generate_private_key()
PUBLIC = public_key_bytes(OPERATOR)
BODY = b'{"event":"complaint","delivery":"dl_1","review":7,"text":"Bag arrived torn"}'
T = 1_800_000_000


def headers(value: str) -> dict[str, str]:
    return {SIGNATURE_HEADER: value, "Content-Type": "application/json"}


def signed(body: bytes = BODY, t: int = T, key: Ed25519PrivateKey = OPERATOR) -> dict[str, str]:
    return headers(sign_delivery(key, body, t))


# --- Deliveries ----------------------------------------------------------------------------------


def test_a_genuine_delivery_verifies() -> None:
    verify_delivery(signed(), BODY, PUBLIC, 300, now=T + 299)
    verify_delivery(signed(), BODY, PUBLIC, 300, now=T - 299)  # clocks differ both ways


def test_header_names_are_matched_in_any_case() -> None:
    value = sign_delivery(OPERATOR, BODY, T)
    verify_delivery({"provenance-signature": value}, BODY, PUBLIC, 300, now=T)
    verify_delivery({"PROVENANCE-SIGNATURE": value}, BODY, PUBLIC, 300, now=T)


def test_the_header_reads_t_keyid_sig() -> None:
    parsed = parse_signature_header(sign_delivery(OPERATOR, BODY, T))
    assert parsed.timestamp == T
    assert parsed.keyid == kid(OPERATOR)
    assert OPERATOR.public_key().verify(parsed.sig, b"%d." % T + BODY) is None


@pytest.mark.parametrize(
    "body",
    [
        BODY.replace(b"torn", b"fine"),
        BODY + b" ",
        BODY[:-1],
        b"",
        json.dumps(json.loads(BODY)).encode(),  # the same JSON, re-serialized: other bytes
    ],
    ids=["text-changed", "byte-appended", "byte-dropped", "empty", "reserialized"],
)
def test_a_changed_body_fails(body: bytes) -> None:
    with pytest.raises(DeliverySignatureError, match="does not verify"):
        verify_delivery(signed(), body, PUBLIC, 300, now=T)


def test_a_changed_timestamp_fails() -> None:
    value = sign_delivery(OPERATOR, BODY, T).replace(f"t={T}", f"t={T + 60}")
    with pytest.raises(DeliverySignatureError, match="does not verify"):
        verify_delivery(headers(value), BODY, PUBLIC, 300, now=T + 60)


@pytest.mark.parametrize("now", [T + 301, T - 301, T + 10**9])
def test_a_genuine_but_old_or_future_signature_is_stale(now: int) -> None:
    with pytest.raises(StaleSignatureError) as caught:
        verify_delivery(signed(), BODY, PUBLIC, 300, now=now)
    assert (caught.value.timestamp, caught.value.now, caught.value.tolerance_s) == (T, now, 300)


def test_a_delivery_by_another_key_names_that_key() -> None:
    other = generate_private_key()
    with pytest.raises(KeyMismatchError) as caught:
        verify_delivery(signed(key=other), BODY, PUBLIC, 300, now=T)
    assert caught.value.expected_keyid == kid(OPERATOR)
    assert caught.value.presented_keyid == kid(other)


def test_another_keys_signature_under_the_operators_keyid_fails() -> None:
    forged = sign_delivery(generate_private_key(), BODY, T).split(",sig=")[1]
    value = f"t={T},keyid={kid(OPERATOR)},sig={forged}"
    with pytest.raises(DeliverySignatureError, match="does not verify"):
        verify_delivery(headers(value), BODY, PUBLIC, 300, now=T)


GOOD = sign_delivery(OPERATOR, BODY, T)
SIG = GOOD.split(",sig=")[1]


@pytest.mark.parametrize(
    "value",
    [
        "",
        "garbage",
        f"keyid={kid(OPERATOR)},t={T},sig={SIG}",  # fields out of order
        f"t={T},keyid={kid(OPERATOR)}",  # no sig
        f"t=-{T},keyid={kid(OPERATOR)},sig={SIG}",
        f"t={T}.5,keyid={kid(OPERATOR)},sig={SIG}",
        f"t={T},keyid={kid(OPERATOR).upper()},sig={SIG}",
        f"t={T},keyid={kid(OPERATOR)[:-2]},sig={SIG}",
        f"t={T},keyid={kid(OPERATOR)},sig={SIG[:-4]}==",  # 61 bytes
        f"t={T},keyid={kid(OPERATOR)},sig={SIG.replace('+', '-').replace('/', '_')}x",
        f"{GOOD},extra=1",
        f"{GOOD},{GOOD}",
    ],
)
def test_a_malformed_header_is_refused(value: str) -> None:
    with pytest.raises(MalformedError):
        verify_delivery(headers(value), BODY, PUBLIC, 300, now=T)


def test_a_missing_header_is_refused() -> None:
    with pytest.raises(MalformedError, match="no Provenance-Signature"):
        verify_delivery({"Content-Type": "application/json"}, BODY, PUBLIC, 300, now=T)


def test_errors_survive_pickling() -> None:
    for error in (KeyMismatchError("a" * 64, "b" * 64), StaleSignatureError(1.0, 2.0, 3.0)):
        again = pickle.loads(pickle.dumps(error))
        assert type(again) is type(error)
        assert str(again) == str(error)


# --- Requests ------------------------------------------------------------------------------------

BRAND = generate_private_key()
OLD = generate_private_key()
STRANGER = generate_private_key()
GROCER = generate_private_key()
NOW = 1_800_000_000.0
HOOK = {"url": "https://brand.example/hooks", "events": ["complaint"]}


@pytest.fixture
def registry() -> Registry:
    """brand with an active key and a revoked one; grocer, suspended; stranger."""
    registry = Registry()
    for index, (party, status) in enumerate(
        [("brand", "active"), ("grocer", "suspended"), ("stranger", "active")]
    ):
        registry.parties[party] = PartyState(
            party, "brand", party.title(), None, None, None, status,
            "unpaid fees" if status == "suspended" else None, index, index,
        )  # fmt: skip
    for party, key, revoked in [
        ("brand", BRAND, None),
        ("brand", OLD, 9),
        ("grocer", GROCER, None),
        ("stranger", STRANGER, None),
    ]:
        registry.keys[kid(key)] = KeyState(kid(key), party, public_key_bytes(key), 1, revoked)
    return registry


def request(key: Ed25519PrivateKey, party: str = "brand", action: str = REGISTER,
            fields: dict[str, Any] | None = None, now: float = NOW) -> bytes:  # fmt: skip
    return sign_request([key], party, action, HOOK if fields is None else fields, now=now)


def test_a_request_signed_by_an_active_key_of_the_party_opens(registry: Registry) -> None:
    opened = open_request(request(BRAND), registry, "brand", REGISTER, now=NOW + 299)
    assert opened.keyid == kid(BRAND)
    assert opened.payload == {"action": REGISTER, "party": "brand", "time": int(NOW), **HOOK}


def test_an_active_signature_beside_a_revoked_one_is_enough(registry: Registry) -> None:
    data = sign_envelope(WEBHOOK_PAYLOAD_TYPE, Envelope.from_json(request(BRAND)).payload,
                         [OLD, BRAND]).to_json()  # fmt: skip
    assert open_request(data, registry, "brand", REGISTER, now=NOW).keyid == kid(BRAND)


def _tampered_payload(data: bytes) -> bytes:
    document = json.loads(data)
    payload = json.loads(base64.b64decode(document["payload"]))
    payload["url"] = "https://attacker.example/"
    document["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    return json.dumps(document).encode()


def _other_type(data: bytes) -> bytes:
    payload = Envelope.from_json(data).payload
    return sign_envelope("application/vnd.provenance.statement+json", payload, [BRAND]).to_json()


@pytest.mark.parametrize(
    ("data", "party", "action", "error", "match"),
    [
        (b"{}", "brand", REGISTER, MalformedError, "missing field"),
        (b"not json", "brand", REGISTER, MalformedError, "not valid JSON"),
        (_other_type(request(BRAND)), "brand", REGISTER, MalformedError, "payloadType"),
        (_tampered_payload(request(BRAND)), "brand", REGISTER, RequestSignatureError,
         "no valid signature"),
        (request(STRANGER, party="brand"), "brand", REGISTER, RequestSignatureError,
         "no valid signature"),
        (request(STRANGER, party="stranger"), "brand", REGISTER, RequestSignatureError,
         "no valid signature"),
        (request(OLD), "brand", REGISTER, RevokedKeyError, "revoked"),
        (request(GROCER, party="grocer"), "grocer", REGISTER, SuspendedPartyError, "unpaid fees"),
        (request(BRAND), "nobody", REGISTER, RequestSignatureError, "no party"),
        (request(BRAND, action=REMOVE), "brand", REGISTER, RequestSignatureError,
         "'webhook.remove' for party 'brand', not 'webhook.register'"),
        (request(BRAND), "brand", REMOVE, RequestSignatureError, "not 'webhook.remove'"),
        (request(BRAND, now=NOW - 301), "brand", REGISTER, StaleSignatureError, "at most 300"),
        (request(BRAND, now=NOW + 301), "brand", REGISTER, StaleSignatureError, "at most 300"),
    ],
    ids=["not-an-envelope", "not-json", "statement-type", "payload-changed", "another-partys-key",
         "signed-for-another-party", "revoked-key", "suspended-party", "unknown-party",
         "signed-for-removal", "signed-for-registration", "stale", "future"],
)  # fmt: skip
def test_each_request_rule_refuses_with_its_error(
    registry: Registry,
    data: bytes,
    party: str,
    action: str,
    error: type[ProvenanceError],
    match: str,
) -> None:
    with pytest.raises(error, match=match):
        open_request(data, registry, party, action, now=NOW)


@pytest.mark.parametrize(
    "payload",
    [b"[]", b'"x"', b'{"action":"webhook.register","party":"brand"}',
     b'{"action":"webhook.register","party":"brand","time":"soon"}',
     b'{"action":"webhook.register","party":"brand","time":true}',
     b'{"action":"webhook.register","action":"webhook.register","party":"brand","time":1}'],
    ids=["list", "string", "no-time", "time-text", "time-bool", "duplicate-key"],
)  # fmt: skip
def test_a_signed_payload_that_is_not_a_dated_request_is_malformed(
    registry: Registry, payload: bytes
) -> None:
    data = sign_envelope(WEBHOOK_PAYLOAD_TYPE, payload, [BRAND]).to_json()
    with pytest.raises(MalformedError):
        open_request(data, registry, "brand", REGISTER, now=NOW)
