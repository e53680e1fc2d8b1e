"""Evidence for a page's claims: everything a browser (or anyone) needs to verify them offline.

A page that shows claims carries one evidence bundle, a JSON object:

.. code-block:: text

    {
      "version": 1,
      "log": {"origin": "<the log's origin, also its key name>",
              "verifier_key": "<name>+<hex key ID>+<base64(0x01 ‖ Ed25519 public key)>"},
      "checkpoint": "<the latest signed checkpoint note, C2SP tlog-checkpoint>",
      "claims": [<entry>, ...],          # the page's claims, in the order asked for
      "registrations": [<entry>, ...],   # the entries that registered the claims' signing keys
      "keys": {"<DSSE keyid>": {"party": "<party id>", "key": "<base64 public key>",
                                "registered_at": <index>, "revoked_at": <index> | null}}
    }

    <entry> = {"index": <int>, "time": <ms>, "kind": "<kind>", "prev": "<base64 32 bytes>",
               "payload": "<the payload bytes as UTF-8 text>", "proof": ["<base64 hash>", ...]}

An entry's fields are those of its leaf (:mod:`provenance.entry`), so its leaf bytes are rebuilt as
``prov-entry/v1 <index> <time> <kind> <prev>\\n<payload>``; the payload is the DSSE envelope exactly
as stored. A payload that is not valid UTF-8 (only altered stored bytes can be) is given as
``payload_base64`` instead, so the bundle always carries the stored bytes, never a repair. An
entry whose stored leaf cannot even be decoded is given as ``{"index": i, "unreadable": "<why>"}``.
Every ``proof`` is the RFC 9162 inclusion proof of the entry in the tree of the checkpoint.

The rules, each with the code a failure reports (the in-browser verifier ``web/static/verify.js``
applies the same rules with the same codes; :func:`verify_evidence` is the reference):

Once per bundle (a failure fails every claim):

- ``evidence``: the bundle is JSON of this shape and version.
- ``log-key``: ``log.verifier_key`` is an Ed25519 verifier key whose key ID matches (and, given a
  trusted key, is that key).
- ``checkpoint-signature``: the checkpoint is a signed note with a valid signature by the log key,
  and no failing one.
- ``checkpoint``: its text is a checkpoint (origin, size, 32-byte root) for ``log.origin``.

For each claim, in order:

- ``entry``: the entry's fields are well formed.
- ``proof-size``: the index is inside the checkpoint's tree and the proof has the length RFC 9162
  gives for that index and size, each hash 32 bytes.
- ``proof-root``: the proof leads from SHA-256(0x00 ‖ leaf) to the checkpoint's root.
- ``statement``: the payload is a DSSE envelope holding a statement of the entry's kind (for
  ``application/vnd.provenance.statement+json`` a JSON object whose ``type`` is the kind and whose
  ``by`` names a party; an ``epcis.capture`` entry carries ``application/ld+json``).
- ``signature``: every signature by a key of ``keys`` registered before the entry verifies over
  PAE(payloadType, payload), and there is at least one.
- ``party``: one of those keys belongs to the party named in ``by`` (a capture names none: its
  party is the owner of its first verified key, as the ledger decided).
- ``key-registration``: that key's ``registered_at`` entry is among ``registrations``, is in the
  checkpoint's tree (its own proof) and is a ``party.register`` of that party listing the key or a
  ``key.add`` of the key to that party.
- ``key-revoked``: the key was not revoked at or before the claim's index.
- ``commitment``: for a ``review`` whose content the bundle shows (an optional top-level
  ``"reviews": {"<index>": {"content": "<text>", "salt": "<base64>"}}``), SHA-256(salt ‖ content)
  is the commitment its statement carries. Erased or hidden content is simply not shown.

What this does not check, by design: the registration entries' own signatures and the admission
rules (roles, suspensions) the ledger applied. Those are the log's business, checked by anyone who
replays it (``provenance verify``); the evidence shows that the claim is in the log the key signs
for and was signed by a key the log registered to the party that made it. Nor can it show that the
page omitted nothing: inclusion proofs prove presence, never absence.

This module is pure: it reads through a :class:`~provenance.store.sql.Reader` and never imports a
web framework. :func:`evidence_json` gives the bundle as text safe to place inside a
``<script type="application/json">`` element; ``docs/verification.md`` shows how to check a page
by hand or with ``python -m provenance.evidence``, and the DOM the page gives the script.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

from sqlalchemy import bindparam, text

from provenance.capture import CAPTURE, EPCIS_PAYLOAD_TYPE
from provenance.checkpoint import Checkpoint
from provenance.compact_json import object_without_duplicates
from provenance.dsse import Envelope, pae
from provenance.entry import decode_leaf, encode_leaf
from provenance.errors import (
    MalformedError,
    ProofError,
    RootMismatchError,
    StoreError,
    VerificationError,
)
from provenance.keys import PUBLIC_KEY_SIZE, SIGNATURE_SIZE, verify_ed25519
from provenance.merkle.hashing import hash_leaf
from provenance.merkle.proof import inclusion_nodes
from provenance.merkle.verify import verify_inclusion
from provenance.note import NoteVerifier, decode_base64, encode_base64, open_note
from provenance.statements import KEY_ADD, PARTY_REGISTER, PAYLOAD_TYPE
from provenance.store.sql import Reader, blob
from provenance.tiles import read_nodes, tiles_for_nodes

VERSION = 1
"""The version of the bundle format this module writes and reads."""

RULES = (
    "evidence",
    "log-key",
    "checkpoint-signature",
    "checkpoint",
    "entry",
    "proof-size",
    "proof-root",
    "statement",
    "signature",
    "party",
    "key-registration",
    "key-revoked",
    "commitment",
)
"""Every rule code, bundle-wide first, then per claim in the order they are checked."""


# --- Building -----------------------------------------------------------------------------------


def build_evidence(reader: Reader, indexes: Iterable[int], verifier_key: str) -> dict[str, Any]:
    """Return the evidence bundle for the entries at ``indexes`` against the latest checkpoint.

    ``reader`` is one read transaction, so the checkpoint, the entries, the keys and the tiles are
    one snapshot; ``verifier_key`` is the log's verifier key string. Every proof is built from
    the stored tiles, with one query for all of them: O(log n) hashes per entry. ValueError if the
    log has no checkpoint or an index is not in the checkpoint's tree.

    Claims are entries that hold a signed envelope (statements and EPCIS captures); an EPCIS
    event entry is derived from its capture, so a page proves an event with its capture's index.
    """
    found = reader.checkpoint()
    if found is None:
        raise ValueError("the log has no checkpoint yet: there is nothing to prove claims against")
    size, note = found
    wanted = list(dict.fromkeys(indexes))
    for index in wanted:
        if not 0 <= index < size:
            raise ValueError(f"index {index} is not in the checkpoint's tree of size {size}")
    leaves = _leaves(reader, wanted)
    keys = _keys(reader, _signing_keyids(leaves.values()))
    registered = sorted({key["registered_at"] for key in keys.values()})
    leaves.update(_leaves(reader, [i for i in registered if i not in leaves]))
    proofs = _inclusion_proofs(reader, [*wanted, *registered], size)
    name = NoteVerifier.from_vkey(verifier_key).name
    return {
        "version": VERSION,
        "log": {"origin": name, "verifier_key": verifier_key},
        "checkpoint": note,
        "claims": [_entry(i, leaves.get(i), proofs[i]) for i in wanted],
        "registrations": [_entry(i, leaves.get(i), proofs[i]) for i in registered],
        "keys": keys,
    }


def evidence_json(evidence: Mapping[str, Any]) -> str:
    """Return ``evidence`` as compact JSON that is safe inside ``<script type="application/json">``.

    ``<``, ``>`` and ``&`` are written as ``\\u003c``, ``\\u003e`` and ``\\u0026`` so that no
    payload can close the element (``</script>``) or open a comment, and U+2028/U+2029 escaped
    for any JavaScript consumer; ``JSON.parse`` reads the same values back. The text is already
    safe: a template must insert it unescaped (HTML escaping would corrupt the JSON).
    """
    dumped = json.dumps(evidence, ensure_ascii=False, separators=(",", ":"), sort_keys=False)
    return dumped.translate(_SCRIPT_SAFE)


_SCRIPT_SAFE = str.maketrans(
    {
        "<": "\\u003c",
        ">": "\\u003e",
        "&": "\\u0026",
        "\u2028": "\\u2028",
        "\u2029": "\\u2029",
    }
)


def _leaves(reader: Reader, indexes: Sequence[int]) -> dict[int, bytes]:
    if not indexes:
        return {}
    rows = reader.connection.execute(
        text("SELECT idx, leaf FROM log_entry WHERE idx IN :ids").bindparams(
            bindparam("ids", expanding=True)
        ),
        {"ids": sorted(set(indexes))},
    )
    return {int(index): blob(leaf) for index, leaf in rows}


def _signing_keyids(leaves: Iterable[bytes]) -> set[str]:
    """The keyids the envelopes in ``leaves`` name; leaves that do not parse name none."""
    keyids: set[str] = set()
    for leaf in leaves:
        try:
            envelope = Envelope.from_json(decode_leaf(leaf).payload)
        except MalformedError:
            continue  # altered bytes: the bundle carries them and the verifier says so
        keyids.update(s.keyid for s in envelope.signatures)
    return keyids


def _keys(reader: Reader, keyids: set[str]) -> dict[str, dict[str, Any]]:
    if not keyids:
        return {}
    rows = reader.connection.execute(
        text(
            "SELECT keyid, party_id, public_key, added_at, revoked_at FROM party_key"
            " WHERE keyid IN :ids ORDER BY keyid"
        ).bindparams(bindparam("ids", expanding=True)),
        {"ids": sorted(keyids)},
    )
    return {
        str(keyid): {
            "party": str(party),
            "key": encode_base64(blob(public_key)),
            "registered_at": int(added_at),
            "revoked_at": None if revoked_at is None else int(revoked_at),
        }
        for keyid, party, public_key, added_at, revoked_at in rows
    }


def _inclusion_proofs(reader: Reader, indexes: Sequence[int], size: int) -> dict[int, list[str]]:
    """Return base64 inclusion proofs in the tree of ``size``, reading every tile in one query."""
    plans = {index: inclusion_nodes(index, size) for index in indexes}
    needed = {(n.level, n.index) for plan in plans.values() for n in plan.ids}
    tiles = reader.tiles(tiles_for_nodes(needed))
    proofs = {}
    for index, plan in plans.items():
        try:
            hashes = read_nodes(tiles, [(n.level, n.index) for n in plan.ids])
        except (KeyError, IndexError) as e:
            raise StoreError(f"stored tiles are missing a node of entry {index}'s proof") from e
        proofs[index] = [encode_base64(h) for h in plan.rehash(hashes)]
    return proofs


def _entry(index: int, leaf: bytes | None, proof: list[str]) -> dict[str, Any]:
    if leaf is None:
        return {"index": index, "unreadable": "no entry is stored at this index"}
    try:
        entry = decode_leaf(leaf)
    except MalformedError as e:
        return {"index": index, "unreadable": str(e)}
    fields: dict[str, Any] = {
        "index": entry.index,
        "time": entry.time_ms,
        "kind": entry.kind,
        "prev": encode_base64(entry.prev),
    }
    try:
        fields["payload"] = entry.payload.decode("utf-8")
    except UnicodeDecodeError:
        fields["payload_base64"] = encode_base64(entry.payload)
    fields["proof"] = proof
    return fields


# --- Verifying ----------------------------------------------------------------------------------


class EvidenceError(VerificationError):
    """A rule of the evidence failed: ``rule`` is its code (one of :data:`RULES`)."""

    code = "evidence-failed"

    def __init__(self, rule: str, message: str) -> None:
        self.rule = rule
        self.message = message
        super().__init__(f"{rule}: {message}")

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        return type(self), (self.rule, self.message)


@dataclass(frozen=True)
class ClaimResult:
    """How one claim fared: ``rule`` is None when it verified, else the code of the rule it broke."""

    index: int
    rule: str | None = None
    message: str = ""
    party: str | None = None
    """The party whose registered key signed it, when that much verified."""

    @property
    def verified(self) -> bool:
        return self.rule is None


@dataclass(frozen=True)
class EvidenceReport:
    """The verified checkpoint and one result per claim, in the bundle's order."""

    checkpoint: Checkpoint
    claims: tuple[ClaimResult, ...]

    @property
    def verified(self) -> bool:
        """True if every claim verified."""
        return all(c.verified for c in self.claims)


