"""Tests for provenance.dsse: PAE, strict envelope parsing, signing and verification."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils

from provenance.dsse import Envelope, Signature, pae, sign_envelope, verify_envelope
from provenance.errors import MalformedError, SignatureError
from provenance.keys import generate_private_key, keyid, private_key_from_seed, public_key_bytes

# --- secure-systems-lab/dsse protocol.md, "Test Vectors" -----------------------------------------

SPEC_PAYLOAD_TYPE = "http://example.com/HelloWorld"
SPEC_SIG = (
    "A3JqsQGtVsJ2O2xqrI5IcnXip5GToJ3F+FnZ+O88SjtR6rDAajabZKciJTfUiHqJPcIAriEGAHTVeCUjW2JIZA=="
)
SPEC_ENVELOPE = (
    b'{"payload": "aGVsbG8gd29ybGQ=",\n'
    b' "payloadType": "http://example.com/HelloWorld",\n'
    b' "signatures": [{"sig": "' + SPEC_SIG.encode() + b'"}]}'
)
# ECDSA over NIST P-256 with SHA-256, signature as raw r || s.
SPEC_ECDSA_X = 46950820868899156662930047687818585632848591499744589407958293238635476079160
SPEC_ECDSA_Y = 5640078356564379163099075877009565129882514886557779369047442380624545832820


def test_pae_known_answer_from_the_spec() -> None:
    assert pae(SPEC_PAYLOAD_TYPE, b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_spec_envelope_parses_and_its_ecdsa_signature_covers_our_pae() -> None:
    envelope = Envelope.from_json(SPEC_ENVELOPE)
    assert envelope.payload_type == SPEC_PAYLOAD_TYPE
    assert envelope.payload == b"hello world"
    assert envelope.signatures[0].keyid == ""  # omitted in the spec's example
    sig = envelope.signatures[0].sig
    public = ec.EllipticCurvePublicNumbers(SPEC_ECDSA_X, SPEC_ECDSA_Y, ec.SECP256R1()).public_key()
    der = utils.encode_dss_signature(
        int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
    )
    public.verify(der, pae(envelope.payload_type, envelope.payload), ec.ECDSA(hashes.SHA256()))


def test_pae_counts_utf8_bytes_and_handles_the_empty_payload() -> None:
    assert pae("tÿpe", b"") == "DSSEv1 5 tÿpe 0 ".encode()
    assert pae("", b"x") == b"DSSEv1 0  1 x"


# --- secure-systems-lab/dsse testvectors/vectors.json --------------------------------------------
# Ed25519 keys A and B are RFC 8032 section 7.1 TEST 1 and TEST 2.

VECTOR_KEYS = {
    "A": "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    "B": "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
}
INTOTO = "application/vnd.in-toto+json"
STATEMENT64 = "eyJfdHlwZSI6Imh0dHBzOi8vaW4tdG90by5pby9TdGF0ZW1lbnQvdjEifQ=="
SIG_A = "2WAfaHm5jluo0w+0rk8uVkluELJYWjSmU9x7EUzx+AyteDGJ4/nqyJXfmAUVFIAoQafWm7AxBZNw5M9ixNHiCA=="
SIG_B = "c1+67/aT0yqEpwx8PsVY3MLHsj9D0CZ014/Fv/QlG59P+9CobUZ7xECJ/V3USG0Ob9CiE5LjReEZUzNF2l7eBw=="
PAE_STATEMENT = (
    "445353457631203238206170706c69636174696f6e2f766e642e696e2d746f746f2b6a736f6e203433207b225f74"
    "797065223a2268747470733a2f2f696e2d746f746f2e696f2f53746174656d656e742f7631227d"
)


def _envelope(payload: str, payload_type: str, *sigs: tuple[str | None, str]) -> dict[str, Any]:
    return {
        "payload": payload,
        "payloadType": payload_type,
        "signatures": [{"sig": s, **({"keyid": k} if k else {})} for k, s in sigs],
    }


DSSE_VECTORS: list[dict[str, Any]] = [
    {
        "id": "single-signature",
        "envelope": _envelope(STATEMENT64, INTOTO, ("A", SIG_A)),
        "trustedKeys": ["A"],
        "threshold": 1,
        "supported": [INTOTO],
        "pae": PAE_STATEMENT,
        "expect": "accept",
    },
    {
        "id": "url-safe-base64",
        "envelope": _envelope(
            "-_-_Pj8=",
            INTOTO,
            (
                "A",
                "P-_KHICeR7tI6S_YyejJTRtrXhcQyQ2LYPaL8h90KjC9qN8HU_svOQ6TuDOT1HIrsGW886DbWNWcCmX5twLrAw==",
            ),
        ),
        "trustedKeys": ["A"],
        "threshold": 1,
        "supported": [INTOTO],
        "pae": "445353457631203238206170706c69636174696f6e2f766e642e696e2d746f746f2b6a736f6e"
        "203520fbffbf3e3f",
        "expect": "accept",
    },
    {
        "id": "payload-type-swapped",
        "envelope": _envelope(STATEMENT64, "application/vnd.example.other+json", ("A", SIG_A)),
        "trustedKeys": ["A"],
        "threshold": 1,
        "supported": [INTOTO, "application/vnd.example.other+json"],
        "pae": PAE_STATEMENT,
        "expect": "reject",
    },
    {
        "id": "non-ascii-payload-type",
        "envelope": _envelope(
            STATEMENT64,
            "application/vnd.exämple+json",
            (
                "A",
                "xmSk/ug66ysT7ayhkCIjhAq42zgZXSsEWuzUaNL7w2eGAdF/NU6/fRXPtmfN+5DNSAs5/i2lUnHjbbjPsu0tAw==",
            ),
        ),
        "trustedKeys": ["A"],
        "threshold": 1,
        "supported": ["application/vnd.exämple+json"],
        "pae": "445353457631203239206170706c69636174696f6e2f766e642e6578c3a46d706c652b6a736f6e"
        "203433207b225f74797065223a2268747470733a2f2f696e2d746f746f2e696f2f53746174656d656e742f"
        "7631227d",
        "expect": "accept",
    },
    {
        "id": "empty-payload",
        "envelope": _envelope(
            "",
            INTOTO,
            (
                "A",
                "gSggCAaTLTYyRH6FIDBem6meyIynsYy8RTHVzwx9tnTb7Bg/1jMWnuVgI/gffqmbsC2VX5/jHfkkDqsj7CDbDg==",
            ),
        ),
        "trustedKeys": ["A"],
        "threshold": 1,
        "supported": [INTOTO],
        "pae": "445353457631203238206170706c69636174696f6e2f766e642e696e2d746f746f2b6a736f6e203020",
        "expect": "accept",
    },
    {
        "id": "empty-payload-type",
        "envelope": _envelope(
            STATEMENT64,
            "",
            (
                "A",
                "iC3q/+3Rm0+lpAJRueDmDh15PnwCfxKmS0NAfKsbv+zgulXQC/WM9trc+j1XEqlwDIg/vf/uNfebeD6sxInrDg==",
            ),
        ),
        "trustedKeys": ["A"],
        "threshold": 1,
        "supported": [INTOTO],
        "pae": "445353457631203020203433207b225f74797065223a2268747470733a2f2f696e2d746f746f2e69"
        "6f2f53746174656d656e742f7631227d",
        "expect": "reject",
    },
    {
        "id": "threshold-two-distinct-keys",
        "envelope": _envelope(STATEMENT64, INTOTO, ("A", SIG_A), ("B", SIG_B)),
        "trustedKeys": ["A", "B"],
        "threshold": 2,
        "supported": [INTOTO],
        "pae": PAE_STATEMENT,
        "expect": "accept",
    },
    {
        "id": "threshold-two-one-key-twice",
        "envelope": _envelope(STATEMENT64, INTOTO, ("A", SIG_A), ("A", SIG_A)),
        "trustedKeys": ["A", "B"],
        "threshold": 2,
        "supported": [INTOTO],
        "pae": PAE_STATEMENT,
        "expect": "reject",
    },
    {
        "id": "threshold-two-without-keyids",
        "envelope": _envelope(STATEMENT64, INTOTO, (None, SIG_A), (None, SIG_B)),
        "trustedKeys": ["A", "B"],
        "threshold": 2,
        "supported": [INTOTO],
        "pae": PAE_STATEMENT,
        "expect": "accept",
    },
]

# Our profile finds a signature's key only through its keyid (trying every trusted key against
# keyless signatures would cost signatures x keys verifications), so keyless envelopes never
# verify here, although DSSE allows a verifier to try all keys.
KEYID_REQUIRED = {"threshold-two-without-keyids"}


def _accepts(vector: dict[str, Any], envelope: Envelope) -> bool:
    """Apply the vector's policy: t-of-n unique trusted keys, then a supported payload type."""
    keys = {
        name: public_key_bytes(private_key_from_seed(bytes.fromhex(VECTOR_KEYS[name])))
        for name in vector["trustedKeys"]
    }
    try:
        verified = verify_envelope(envelope, keys)
    except SignatureError:
        return False
    return len(verified) >= vector["threshold"] and envelope.payload_type in vector["supported"]


