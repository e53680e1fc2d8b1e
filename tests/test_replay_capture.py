"""Replay's capture rule (rule 5, ``statement``): an EPCIS capture is followed by exactly the event
entries derived from it, and no event entry stands anywhere else.

Each test captures a real EPCIS document (two events) through the ledger, then rewrites the stored
log from some index on as an operator holding the log key would: every rewritten entry gets its own
index, the hash of the entry before it and a time that does not go backwards, and every subtree hash
and checkpoint is recomputed. Only the capture rule can tell such a log from an honest one, so each
test expects it, at the exact index, and the untampered log (or one rewritten unchanged) verifies.

The capture stands inside the first chunk of the replay, or at the end of it with some or all of
its events in the next; those chunks are checked in this process alone, or with ``workers=2`` in
a worker process alone or split between the two (this process the first chunk, a worker the next:
see :func:`provenance.replay._chunks`). Every case runs in each shape, in SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from factories import attestation, register, seal, submit
from provenance import replay
from provenance.capture import CAPTURE, EPCIS_PAYLOAD_TYPE, EVENT
from provenance.dsse import sign_envelope
from provenance.entry import GENESIS_PREV, decode_leaf, encode_leaf
from provenance.keyfiles import OperatorKeys
from provenance.ledger import Ledger
from provenance.merkle.hashing import hash_leaf
from provenance.replay import CHUNK, VerifyResult, verify_log
from provenance.statements import parse_envelope, parse_statement
from provenance.store.sql import SqlStore, blob

DOCUMENT = Path(__file__).parent / "vectors" / "epcis" / "Example_9.6.1-ObjectEvent.jsonld"
EVENTS = 2  # in DOCUMENT's eventList


# --- The log: a capture between two attestations ------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """Where the capture stands, and how replay checks the chunks."""

    capture: int
    """The capture's index; its events follow it, an attestation precedes it and two follow them."""
    workers: int
    main_claims: Callable[[Synchronized[int], int], int | None] | None = None
    """Replaces replay's ``claim`` in this process (which chunks it checks itself, while worker
    processes use the real one); None: as replay decides, which for a log of two chunks is
    usually this process alone, done before a worker has started."""


def _first_chunk_only(next_chunk: Synchronized[int], count: int) -> int | None:
    """This process checks chunk 0 if no worker took it first, and leaves the rest to workers."""
    with next_chunk.get_lock():
        if next_chunk.value != 0 or count == 0:
            return None
        next_chunk.value = 1
    return 0


def _none(next_chunk: Synchronized[int], count: int) -> int | None:
    """This process checks no chunk: a worker process checks them all."""
    return None


SHAPES = {
    "one-chunk": Shape(3, 1),
    # The first event ends chunk 0, the second starts chunk 1.
    "events-across-chunks": Shape(CHUNK - 2, 1),
    "events-across-chunks-main-and-worker": Shape(CHUNK - 2, 2, _first_chunk_only),
    "events-across-chunks-worker-only": Shape(CHUNK - 2, 2, _none),
    # The capture ends chunk 0, all its events are in chunk 1.
    "capture-ends-a-chunk": Shape(CHUNK - 1, 1),
    "capture-ends-a-chunk-main-and-worker": Shape(CHUNK - 1, 2, _first_chunk_only),
}


@dataclass(frozen=True)
class Captured:
    """A ledger holding a capture, and how to verify it."""

    ledger: Ledger
    operator_keys: OperatorKeys
    shape: Shape
    key: Ed25519PrivateKey
    """The key of ``farm``, the party that signed the capture and the attestations."""

    @property
    def capture(self) -> int:
        return self.shape.capture

    @property
    def store(self) -> SqlStore:
        return self.ledger.log.store

    def verify(self) -> VerifyResult:
        return verify_log(self.store, [self.operator_keys.log_verifier], workers=self.shape.workers)


