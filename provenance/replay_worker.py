"""The per-chunk half of a replay (:mod:`provenance.replay`): leaf format, index, chain, time, leaf
hashes, and each statement's envelope, digest and signatures, for a range of entries at a time.

Chunks are checked in worker processes and in the main process alike, so this module owns both the
checks and the worker loop. What it sends back is only what the main process's rules read: the leaf
hashes as one byte string, and per statement its type, party and signature keyids, with the body
only where a rule reads it (registry statements, captures, statements pointing at another entry).

Replay reads a million statements, nearly all in the form this service writes them (compact DSSE
JSON, one JSON object as payload). Those take a fast path that accepts only what the strict parsers
(:meth:`Envelope.from_json`, :func:`parse_statement`) would accept with the same result, at a
fraction of their cost; anything else, including every malformed entry, goes through the strict
parsers, which name exactly what is wrong. This module never decides whether a key counted, nor
whether the registry admits a statement: the main process does, in log order.
"""

from __future__ import annotations

import binascii
import hashlib
import re
from dataclasses import dataclass, field
from multiprocessing import parent_process
from multiprocessing.queues import Queue
from multiprocessing.sharedctypes import Synchronized
from typing import Any

from provenance.attestations import ATTESTATION_TYPES, target_of, validate_attestation
from provenance.capture import EVENT
from provenance.dsse import Envelope, pae
from provenance.entry import MAGIC, decode_leaf
from provenance.errors import (
    AppendRefused,
    InvalidStatementError,
    LogIntegrityError,
    MalformedError,
)
from provenance.keys import verify_ed25519
from provenance.merkle.hashing import LEAF_PREFIX
from provenance.statements import (
    PARTY_ID,
    PAYLOAD_TYPE,
    REGISTRY_TYPES,
    STATEMENT_TYPES,
    Statement,
    check_signatures,
    decode_payload,
    parse_envelope,
    parse_statement,
)
from provenance.store.sql import Reader, SqlStore, blob

EVENT_KIND = EVENT.encode()
STATEMENT_KINDS = frozenset(kind.encode() for kind in STATEMENT_TYPES)

PlainStatement = tuple[str, str, tuple[str, ...], frozenset[str], frozenset[str]]
"""An attestation that points at no other entry, as the registry rules read it: (type, party,
keyids of its signatures in order, keyids whose signature verified, keyids whose signature failed).
Equal tuples in a chunk are one object, so that each crosses the process boundary once."""

FullStatement = tuple[Statement, frozenset[str], frozenset[str]]
"""Any other statement, with the keyids whose signature verified and those whose signature failed."""


@dataclass
class ChunkResult:
    """What the checks of entries [start, end) found, in the form the main process folds."""

    start: int
    end: int
    leaf_hashes: bytes
    """The leaf hashes of the entries checked, concatenated (32 bytes each)."""
    first_prev: bytes
    first_time: int
    last_time: int
    plain: list[tuple[int, PlainStatement]] = field(default_factory=list)
    full: list[tuple[int, FullStatement]] = field(default_factory=list)
    derived: dict[int, bytes] = field(default_factory=dict)
    """Payloads of ``epcis.event`` entries, which replay recomputes from their capture."""
    errors: list[LogIntegrityError] = field(default_factory=list)
    stopped: bool = False
    """The chunk hit an entry it could not place (missing or unreadable): nothing after lines up."""


# --- The worker loop ----------------------------------------------------------------------------


def claim(next_chunk: Synchronized[int], count: int) -> int | None:
    """Take the lowest chunk no process has taken yet, or return None when all are taken."""
    with next_chunk.get_lock():
        taken = next_chunk.value
        if taken >= count:
            return None
        next_chunk.value = taken + 1
    return taken


