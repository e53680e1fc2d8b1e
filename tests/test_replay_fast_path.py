"""Replay's fast path (:func:`provenance.replay_worker.check_statement`) against the strict parsers
it stands in for: on randomly mutated envelopes and statements, both must reach the same outcome,
and a refusal must name the same index, rule and detail.

The mutations are the ways a stored entry can differ from what this service writes: spacing, key
order, escapes, duplicate keys, URL-safe, unpadded or non-canonical base64, short, empty or flipped
signatures, several signers, bad UTF-8, other payload types, flipped bits anywhere, a wrong digest
or entry kind.
"""

from __future__ import annotations

import base64
import hashlib
import json
import pickle
import random
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from factories import origin_body
from provenance import replay_worker
from provenance.dsse import pae
from provenance.errors import AppendRefused, LogIntegrityError
from provenance.keys import generate_private_key, keyid, public_key_bytes
from provenance.statements import (
    PAYLOAD_TYPE,
    check_signatures,
    parse_envelope,
    parse_statement,
    sign_statement,
)

Outcome = tuple[Any, ...]

SIGNER, COSIGNER = generate_private_key(), generate_private_key()
KEYS = {keyid(public_key_bytes(k)): public_key_bytes(k) for k in (SIGNER, COSIGNER)}


def strict(index: int, kind: str, data: bytes, digest: bytes) -> Outcome:
    """What the strict parsers conclude about one stored statement entry."""
    try:
        statement = parse_statement(parse_envelope(data))
    except AppendRefused as e:
        return ("error", index, "statement", str(e))
    if statement.type != kind:
        return ("error", index, "statement", f"entry kind {kind} holds a {statement.type}")
    if digest != statement.digest:
        return ("error", index, "statement", "stored digest is not the statement's")
    verified, failed = check_signatures(statement, KEYS)
    keyids = tuple(s.keyid for s in statement.envelope.signatures)
    return ("ok", statement.type, statement.by, keyids, frozenset(verified), frozenset(failed))


def fast(index: int, kind: str, data: bytes, digest: bytes) -> Outcome:
    """What the fast path concludes, in the same shape."""
    result = replay_worker.check_statement(index, kind, data, digest, KEYS)
    if isinstance(result, LogIntegrityError):
        return ("error", result.index, result.what, result.detail)
    if isinstance(result[0], str):
        return ("ok", *result)
    statement, verified, failed = result
    keyids = tuple(s.keyid for s in statement.envelope.signatures)
    return ("ok", statement.type, statement.by, keyids, verified, failed)


def b64(data: bytes, style: int = 0) -> str:
    """Standard padded base64 (style 0), unpadded (1) or URL-safe (2)."""
    if style == 2:
        return base64.urlsafe_b64encode(data).decode()
    text = base64.b64encode(data).decode()
    return text.rstrip("=") if style == 1 else text


def mutated_body(rng: random.Random) -> dict[str, Any]:
    lot = f"https://id.gs1.org/01/09506000134352/10/L{rng.randint(0, 5)}"
    body = origin_body("farm", items=[lot])
    roll = rng.random()
    if roll < 0.05:
        body["type"] = "custody"
    elif roll < 0.1:
        body["corrects"] = 1
    elif roll < 0.13:
        body["by"] = "Bad Party"
    elif roll < 0.16:
        body["items"] = ["not a link"]
    elif roll < 0.18:
        body["type"] = "party.suspend"
    elif roll < 0.2:
        body["review"] = 3
    elif roll < 0.22:
        body["place"] = float("nan")
    return body


def mutated_payload(rng: random.Random, body: dict[str, Any]) -> bytes:
    compact = rng.random() < 0.8
    text = json.dumps(
        body, separators=(",", ":") if compact else None, ensure_ascii=rng.random() < 0.5
    )
    if rng.random() < 0.05:
        text = text[:-1] + ',"by":"farm"}'  # a duplicate key
    if rng.random() < 0.03:
        text = " " + text
    if rng.random() < 0.03:
        text += "\n"
    if rng.random() < 0.03:
        text = text.replace('"place":{', '"place":{"region":"x","region":"y",')
    payload = text.encode()
    if rng.random() < 0.03:
        payload = b"\xed\xa0\x80" + payload  # a lone surrogate: not UTF-8
    return payload


def signature_entries(rng: random.Random, message: bytes) -> list[dict[str, Any]]:
    signers: list[Ed25519PrivateKey] = [SIGNER]
    if rng.random() >= 0.8:
        signers = rng.choice([[SIGNER, COSIGNER], [COSIGNER], [SIGNER, generate_private_key()], []])
    entries = []
    for key in signers:
        sig = key.sign(message)
        if rng.random() < 0.05:
            sig = sig[:5] + bytes([sig[5] ^ 1]) + sig[6:]
        if rng.random() < 0.02:
            sig = b""
        if rng.random() < 0.02:
            sig = sig[:63]
        entry: dict[str, Any] = {
            "keyid": keyid(public_key_bytes(key)),
            "sig": b64(sig, rng.choice([0] * 8 + [1, 2])),
        }
        if rng.random() < 0.03:
            entry = {"sig": entry["sig"], "keyid": entry["keyid"]}
        if rng.random() < 0.02:
            del entry["keyid"]
        if rng.random() < 0.02:
            entry["extra"] = 1
        entries.append(entry)
    return entries


