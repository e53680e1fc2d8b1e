"""Factories for signed statements and registered parties, shared by the tests."""

from __future__ import annotations

import base64
import itertools
from collections.abc import Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from provenance.checkpoint import Checkpoint, sign_checkpoint
from provenance.keyfiles import OperatorKeys
from provenance.keys import generate_private_key, keyid, public_key_bytes
from provenance.ledger import Ledger
from provenance.log import Receipt
from provenance.merkle.compact import CompactRange
from provenance.merkle.hashing import hash_leaf
from provenance.note import NoteSigner
from provenance.reviews import ReviewContent, new_review
from provenance.statements import sign_statement
from provenance.tiles import Tile, TileKey, tile_for_node

_serial = itertools.count()


def b64key(key: Ed25519PrivateKey) -> str:
    """The base64 public key of ``key``, as statements carry it."""
    return base64.b64encode(public_key_bytes(key)).decode()


def kid(key: Ed25519PrivateKey) -> str:
    """The DSSE keyid of ``key``."""
    return keyid(public_key_bytes(key))


GTIN = "09506000134352"


def item(lot: str, gtin: str = GTIN) -> str:
    """A lot-level GS1 Digital Link URI."""
    return f"https://id.gs1.org/01/{gtin}/10/{lot}"


def origin_body(by: str, **fields: Any) -> dict[str, Any]:
    """A valid origin statement body; unique unless ``fields`` pins ``n``."""
    return {
        "type": "origin",
        "by": by,
        "n": next(_serial),
        "items": [item("LOT-1")],
        "place": {"country": "CO", "region": "Huila"},
        "producer": by.title(),
        "date": "2026-07-14",
        **fields,
    }


def attestation(by: str, key: Ed25519PrivateKey, **fields: Any) -> bytes:
    """A signed, valid origin attestation by ``by``; unique unless ``fields`` pins ``n``."""
    return sign_statement(origin_body(by, **fields), [key])


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


def review(
    ledger: Ledger,
    operator: OperatorKeys,
    item_key: str,
    *,
    kind: str = "complaint",
    title: str = "Bag arrived torn",
    text: str | None = None,
    rating: int | None = None,
) -> int:
    """Append a review of ``item_key`` (a Digital Link path) as the reviews service does (signed by
    the operator, its content written beside the log in the append transaction); return its
    index. The text is unique unless given, so that no two reviews are duplicates."""
    content = ReviewContent(
        item_key, kind, rating, title, text or f"Review {next(_serial)} of {item_key}"
    )
    prepared = new_review(content)
    data = sign_statement({**prepared.statement(), "by": "operator"}, [operator.operator_key])
    (outcome,) = ledger.commit([ledger.prepare(data, on_admit=prepared.admit)])
    if isinstance(outcome, Exception):
        raise outcome
    return outcome.index


def seal(
    leaves: Sequence[bytes], sizes: Sequence[int], signer: NoteSigner
) -> tuple[list[Tile], list[tuple[int, str]]]:
    """Every tile of the tree of ``leaves``, and a checkpoint signed at each of ``sizes``: what an
    operator holding the log key would store after rewriting history."""
    compact = CompactRange()
    tiles: dict[TileKey, Tile] = {}
    notes = []
    for leaf in leaves:
        for node, node_hash in compact.append(hash_leaf(leaf)):
            key, inner, offset = tile_for_node(node.level, node.index)
            tiles.setdefault(key, Tile(key)).add(inner, offset, node_hash)
        if compact.size in sizes:
            note = sign_checkpoint(Checkpoint(signer.name, compact.size, compact.root()), signer)
            notes.append((compact.size, note))
    return list(tiles.values()), notes