@pytest.fixture(params=list(SHAPES.values()), ids=list(SHAPES))
def captured(
    request: pytest.FixtureRequest,
    ledger: Ledger,
    operator_keys: OperatorKeys,
    monkeypatch: pytest.MonkeyPatch,
) -> Captured:
    """The founding entry, ``farm``'s registration, blobs up to the shape's capture index, then
    an attestation, the capture, its two event entries, and two attestations."""
    shape: Shape = request.param
    key = register(ledger, operator_keys, "farm")
    padding = shape.capture - 1 - ledger.log.size()
    if padding:
        ledger.log.append([("blob", b"padding %d" % i) for i in range(padding)])
    submit(ledger, attestation("farm", key))
    envelope = sign_envelope(EPCIS_PAYLOAD_TYPE, DOCUMENT.read_bytes(), [key])
    receipt = submit(ledger, envelope.to_json())
    assert receipt.index == shape.capture
    submit(ledger, attestation("farm", key))
    submit(ledger, attestation("farm", key))
    assert ledger.log.size() == shape.capture + EVENTS + 3
    if shape.main_claims is not None:
        monkeypatch.setattr(replay, "claim", shape.main_claims)
    return Captured(ledger, operator_keys, shape, key)


def expect(result: VerifyResult, index: int, what: str) -> None:
    assert result.error is not None, "tampering went unnoticed"
    assert (result.error.index, result.error.what) == (index, what), result.error


# --- Rewriting history with the log key ---------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    """An entry as the log stores it, less what its place decides (index, time, prev)."""

    kind: str
    payload: bytes
    digest: bytes | None = None


def stored_from(store: SqlStore, start: int) -> list[Stored]:
    """The entries from ``start`` to the end of the log."""
    with store.read() as reader:
        rows = reader.connection.execute(
            text("SELECT kind, digest, leaf FROM log_entry WHERE idx >= :a ORDER BY idx"),
            {"a": start},
        ).all()
    return [
        Stored(str(kind), decode_leaf(blob(leaf)).payload, None if d is None else blob(d))
        for kind, d, leaf in rows
    ]


def signed(data: bytes) -> Stored:
    """A statement entry holding ``data``, with the digest the ledger would store."""
    statement = parse_statement(parse_envelope(data))
    return Stored(statement.type, data, statement.digest)


def rewrite_from(captured: Captured, start: int, entries: Sequence[Stored]) -> None:
    """Replace the log from index ``start`` on with ``entries``, chained and timed as the log
    would, and recompute every subtree hash and checkpoint (those at sizes the log still reaches,
    and one at its new size), signed with the log key."""
    store, signer = captured.store, captured.operator_keys.log_signer
    with store.read() as reader:
        leaves = [leaf for _, leaf in reader.iter_leaves()]
        sizes = [size for size, _ in reader.iter_checkpoints()]
    kept = leaves[:start]
    prev = hash_leaf(kept[-1]) if kept else GENESIS_PREV
    time_ms = decode_leaf(leaves[max(start - 1, 0)]).time_ms  # never earlier than what is kept
    rows: list[tuple[int, str, bytes | None, bytes]] = []
    for index, entry in enumerate(entries, start):
        leaf = encode_leaf(index, time_ms, entry.kind, prev, entry.payload)
        rows.append((index, entry.kind, entry.digest, leaf))
        prev = hash_leaf(leaf)
    size = start + len(entries)
    sizes = sorted({s for s in sizes if s < size} | {size})
    tiles, notes = seal(kept + [row[3] for row in rows], sizes, signer)
    with store.write() as txn:
        txn.connection.execute(text("DELETE FROM log_entry WHERE idx >= :a"), {"a": start})
        txn.connection.execute(text("DELETE FROM merkle_tile"))
        txn.connection.execute(text("DELETE FROM log_checkpoint"))
        if rows:
            txn.insert_entries(rows)
        txn.put_tiles(tiles)
        for checkpoint_size, note in notes:
            txn.insert_checkpoint(checkpoint_size, note)


def flip_value(payload: bytes, field: str) -> bytes:
    """``payload`` with one bit changed in the first character of ``field``'s JSON value."""
    position = payload.index(b'"%s":' % field.encode()) + len(field) + 3
    if payload[position : position + 1] == b'"':
        position += 1
    changed = bytearray(payload)
    changed[position] ^= 0x01
    return bytes(changed)


# --- An honest log verifies ---------------------------------------------------------------------


def test_capture_log_verifies(captured: Captured) -> None:
    result = captured.verify()
    assert result.ok, result.error
    assert result.size == captured.capture + EVENTS + 3
    kinds = [e.kind for e in stored_from(captured.store, captured.capture)]
    assert kinds == [CAPTURE, EVENT, EVENT, "origin", "origin"]