def mutated_entry(rng: random.Random) -> tuple[str, bytes, bytes]:
    """(entry kind, stored envelope bytes, stored digest) of one randomly mutated statement."""
    body = mutated_body(rng)
    payload = mutated_payload(rng, body)
    payload_type = PAYLOAD_TYPE
    if rng.random() >= 0.95:
        payload_type = rng.choice(["application/json", 'x\\"y', "application/vnd.gs1.epcis+json"])
    message = pae(payload_type, payload)
    envelope: dict[str, Any] = {
        "payloadType": payload_type,
        "payload": b64(payload, rng.choice([0] * 8 + [1, 2])),
        "signatures": signature_entries(rng, message),
    }
    if rng.random() < 0.03:
        envelope = {k: envelope[k] for k in ("payload", "payloadType", "signatures")}
    if rng.random() < 0.02:
        envelope["x"] = 1
    compact = rng.random() < 0.85
    data = json.dumps(envelope, separators=(",", ":") if compact else None).encode()
    if rng.random() < 0.05:
        at = rng.randrange(len(data))
        data = data[:at] + bytes([data[at] ^ (1 << rng.randrange(8))]) + data[at + 1 :]
    if rng.random() < 0.05:
        data = _bump_before_padding(data)
    digest = hashlib.sha256(message).digest() if rng.random() < 0.95 else bytes(32)
    kind = body["type"] if rng.random() < 0.95 else "origin"
    return kind, data, digest


def _bump_before_padding(data: bytes) -> bytes:
    """Change the last base64 character before padding: non-canonical padding bits, or a wrong
    value."""
    text = data.decode("latin-1")
    at = text.find('=",')
    if at <= 0:
        return data
    c = text[at - 1]
    bumped = "B" if c == "A" else chr(ord(c) + 1) if c.isalpha() and c not in "zZ" else c
    return (text[: at - 1] + bumped + text[at:]).encode("latin-1")


@pytest.mark.parametrize("seed", range(4))
def test_fast_path_agrees_with_the_strict_parsers(seed: int) -> None:
    rng = random.Random(seed)
    outcomes = {"ok": 0, "error": 0}
    for index in range(1500):
        kind, data, digest = mutated_entry(rng)
        expected = strict(index, kind, data, digest)
        assert fast(index, kind, data, digest) == expected, data
        outcomes[expected[0]] += 1
    assert min(outcomes.values()) > 100, f"both outcomes must be exercised: {outcomes}"


def test_non_canonical_base64_and_escapes_agree() -> None:
    body = json.dumps(origin_body("farm"), separators=(",", ":")).encode()
    message = pae(PAYLOAD_TYPE, body)
    digest = hashlib.sha256(message).digest()
    kid = keyid(public_key_bytes(SIGNER))
    payload, sig = b64(body), b64(SIGNER.sign(message))
    changed_sig = sig[:-3] + ("B" if sig[-3] == "A" else "A") + sig[-2:]
    cases = [
        (payload, sig),
        (payload, changed_sig),
        (payload.replace("A", "\\u0041", 1), sig),  # an escaped character inside the base64
        (payload, sig + "=="),
        # Characters outside the alphabet, which a lenient decoder would skip.
        (payload[:4] + "!" + payload[4:], sig),
        (payload[:4] + " " + payload[4:], sig),
        (payload, sig[:10] + "\n" + sig[10:]),
        (payload + "\n", sig),
    ]
    for payload_text, sig_text in cases:
        data = json.dumps(
            {"payloadType": PAYLOAD_TYPE, "payload": payload_text,
             "signatures": [{"keyid": kid, "sig": sig_text}]},
            separators=(",", ":"),
        ).replace("\\\\u0041", "\\u0041").encode()  # fmt: skip
        assert fast(0, "origin", data, digest) == strict(0, "origin", data, digest), data


def test_a_statement_crosses_to_the_main_process_without_its_pae() -> None:
    # Workers send registry statements and captures to the main process whole; the PAE cached on
    # them is as big as the payload, and the main process can make it again.
    data = sign_statement(origin_body("farm"), [SIGNER])
    statement = parse_statement(parse_envelope(data))
    _ = statement.digest  # caches the PAE and the digest, as checking the statement does
    assert "signed_bytes" in statement.__dict__
    sent = pickle.dumps(statement)
    assert statement.signed_bytes not in sent
    received = pickle.loads(sent)
    assert received == statement
    assert received.signed_bytes == statement.signed_bytes
    assert received.digest == statement.digest