def verify_evidence(evidence: object, trusted_key: str | None = None) -> EvidenceReport:
    """Check a bundle by the rules above and report on each claim.

    Raises EvidenceError when a bundle-wide rule fails (nothing can then be verified); a claim that
    breaks a rule is reported in its :class:`ClaimResult`. With ``trusted_key`` (a verifier key
    string obtained some other way), the bundle must name that key.
    """
    bundle = _fields(evidence, "evidence", "the bundle", dict)
    if not (_is_count(bundle.get("version")) and bundle["version"] == VERSION):
        raise EvidenceError("evidence", f"version {bundle.get('version')!r}, want {VERSION}")
    log = _fields(bundle.get("log"), "evidence", "log", dict)
    claims = _fields(bundle.get("claims"), "evidence", "claims", list)
    registrations = _fields(bundle.get("registrations"), "evidence", "registrations", list)
    keys = _fields(bundle.get("keys"), "evidence", "keys", dict)
    note = _fields(bundle.get("checkpoint"), "evidence", "checkpoint", str)

    vkey = _fields(log.get("verifier_key"), "log-key", "log.verifier_key", str)
    try:
        verifier = NoteVerifier.from_vkey(vkey)
    except MalformedError as e:
        raise EvidenceError("log-key", str(e)) from e
    if trusted_key is not None and vkey != trusted_key:
        raise EvidenceError(
            "log-key", f"the bundle names key {vkey}, not the trusted {trusted_key}"
        )
    try:
        body = open_note(note, [verifier]).body
    except VerificationError as e:
        raise EvidenceError("checkpoint-signature", str(e)) from e
    try:
        checkpoint = Checkpoint.parse(body)
    except MalformedError as e:
        raise EvidenceError("checkpoint", str(e)) from e
    if checkpoint.origin != log.get("origin"):
        raise EvidenceError(
            "checkpoint", f"checkpoint is for {checkpoint.origin!r}, not {log.get('origin')!r}"
        )

    registered: dict[int, _Registration] = {}
    for item in registrations:
        index = item.get("index") if isinstance(item, dict) else None
        if isinstance(index, int):
            registered[index] = _Registration(item, checkpoint)
    return EvidenceReport(
        checkpoint,
        tuple(
            _verify_claim(item, checkpoint, keys, registered, bundle.get("reviews"))
            for item in claims
        ),
    )