def work(
    url: str,
    keys: dict[str, bytes],
    bounds: list[tuple[int, int]],
    next_chunk: Synchronized[int],
    results: Queue[tuple[int, ChunkResult | BaseException]],
) -> None:
    """Check chunks until none is left to take, sending each result (or what it raised) back;
    stop early if the process that started this one has gone (nobody would read the results)."""
    parent = parent_process()
    store = SqlStore(url)
    try:
        while parent is None or parent.is_alive():
            number = claim(next_chunk, len(bounds))
            if number is None:
                break
            try:
                with store.read() as reader:
                    results.put((number, check_chunk(reader, *bounds[number], keys)))
            except BaseException as e:  # the main process re-raises it; this process just stops
                results.put((number, e))
                raise
    finally:
        store.close()


# --- The checks ---------------------------------------------------------------------------------


def check_chunk(reader: Reader, start: int, end: int, keys: dict[str, bytes]) -> ChunkResult:
    """Check entries [start, end): leaf format, index, chain and time inside the chunk, and
    envelope signatures by any key in ``keys`` (the main process decides which keys count)."""
    rows = reader.connection.exec_driver_sql(
        "SELECT idx, digest, leaf FROM log_entry WHERE idx >= %s AND idx < %s ORDER BY idx"
        if reader.connection.dialect.name == "postgresql"
        else "SELECT idx, digest, leaf FROM log_entry WHERE idx >= ? AND idx < ? ORDER BY idx",
        (start, end),
    ).all()
    result = ChunkResult(start, end, b"", b"", 0, 0)
    errors = result.errors
    leaf_hashes: list[bytes] = []
    expected = start
    prev_b64 = b""  # base64 of the previous leaf hash, as a header writes it
    last_time = -1  # before the first entry: no time to compare with
    known_kinds: set[bytes] = set()
    plain_statements: dict[PlainStatement, PlainStatement] = {}
    sha256 = hashlib.sha256
    b64encode = binascii.b2a_base64
    for row_index, digest, raw in rows:
        leaf = raw if type(raw) is bytes else blob(raw)
        if row_index != expected:
            errors.append(LogIntegrityError(expected, "index", f"entry {expected} is missing"))
            result.stopped = True
            break
        # The common case, checked field by field without decoding: a well-formed header with
        # this row's index, a kind already seen and the previous leaf's hash, followed by its
        # payload. Anything else (the first entry of a chunk included) takes the full decoder,
        # which names exactly what is wrong.
        header, newline, payload = leaf.partition(b"\n")
        fields = header.split(b" ")
        if (
            newline
            and len(fields) == 5
            and fields[4] == prev_b64
            and fields[0] == MAGIC
            and fields[1] == b"%d" % row_index
            and fields[3] in known_kinds
            and fields[2].isdigit()
            and len(fields[2]) <= 19
            and (fields[2][:1] != b"0" or fields[2] == b"0")
        ):
            kind_bytes, time_ms, prev_field = fields[3], int(fields[2]), fields[4]
        else:
            try:
                entry = decode_leaf(leaf)
            except MalformedError as e:
                errors.append(LogIntegrityError(expected, "leaf", str(e)))
                result.stopped = True
                break
            if entry.index != row_index:
                errors.append(
                    LogIntegrityError(
                        row_index, "index", f"stored at {row_index}, says {entry.index}"
                    )
                )
            kind_bytes, time_ms = entry.kind.encode(), entry.time_ms
            prev_field = b64encode(entry.prev, newline=False)
            known_kinds.add(kind_bytes)
        if last_time < 0:
            # The main process compares the first entry with the chunk before; a field that is
            # not base64 of a hash cannot match that hash's encoding.
            result.first_prev = prev_field
            result.first_time = time_ms
        else:
            if prev_field != prev_b64:
                errors.append(LogIntegrityError(row_index, "chain", "prev is not the hash before"))
            if time_ms < last_time:
                errors.append(LogIntegrityError(row_index, "time", "time goes backwards"))
        last_time = time_ms
        leaf_hash = sha256(LEAF_PREFIX + leaf).digest()
        prev_b64 = b64encode(leaf_hash, newline=False)
        leaf_hashes.append(leaf_hash)
        if kind_bytes == EVENT_KIND:
            result.derived[row_index] = payload
        elif kind_bytes in STATEMENT_KINDS:
            checked = check_statement(row_index, kind_bytes.decode(), payload, digest, keys)
            if isinstance(checked, LogIntegrityError):
                errors.append(checked)
            elif isinstance(checked[0], Statement):
                result.full.append((row_index, checked))
            else:
                plain = plain_statements.setdefault(checked, checked)
                result.plain.append((row_index, plain))
        expected += 1
    if not result.stopped and expected < end:
        errors.append(LogIntegrityError(expected, "index", f"entry {expected} is missing"))
        result.stopped = True
    result.leaf_hashes = b"".join(leaf_hashes)
    result.last_time = max(last_time, 0)
    return result