@pytest.mark.parametrize("vector", DSSE_VECTORS, ids=[v["id"] for v in DSSE_VECTORS])
def test_dsse_protocol_vectors(vector: dict[str, Any]) -> None:
    envelope = Envelope.from_json(json.dumps(vector["envelope"], ensure_ascii=False).encode())
    if vector["id"] != "payload-type-swapped":
        assert pae(envelope.payload_type, envelope.payload).hex() == vector["pae"]
    expected = vector["expect"] == "accept" and vector["id"] not in KEYID_REQUIRED
    assert _accepts(vector, envelope) is expected


def test_dsse_vector_keys_reproduce_the_vector_signatures() -> None:
    key = private_key_from_seed(bytes.fromhex(VECTOR_KEYS["A"]))
    assert base64.b64encode(key.sign(bytes.fromhex(PAE_STATEMENT))).decode() == SIG_A


# --- Parsing -------------------------------------------------------------------------------------


def _json(document: object) -> bytes:
    return json.dumps(document).encode()


GOOD = {"payloadType": INTOTO, "payload": STATEMENT64, "signatures": [{"keyid": "A", "sig": SIG_A}]}


def _with(**fields: object) -> dict[str, object]:
    return {**GOOD, **fields}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\xff{}", "not valid UTF-8"),
        (_json(GOOD).decode().encode("utf-16"), "not valid UTF-8"),
        (b"\xef\xbb\xbf" + _json(GOOD), "not valid JSON"),
        (b"{", "not valid JSON"),
        (b"", "not valid JSON"),
        (_json(GOOD) + b"{}", "not valid JSON"),
        (b"[]", "envelope: expected a JSON object"),
        (b'"envelope"', "envelope: expected a JSON object"),
        (b"null", "envelope: expected a JSON object"),
        (_json({"payload": STATEMENT64, "signatures": []}), "missing field 'payloadType'"),
        (_json({"payloadType": INTOTO, "signatures": []}), "missing field 'payload'"),
        (_json({"payloadType": INTOTO, "payload": ""}), "missing field 'signatures'"),
        (_json(_with(payloadType=1)), "payloadType: expected a string"),
        (_json(_with(payloadType=None)), "payloadType: expected a string"),
        (_json(_with(payload=["x"])), "payload: expected a string"),
        (_json(_with(signatures={})), "signatures: expected a list"),
        (_json(_with(signatures=[])), "signatures: the list is empty"),
        (_json(_with(signatures=["sig"])), r"signatures\[0\]: expected a JSON object"),
        (_json(_with(signatures=[{"keyid": "A"}])), r"signatures\[0\]: missing field 'sig'"),
        (_json(_with(signatures=[{"sig": 5}])), r"signatures\[0\]\.sig: expected a string"),
        (_json(_with(signatures=[{"sig": SIG_A, "keyid": 5}])), r"signatures\[0\]\.keyid"),
        (_json(_with(signatures=[{"sig": ""}])), r"signatures\[0\]\.sig: empty signature"),
        (_json(_with(extra=1)), "envelope: unknown field 'extra'"),
        (_json(_with(signatures=[{"sig": SIG_A, "ext": {}}])), "unknown field 'ext'"),
        (_json(_with(payloadType="\ud800")), "payloadType: not valid UTF-8"),
        (b'{"payloadType":NaN,"payload":"","signatures":[]}', "NaN is not valid JSON"),
        (
            b'{"payloadType":"a","payloadType":"b","payload":"","signatures":[{"sig":"AA=="}]}',
            "duplicate key 'payloadType'",
        ),
        (
            b'{"payloadType":"a","payload":"","signatures":[{"sig":"AA==","sig":"AQ=="}]}',
            "duplicate key 'sig'",
        ),
    ],
    ids=lambda value: None if isinstance(value, bytes) else str(value)[:40],
)
def test_from_json_refuses(data: bytes, reason: str) -> None:
    with pytest.raises(MalformedError, match=reason):
        Envelope.from_json(data)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("!!!!", "not base64"),
        ("ab+_", "not base64"),  # mixed alphabets
        ("A", "bad length or padding"),
        ("AAAAA", "bad length or padding"),
        ("AA=", "bad length or padding"),
        ("AAA==", "bad length or padding"),
        ("AAAA==", "bad length or padding"),
        ("AA==AA==", "not base64"),
        ("=AAA", "not base64"),
        ("AB==", "non-canonical"),
        ("AAB", "non-canonical"),
        ("AA ==", "not base64"),
        ("AA\n==", "not base64"),
    ],
)
def test_bad_base64_names_the_field(payload: str, reason: str) -> None:
    with pytest.raises(MalformedError, match=f"payload: {reason}"):
        Envelope.from_json(_json(_with(payload=payload)))
    with pytest.raises(MalformedError, match=rf"signatures\[0\]\.sig: {reason}"):
        Envelope.from_json(_json(_with(signatures=[{"sig": payload}])))