def _verify_claim(
    item: object,
    checkpoint: Checkpoint,
    keys: dict[str, Any],
    registered: dict[int, _Registration],
    reviews: object = None,
) -> ClaimResult:
    index = item.get("index") if isinstance(item, dict) else None
    position = index if isinstance(index, int) else -1
    try:
        leaf_index, payload = _included(item, checkpoint)
        envelope, statement = _statement(item, payload)
        by = None if statement is None else statement["by"]
        party = _check_signers(envelope, by, leaf_index, keys, registered)
        _check_commitment(statement, leaf_index, reviews)
    except EvidenceError as e:
        return ClaimResult(position, e.rule, e.message)
    return ClaimResult(leaf_index, party=party)


def _check_commitment(statement: dict[str, Any] | None, index: int, reviews: object) -> None:
    """Rule ``commitment``: a review whose content the bundle shows (``reviews[index]``: its
    ``content`` text and base64 ``salt``) must hash, salted, to the commitment in its leaf."""
    shown = reviews.get(str(index)) if isinstance(reviews, dict) else None
    if statement is None or statement.get("type") != "review" or shown is None:
        return
    if not isinstance(shown, dict) or not isinstance(shown.get("content"), str):
        raise EvidenceError("commitment", "the review's content is missing")
    salt = _lenient_b64(shown.get("salt"))
    if salt is None:
        raise EvidenceError("commitment", "the review's salt is not base64")
    digest = hashlib.sha256(salt + shown["content"].encode()).digest()
    if base64.b64encode(digest).decode() != statement.get("commitment"):
        raise EvidenceError("commitment", "the content shown is not what the log committed to")