def check_statement(
    index: int, kind: str, payload: bytes, digest: bytes | None, keys: dict[str, bytes]
) -> PlainStatement | FullStatement | LogIntegrityError:
    """Check that ``payload`` is a statement of type ``kind`` whose PAE bytes hash to ``digest``,
    and verify its signatures by keys in ``keys``."""
    envelope = _fast_envelope(payload)
    if envelope is not None:
        payload_type, body_bytes, keyids, signatures = envelope
        parsed = _fast_attestation(payload_type, body_bytes)
        if parsed is not None and target_of(parsed[2]) is None:
            statement_type, by, _ = parsed
            if statement_type != kind:
                return LogIntegrityError(
                    index, "statement", f"entry kind {kind} holds a {statement_type}"
                )
            message = pae(payload_type, body_bytes)
            if digest is None or blob(digest) != hashlib.sha256(message).digest():
                return LogIntegrityError(index, "statement", "stored digest is not the statement's")
            verified, failed = _verify(keyids, signatures, message, keys)
            return statement_type, by, keyids, verified, failed
    # Everything else: registry statements, captures, corrections, and whatever the fast path
    # does not accept, which includes every malformed envelope and statement.
    try:
        statement = parse_statement(parse_envelope(payload))
    except AppendRefused as e:
        return LogIntegrityError(index, "statement", str(e))
    if statement.type != kind:
        return LogIntegrityError(index, "statement", f"entry kind {kind} holds a {statement.type}")
    if digest is None or blob(digest) != statement.digest:
        return LogIntegrityError(index, "statement", "stored digest is not the statement's")
    verified_set, failed_set = check_signatures(statement, keys)
    return _for_main_process(statement), frozenset(verified_set), frozenset(failed_set)


def _verify(
    keyids: tuple[str, ...], signatures: tuple[bytes, ...], message: bytes, keys: dict[str, bytes]
) -> tuple[frozenset[str], frozenset[str]]:
    """:func:`check_signatures` over an envelope already taken apart and its PAE bytes."""
    verified: set[str] = set()
    failed: set[str] = set()
    for keyid, sig in zip(keyids, signatures, strict=True):
        public_key = keys.get(keyid)
        if public_key is None:
            continue
        try:
            good = verify_ed25519(public_key, sig, message)
        except MalformedError:  # not 64 bytes: a bad signature, not a malformed envelope
            good = False
        (verified if good else failed).add(keyid)
    return frozenset(verified), frozenset(failed)


_MAIN_PROCESS_FIELDS = ("type", "by", "corrects", "retracts", "review")
"""What :func:`check_references` reads of an attestation's body (``review``: statements about one)."""


def _for_main_process(statement: Statement) -> Statement:
    """Keep only what the main process's rules read, so that less crosses the process boundary:
    an attestation's payload and body matter to it only through the entry it points at."""
    if statement.type in REGISTRY_TYPES or statement.capture is not None:
        return statement
    envelope = Envelope(statement.envelope.payload_type, b"", statement.envelope.signatures)
    body = {k: v for k, v in statement.body.items() if k in _MAIN_PROCESS_FIELDS}
    return Statement(envelope, statement.type, statement.by, body, statement.capture)