@pytest.mark.parametrize(
    "encoded",
    ["+/+/Pj8=", "+/+/Pj8", "-_-_Pj8=", "-_-_Pj8"],
    ids=["standard", "standard-unpadded", "url-safe", "url-safe-unpadded"],
)
def test_both_alphabets_with_or_without_padding_are_accepted(encoded: str) -> None:
    envelope = Envelope.from_json(_json(_with(payload=encoded)))
    assert envelope.payload == bytes([0xFB, 0xFF, 0xBF, 0x3E, 0x3F])


def test_payload_bytes_are_kept_exactly_as_received() -> None:
    # Whitespace, key order and a non-UTF-8 byte that any JSON round trip would lose.
    payload = b'{ "z": 1,\n  "a": "\xff" }'
    key = generate_private_key()
    envelope = sign_envelope("application/x.test", payload, [key])
    parsed = Envelope.from_json(envelope.to_json())
    assert parsed.payload == payload
    assert verify_envelope(parsed, {keyid(public_key_bytes(key)): public_key_bytes(key)})


def test_to_json_is_compact_in_dsse_key_order() -> None:
    envelope = Envelope("t", b"hi", (Signature("k", b"\xfb\xff"),))
    assert envelope.to_json() == (
        b'{"payloadType":"t","payload":"aGk=","signatures":[{"keyid":"k","sig":"+/8="}]}'
    )
    assert Envelope.from_json(envelope.to_json()) == envelope