class _Registration:
    """A registration entry: checked for inclusion once, however many keys it registered."""

    def __init__(self, item: object, checkpoint: Checkpoint) -> None:
        self.failure: EvidenceError | None = None
        self.statement: dict[str, Any] = {}
        try:
            _, payload = _included(item, checkpoint)
            self.statement = _statement(item, payload)[1] or {}
        except EvidenceError as e:
            self.failure = e

    def check(self, index: int, keyid: str, key: dict[str, Any]) -> None:
        if self.failure is not None:
            raise EvidenceError(
                "key-registration", f"registration entry {index}: {self.failure}"
            ) from self.failure
        body, party, public_key = self.statement, key.get("party"), _key_bytes(key)
        if body.get("type") == PARTY_REGISTER:
            registers, listed = body.get("party"), body.get("keys")
            named = (
                isinstance(registers, dict)
                and registers.get("id") == party
                and isinstance(listed, list)
                and any(_lenient_b64(k) == public_key for k in listed)
            )
        elif body.get("type") == KEY_ADD:
            named = (
                body.get("party") == party and _lenient_b64(body.get("public_key")) == public_key
            )
        else:
            named = False
        if not named:
            raise EvidenceError(
                "key-registration", f"entry {index} does not register key {keyid} to {party!r}"
            )