def test_rewriting_unchanged_changes_nothing(captured: Captured) -> None:
    start = captured.capture - 1
    rewrite_from(captured, start, stored_from(captured.store, start))
    result = captured.verify()
    assert result.ok, result.error


# --- An event entry replaced or changed in its place --------------------------------------------


@pytest.mark.parametrize("position", range(EVENTS))
def test_event_replaced_by_a_blob(captured: Captured, position: int) -> None:
    at = captured.capture + 1 + position
    entries = stored_from(captured.store, at)
    rewrite_from(captured, at, [Stored("blob", b"not an event"), *entries[1:]])
    expect(captured.verify(), at, "statement")


@pytest.mark.parametrize("position", range(EVENTS))
def test_event_replaced_by_a_statement(captured: Captured, position: int) -> None:
    at = captured.capture + 1 + position
    entries = stored_from(captured.store, at)
    rewrite_from(captured, at, [signed(attestation("farm", captured.key)), *entries[1:]])
    expect(captured.verify(), at, "statement")


@pytest.mark.parametrize(
    ("position", "field"),
    [(0, "eventHash")]
    + [(EVENTS - 1, f) for f in ("capture", "position", "eventID", "eventHash", "statement")],
)
def test_event_payload_one_byte_changed(captured: Captured, position: int, field: str) -> None:
    at = captured.capture + 1 + position
    event, *rest = stored_from(captured.store, at)
    assert event.kind == EVENT
    rewrite_from(captured, at, [Stored(EVENT, flip_value(event.payload, field)), *rest])
    expect(captured.verify(), at, "statement")


def test_events_swapped(captured: Captured) -> None:
    first, second, *rest = stored_from(captured.store, captured.capture + 1)
    rewrite_from(captured, captured.capture + 1, [second, first, *rest])
    expect(captured.verify(), captured.capture + 1, "statement")


# --- An event entry where no capture derives it -------------------------------------------------


@pytest.mark.parametrize(
    "offset",
    [
        pytest.param(4, id="after-an-attestation"),
        pytest.param(3 + EVENTS, id="at-the-end-of-the-log"),
        pytest.param(1 + EVENTS, id="right-after-the-capture-s-events"),
    ],
)
def test_event_with_no_capture(captured: Captured, offset: int) -> None:
    # A copy of an event entry the capture does derive, so that only its place is wrong.
    event = stored_from(captured.store, captured.capture + 1)[0]
    at = captured.capture + offset
    rest = stored_from(captured.store, at)
    rewrite_from(captured, at, [event, *rest])
    expect(captured.verify(), at, "statement")


def test_event_in_place_of_a_statement_before_the_capture(captured: Captured) -> None:
    at = captured.capture - 1
    attestation_entry, capture, event, *rest = stored_from(captured.store, at)
    assert (attestation_entry.kind, capture.kind) == ("origin", CAPTURE)
    rewrite_from(captured, at, [event, capture, event, *rest])
    expect(captured.verify(), at, "statement")


def test_event_entry_first_in_the_log(captured: Captured) -> None:
    # In place of the founding registration: no chunk before it could have expected an event.
    # (Without the capture rule, the registry would still refuse entry 1, whose signer is
    # then unknown; with it, the event itself is named first.)
    entries = stored_from(captured.store, 0)
    rewrite_from(captured, 0, [entries[captured.capture + 1], *entries[1:]])
    expect(captured.verify(), 0, "statement")


# --- A capture followed by fewer event entries than it derives ----------------------------------


def test_last_event_missing_next_entry_in_its_place(captured: Captured) -> None:
    at = captured.capture + EVENTS
    last_event, *rest = stored_from(captured.store, at)
    assert [last_event.kind, rest[0].kind] == [EVENT, "origin"]
    rewrite_from(captured, at, rest)
    expect(captured.verify(), at, "statement")


def test_every_event_missing(captured: Captured) -> None:
    at = captured.capture + 1
    rest = stored_from(captured.store, at)[EVENTS:]
    rewrite_from(captured, at, rest)
    expect(captured.verify(), at, "statement")


@pytest.mark.parametrize("kept", range(EVENTS))
def test_log_ends_before_the_last_event(captured: Captured, kept: int) -> None:
    at = captured.capture + 1
    rewrite_from(captured, at, stored_from(captured.store, at)[:kept])
    expect(captured.verify(), at + kept, "statement")