# --- Signing and verifying -----------------------------------------------------------------------


@pytest.fixture
def keys() -> list[Any]:
    return [generate_private_key(), generate_private_key()]


def _public(keys: list[Any]) -> dict[str, bytes]:
    return {keyid(public_key_bytes(k)): public_key_bytes(k) for k in keys}


def test_sign_then_verify_with_several_keys(keys: list[Any]) -> None:
    envelope = sign_envelope(INTOTO, b"{}", keys)
    expected = [keyid(public_key_bytes(k)) for k in keys]
    assert [s.keyid for s in envelope.signatures] == expected
    assert verify_envelope(envelope, _public(keys)) == expected
    with pytest.raises(ValueError, match="at least one key"):
        sign_envelope(INTOTO, b"{}", [])


def test_unknown_keyid_is_skipped(keys: list[Any]) -> None:
    envelope = sign_envelope(INTOTO, b"{}", keys)
    assert verify_envelope(envelope, _public(keys[1:])) == [keyid(public_key_bytes(keys[1]))]


def test_only_unknown_keyids_is_refused(keys: list[Any]) -> None:
    envelope = sign_envelope(INTOTO, b"{}", keys)
    with pytest.raises(SignatureError, match="no valid signature by a known keyid"):
        verify_envelope(envelope, _public([generate_private_key()]))