def _included(item: object, checkpoint: Checkpoint) -> tuple[int, bytes]:
    """Rules ``entry``, ``proof-size``, ``proof-root``: return the entry's index and payload."""
    entry = _fields(item, "entry", "the entry", dict)
    if "unreadable" in entry:
        raise EvidenceError("entry", f"the stored entry is unreadable: {entry['unreadable']}")
    index, time_ms, kind, prev = (entry.get(k) for k in ("index", "time", "kind", "prev"))
    if not (_is_count(index) and _is_count(time_ms) and isinstance(kind, str)):
        raise EvidenceError("entry", "index and time must be integers >= 0 and kind a string")
    payload = _payload(entry)
    try:
        leaf = encode_leaf(
            index, time_ms, kind, decode_base64(_text(prev, "prev"), "prev"), payload
        )
    except (ValueError, MalformedError) as e:
        raise EvidenceError("entry", str(e)) from e
    proof = _fields(entry.get("proof"), "proof-size", "proof", list)
    try:
        hashes = [decode_base64(_text(h, "proof hash"), "proof hash") for h in proof]
        verify_inclusion(index, checkpoint.size, hash_leaf(leaf), hashes, checkpoint.root_hash)
    except (MalformedError, ProofError) as e:
        raise EvidenceError("proof-size", str(e)) from e
    except RootMismatchError as e:
        raise EvidenceError("proof-root", str(e)) from e
    return index, payload


def _statement(item: object, payload: bytes) -> tuple[Envelope, dict[str, Any] | None]:
    """Rule ``statement``: return the envelope and its statement (None for an EPCIS capture)."""
    assert isinstance(item, dict)
    kind = item["kind"]
    try:
        envelope = Envelope.from_json(payload)
    except MalformedError as e:
        raise EvidenceError("statement", f"not a DSSE envelope: {e}") from e
    if envelope.payload_type == EPCIS_PAYLOAD_TYPE and kind == CAPTURE:
        return envelope, None
    if envelope.payload_type != PAYLOAD_TYPE:
        raise EvidenceError("statement", f"payloadType {envelope.payload_type!r} in a {kind} entry")
    try:
        body = json.loads(envelope.payload, object_pairs_hook=object_without_duplicates)
    except (ValueError, UnicodeDecodeError) as e:
        raise EvidenceError("statement", f"the statement is not JSON: {e}") from e
    if not isinstance(body, dict) or body.get("type") != kind:
        raise EvidenceError("statement", f"the entry is a {kind} but the statement is not")
    if not isinstance(body.get("by"), str) or not body["by"]:
        raise EvidenceError("statement", "the statement names no party in 'by'")
    return envelope, body


