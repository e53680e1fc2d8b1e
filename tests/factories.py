"""Factories for signed statements and registered parties, shared by the tests."""

from __future__ import annotations

import base64
import itertools
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from provenance.keyfiles import OperatorKeys
from provenance.keys import generate_private_key, keyid, public_key_bytes
from provenance.ledger import Ledger
from provenance.log import Receipt
from provenance.statements import sign_statement

_serial = itertools.count()


def b64key(key: Ed25519PrivateKey) -> str:
    """The base64 public key of ``key``, as statements carry it."""
    return base64.b64encode(public_key_bytes(key)).decode()


def kid(key: Ed25519PrivateKey) -> str:
    """The DSSE keyid of ``key``."""
    return keyid(public_key_bytes(key))


def attestation(by: str, key: Ed25519PrivateKey, kind: str = "origin", **fields: Any) -> bytes:
    """A signed attestation by ``by``; unique unless ``fields`` pins a ``n``."""
    body = {"type": kind, "by": by, "n": next(_serial), **fields}
    return sign_statement(body, [key])


def registration(
    operator: OperatorKeys, party_id: str, key: Ed25519PrivateKey, role: str = "supplier"
) -> bytes:
    """The operator's signed registration of ``party_id`` with ``key``."""
    body = {
        "type": "party.register",
        "by": "operator",
        "party": {"id": party_id, "role": role, "name": party_id.title(), "country": "CO"},
        "keys": [b64key(key)],
    }
    return sign_statement(body, [operator.operator_key])


def governance(operator: OperatorKeys, kind: str, **fields: Any) -> bytes:
    """A statement signed by the operator (suspend, reinstate, key.revoke...)."""
    return sign_statement({"type": kind, "by": "operator", **fields}, [operator.operator_key])


def submit(ledger: Ledger, data: bytes) -> Receipt:
    """Append one statement in its own batch and return its receipt, raising a refusal."""
    (outcome,) = ledger.commit([ledger.prepare(data)])
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def register(
    ledger: Ledger, operator: OperatorKeys, party_id: str, role: str = "supplier"
) -> Ed25519PrivateKey:
    """Register ``party_id`` with a new key and return the key."""
    key = generate_private_key()
    submit(ledger, registration(operator, party_id, key, role))
    return key