@pytest.mark.parametrize("offset", [0, 31, 32, 63])
def test_flipped_signature_bit_by_known_key_is_refused(offset: int, keys: list[Any]) -> None:
    envelope = sign_envelope(INTOTO, b"{}", keys)
    sig = bytearray(envelope.signatures[1].sig)
    sig[offset] ^= 0x01
    bad = Envelope(
        envelope.payload_type,
        envelope.payload,
        (envelope.signatures[0], Signature(envelope.signatures[1].keyid, bytes(sig))),
    )
    with pytest.raises(SignatureError, match=r"signatures\[1\]: invalid signature"):
        verify_envelope(bad, _public(keys))


def test_changed_payload_or_payload_type_is_refused(keys: list[Any]) -> None:
    envelope = sign_envelope(INTOTO, b"{}", keys[:1])
    for changed in (
        Envelope(envelope.payload_type, b"{ }", envelope.signatures),
        Envelope("application/vnd.other+json", envelope.payload, envelope.signatures),
    ):
        with pytest.raises(SignatureError, match="invalid signature"):
            verify_envelope(changed, _public(keys))


def test_signature_of_wrong_length_by_known_key_is_refused(keys: list[Any]) -> None:
    envelope = sign_envelope(INTOTO, b"{}", keys[:1])
    short = Signature(envelope.signatures[0].keyid, envelope.signatures[0].sig[:63])
    with pytest.raises(SignatureError, match="invalid signature"):
        verify_envelope(Envelope(INTOTO, b"{}", (short,)), _public(keys))


def test_signature_moved_to_another_keyid_is_refused(keys: list[Any]) -> None:
    envelope = sign_envelope(INTOTO, b"{}", keys[:1])
    moved = Signature(keyid(public_key_bytes(keys[1])), envelope.signatures[0].sig)
    with pytest.raises(SignatureError, match="invalid signature"):
        verify_envelope(Envelope(INTOTO, b"{}", (moved,)), _public(keys))


def test_a_key_counts_once(keys: list[Any]) -> None:
    envelope = sign_envelope(INTOTO, b"{}", [keys[0], keys[0]])
    assert len(envelope.signatures) == 2
    public = public_key_bytes(keys[0])
    assert verify_envelope(envelope, {keyid(public): public}) == [keyid(public)]
    alias = Envelope(
        INTOTO, b"{}", (envelope.signatures[0], Signature("alias", envelope.signatures[1].sig))
    )
    assert verify_envelope(alias, {keyid(public): public, "alias": public}) == [keyid(public)]