# --- The fast path ------------------------------------------------------------------------------

# JSON string contents without escapes: printable ASCII except the quote and the backslash.
_TEXT = rb"[ !#-\[\]-~]*"
_BASE64 = rb"[A-Za-z0-9+/]*={0,2}"
_SIGNATURE = rb'\{"keyid":"(' + _TEXT + rb')","sig":"(' + _BASE64 + rb')"\}'
_ENVELOPE_START = rb'\{"payloadType":"(' + _TEXT + rb')","payload":"(' + _BASE64 + rb')"'
_ONE_SIGNATURE = re.compile(_ENVELOPE_START + rb',"signatures":\[' + _SIGNATURE + rb"\]\}")
_ANY_SIGNATURES = re.compile(
    _ENVELOPE_START
    + rb',"signatures":\[('
    + _SIGNATURE.replace(b"(", b"(?:")
    + rb"(?:,"
    + _SIGNATURE.replace(b"(", b"(?:")
    + rb")*)\]\}"
)
_SIGNATURES = re.compile(_SIGNATURE)
_ATTESTATION_TYPES = frozenset(ATTESTATION_TYPES)


def _fast_envelope(
    data: bytes,
) -> tuple[str, bytes, tuple[str, ...], tuple[bytes, ...]] | None:
    """Return (payload type, payload, signature keyids, signatures) of an envelope in the compact
    form :meth:`Envelope.to_json` writes (fields in DSSE order, no whitespace, no escapes, padded
    standard base64), or None for any other text, valid or not.

    Such text is one JSON object with exactly the fields the strict parser requires, each a string
    of ASCII; with canonical base64 (checked by encoding it back) it decodes to the same values."""
    match = _ONE_SIGNATURE.fullmatch(data)  # the commonest envelope, matched without a list
    if match is not None:
        payload_type, payload_text, keyid, sig_text = match.groups()
        keyids: tuple[str, ...] = (keyid.decode(),)
        signatures: tuple[bytes | None, ...] = (_canonical_base64(sig_text),)
    else:
        match = _ANY_SIGNATURES.fullmatch(data)
        if match is None:
            return None
        payload_type, payload_text, listed = match.groups()
        pairs = _SIGNATURES.findall(listed)
        keyids = tuple(keyid.decode() for keyid, _ in pairs)
        signatures = tuple(_canonical_base64(sig_text) for _, sig_text in pairs)
    payload = _canonical_base64(payload_text)
    if payload is None or not all(signatures):  # the strict parser refuses an empty signature
        return None
    return payload_type.decode(), payload, keyids, signatures  # type: ignore[return-value]


def _canonical_base64(text: bytes) -> bytes | None:
    """Decode padded standard base64 written as :func:`binascii.b2a_base64` writes it; return
    None for any other text, including any character outside the alphabet (the decoder skips
    those, so the text would not come back when encoding the result)."""
    try:
        data = binascii.a2b_base64(text)
    except binascii.Error:
        return None
    return data if binascii.b2a_base64(data, newline=False) == text else None


def _fast_attestation(payload_type: str, payload: bytes) -> tuple[str, str, dict[str, Any]] | None:
    """Return (type, party, body) of a valid attestation, as :func:`parse_statement` reads it, or
    None for anything it would not return as an attestation (the strict parser then decides)."""
    if payload_type != PAYLOAD_TYPE:
        return None
    try:
        body = decode_payload(payload)  # what parse_statement decodes, the same way
    except InvalidStatementError:
        return None
    if type(body) is not dict:
        return None
    statement_type, by = body.get("type"), body.get("by")
    if type(statement_type) is not str or statement_type not in _ATTESTATION_TYPES:
        return None
    if type(by) is not str or not PARTY_ID.fullmatch(by):
        return None
    try:
        validate_attestation(body)
    except InvalidStatementError:
        return None
    return statement_type, by, body