def _check_signers(
    envelope: Envelope,
    by: str | None,
    index: int,
    keys: dict[str, Any],
    registered: dict[int, _Registration],
) -> str:
    """Rules ``signature``, ``party``, ``key-registration``, ``key-revoked``: return the party."""
    message = pae(envelope.payload_type, envelope.payload)
    verified: list[tuple[str, dict[str, Any]]] = []
    for n, signature in enumerate(envelope.signatures):
        key = keys.get(signature.keyid)
        # Only keys registered before the entry count, as they did when the ledger admitted it.
        if not isinstance(key, dict) or not _is_count(key.get("registered_at")):
            continue
        if key["registered_at"] >= index:
            continue
        public_key = _key_bytes(key)
        good = len(public_key) == PUBLIC_KEY_SIZE and len(signature.sig) == SIGNATURE_SIZE
        if not (good and verify_ed25519(public_key, signature.sig, message)):
            raise EvidenceError("signature", f"signature {n} by key {signature.keyid} fails")
        verified.append((signature.keyid, key))
    if not verified:
        raise EvidenceError("signature", f"no signature by a key registered before entry {index}")
    party = by if by is not None else verified[0][1].get("party")
    own = [(keyid, key) for keyid, key in verified if key.get("party") == party]
    if not own:
        raise EvidenceError("party", f"signed by keys of others, none of {party!r}")
    failure: EvidenceError | None = None
    for keyid, key in own:
        registration = registered.get(key["registered_at"])
        if registration is None:
            failure = EvidenceError(
                "key-registration", f"key {keyid}'s registration entry is not in the evidence"
            )
            continue
        try:
            registration.check(key["registered_at"], keyid, key)
        except EvidenceError as e:
            failure = e
            continue
        revoked_at = key.get("revoked_at")
        if revoked_at is not None and (not _is_count(revoked_at) or revoked_at <= index):
            failure = EvidenceError("key-revoked", f"key {keyid} was revoked at {revoked_at}")
            continue
        return str(party)
    assert failure is not None
    raise failure


def _fields(value: object, rule: str, what: str, kind: type) -> Any:
    if not isinstance(value, kind):
        raise EvidenceError(rule, f"{what} is not a JSON {kind.__name__}")
    return value


def _text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise MalformedError(f"{what} is not a string")
    return value


def _is_count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _payload(entry: dict[str, Any]) -> bytes:
    if isinstance(entry.get("payload"), str):
        # A lone surrogate passes through as bytes no valid payload has: the proof then fails.
        return str(entry["payload"]).encode("utf-8", "surrogatepass")
    if isinstance(entry.get("payload_base64"), str):
        try:
            return decode_base64(entry["payload_base64"], "payload_base64")
        except MalformedError as e:
            raise EvidenceError("entry", str(e)) from e
    raise EvidenceError("entry", "the entry has no payload")


def _key_bytes(key: dict[str, Any]) -> bytes:
    value = key.get("key")
    try:
        return decode_base64(value, "key") if isinstance(value, str) else b""
    except MalformedError:
        return b""


def _lenient_b64(value: object) -> bytes | None:
    """Decode a key as the ledger read it from a statement (base64, padding bits not checked)."""
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        return None


# --- Command line -------------------------------------------------------------------------------

_EVIDENCE_ELEMENT = re.compile(
    r"<script\b[^>]*\sid=([\"']?)evidence\1(?=[\s>])[^>]*>(.*?)</script>", re.DOTALL
)


def read_bundle(data: str) -> object:
    """Return the bundle in ``data``: a page's HTML (its ``#evidence`` element) or the JSON itself."""
    found = _EVIDENCE_ELEMENT.search(data)
    try:
        return json.loads(found.group(2) if found else data)
    except ValueError as e:
        raise EvidenceError("evidence", f"no evidence JSON found: {e}") from e


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m provenance.evidence PAGE [--key VKEY]``: verify a saved page's evidence."""
    parser = argparse.ArgumentParser(
        prog="python -m provenance.evidence",
        description="Verify the evidence a saved page carries for its claims.",
    )
    parser.add_argument("page", help="a saved page (HTML) or its evidence (JSON); - for stdin")
    parser.add_argument("--key", help="the log's verifier key, obtained independently of the page")
    args = parser.parse_args(argv)
    data = sys.stdin.read() if args.page == "-" else Path(args.page).read_text("utf-8")
    try:
        report = verify_evidence(read_bundle(data), args.key)
    except EvidenceError as e:
        print(f"FAILED: {e}", file=sys.stderr)
        return 1
    checkpoint = report.checkpoint
    print(f"checkpoint: {checkpoint.origin}, {checkpoint.size} entries, signature verified")
    for claim in report.claims:
        if claim.verified:
            print(f"entry {claim.index}: verified, signed by {claim.party}")
        else:
            print(f"entry {claim.index}: NOT VERIFIED: {claim.rule}: {claim.message}")
    if not args.key:
        print("note: without --key, the log key is the one the page names", file=sys.stderr)
    return 0 if report.verified else 1


if __name__ == "__main__":
    sys.exit(main())
