"""Full verification of a stored log by replaying it from the first entry, trusting nothing stored.

Rules, each reported as a :class:`~provenance.errors.LogIntegrityError` naming the index and the part:

1. ``index``: entries are numbered 0..n-1 with no gap, and each leaf's header carries its own index.
2. ``leaf``: each leaf is well formed (:mod:`provenance.entry`).
3. ``chain``: each leaf's ``prev`` is the leaf hash of the entry before it (zeros for entry 0).
4. ``time``: entry times never go backwards.
5. ``statement``: an entry of a statement kind holds a DSSE envelope whose statement has that type,
   and its stored digest is the digest of what its signatures sign; an EPCIS capture is followed
   by exactly the event entries derived from it, and no event entry stands anywhere else.
6. ``signature``: every signature by a key registered at that index verifies.
7. ``registry``: the registry rules (:mod:`provenance.registry`) admit the statement at that index:
   its key was active and its party not suspended at that moment, and it was authorized; a
   correction or retraction points at an earlier attestation by the same party.
8. ``tile``: every stored subtree hash equals the one recomputed from the leaves; the index named is
   the last entry the altered node covers, where the replay completes it.
9. ``checkpoint``: every stored checkpoint is signed by the log's key, for this log's origin, and
   commits to the recomputed root at its size; the last one covers the whole log.

Replay is split in two: chunks of entries are checked (leaf format, chain, leaf hashes, envelope
signatures) in worker processes, one per core, and the main process folds their results in order
through the registry and the Merkle tree. The first bad index is the smallest index any rule names.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context

from provenance.attestations import check_references
from provenance.capture import EVENT, Capture, event_payload
from provenance.checkpoint import open_checkpoint
from provenance.dsse import Envelope, pae
from provenance.entry import GENESIS_PREV, MAGIC, decode_leaf
from provenance.errors import AppendRefused, LogIntegrityError, MalformedError, VerificationError
from provenance.merkle.hashing import HASH_SIZE, LEAF_PREFIX
from provenance.note import NoteVerifier
from provenance.registry import Registry
from provenance.statements import (
    KEY_ADD,
    PARTY_REGISTER,
    REGISTRY_TYPES,
    STATEMENT_TYPES,
    Statement,
    check_signatures,
    parse_envelope,
    parse_statement,
    public_key_of,
    statement_at,
)
from provenance.store.sql import Reader, SqlStore, blob
from provenance.tiles import TILE_HEIGHT, TILE_WIDTH, TileTree, level_offsets

EVENT_KIND = EVENT.encode()
STATEMENT_KINDS = frozenset(kind.encode() for kind in STATEMENT_TYPES)

CHUNK = 4096
"""Entries per unit of work; a multiple of the tile width so that chunks start on a tile."""

PARALLEL_THRESHOLD = 20_000
"""Below this many signed entries, replay runs in one process. Starting workers costs about a
second, and an unsigned entry is checked faster in-process than it can be shipped to a worker and
back; signature checks are what parallel workers pay for."""


@dataclass
class VerifyResult:
    """What a replay found: the log's size, what was checked, and the first error if any."""

    size: int
    checkpoints: int = 0
    signatures: int = 0
    error: LogIntegrityError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


# --- Per-chunk checks (run in worker processes) -------------------------------------------------


@dataclass
class _ChunkResult:
    start: int
    end: int
    leaf_hashes: list[bytes]
    first_prev: bytes
    first_time: int
    last_time: int
    statements: list[tuple[int, Statement, frozenset[str], frozenset[str]]]
    derived: dict[int, bytes] = field(default_factory=dict)
    """Payloads of ``epcis.event`` entries, which replay recomputes from their capture."""
    errors: list[LogIntegrityError] = field(default_factory=list)
    stopped: bool = False
    """The chunk hit an entry it could not place (missing or unreadable): nothing after lines up."""


_worker_store: SqlStore | None = None
_worker_keys: dict[str, bytes] = {}


def _init_worker(url: str, keys: dict[str, bytes]) -> None:
    global _worker_store, _worker_keys
    _worker_store = SqlStore(url)
    _worker_keys = keys


def _check_chunk_in_worker(bounds: tuple[int, int]) -> _ChunkResult:
    assert _worker_store is not None
    with _worker_store.read() as reader:
        return _check_chunk(reader, bounds[0], bounds[1], _worker_keys)


def _check_chunk(reader: Reader, start: int, end: int, keys: dict[str, bytes]) -> _ChunkResult:
    """Check entries [start, end): leaf format, index, chain and time inside the chunk, and
    envelope signatures by any key in ``keys`` (the main process decides which keys count)."""
    rows = reader.connection.exec_driver_sql(
        "SELECT idx, digest, leaf FROM log_entry WHERE idx >= %s AND idx < %s ORDER BY idx"
        if reader.connection.dialect.name == "postgresql"
        else "SELECT idx, digest, leaf FROM log_entry WHERE idx >= ? AND idx < ? ORDER BY idx",
        (start, end),
    ).all()
    result = _ChunkResult(start, end, [], GENESIS_PREV, 0, 0, [])
    errors = result.errors
    leaf_hashes = result.leaf_hashes
    expected = start
    prev_b64: bytes | None = None  # base64 of the previous leaf hash, as a header writes it
    last_time = 0
    known_kinds: set[bytes] = set()
    sha256 = hashlib.sha256
    for row_index, digest, raw in rows:
        leaf = raw if type(raw) is bytes else blob(raw)
        if row_index != expected:
            errors.append(LogIntegrityError(expected, "index", f"entry {expected} is missing"))
            result.stopped = True
            break
        # The common case, checked field by field without decoding: a well-formed header with
        # this row's index and a kind already seen. Anything else takes the full decoder, which
        # names exactly what is wrong.
        header, _, payload = leaf.partition(b"\n")
        fields = header.split(b" ")
        if (
            len(fields) == 5
            and fields[0] == MAGIC
            and fields[1] == b"%d" % row_index
            and fields[3] in known_kinds
            and fields[2].isdigit()
            and (fields[2][:1] != b"0" or fields[2] == b"0")
            and len(fields[4]) == 44
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
            prev_field = base64.b64encode(entry.prev)
            known_kinds.add(kind_bytes)
        if prev_b64 is None:
            try:
                result.first_prev = base64.b64decode(prev_field, validate=True)
            except ValueError:
                result.first_prev = b""  # cannot match the hash before: reported as a chain break
            result.first_time = time_ms
        else:
            if prev_field != prev_b64:
                errors.append(LogIntegrityError(row_index, "chain", "prev is not the hash before"))
            if time_ms < last_time:
                errors.append(LogIntegrityError(row_index, "time", "time goes backwards"))
        last_time = time_ms
        hasher = sha256(LEAF_PREFIX)
        hasher.update(leaf)
        leaf_hash = hasher.digest()
        prev_b64 = base64.b64encode(leaf_hash)
        leaf_hashes.append(leaf_hash)
        if kind_bytes == EVENT_KIND:
            result.derived[row_index] = payload
        elif kind_bytes in STATEMENT_KINDS:
            kind = kind_bytes.decode()
            checked = _check_statement(row_index, kind, payload, digest, keys)
            if isinstance(checked, LogIntegrityError):
                errors.append(checked)
            else:
                result.statements.append((row_index, *checked))
        expected += 1
    if not result.stopped and expected < end:
        errors.append(LogIntegrityError(expected, "index", f"entry {expected} is missing"))
        result.stopped = True
    result.last_time = last_time
    return result


def _check_statement(
    index: int, kind: str, payload: bytes, digest: bytes | None, keys: dict[str, bytes]
) -> tuple[Statement, frozenset[str], frozenset[str]] | LogIntegrityError:
    try:
        statement = parse_statement(parse_envelope(payload))
    except AppendRefused as e:
        return LogIntegrityError(index, "statement", str(e))
    if statement.type != kind:
        return LogIntegrityError(index, "statement", f"entry kind {kind} holds a {statement.type}")
    envelope = statement.envelope
    message = pae(envelope.payload_type, envelope.payload)
    if digest is None or blob(digest) != hashlib.sha256(message).digest():
        return LogIntegrityError(index, "statement", "stored digest is not the statement's")
    verified, failed = check_signatures(statement, keys)
    return _for_main_process(statement), frozenset(verified), frozenset(failed)


def _for_main_process(statement: Statement) -> Statement:
    """Keep only what the main process's rules read, so that less crosses the process boundary:
    an attestation's payload and body matter to it only through a correction's target."""
    if statement.type in REGISTRY_TYPES or statement.capture is not None:
        return statement
    envelope = Envelope(statement.envelope.payload_type, b"", statement.envelope.signatures)
    body = {k: v for k, v in statement.body.items() if k in ("type", "by", "corrects", "retracts")}
    return dataclasses.replace(statement, envelope=envelope, body=body)


# --- The Merkle tree, rebuilt and compared tile by tile -----------------------------------------


class _TreeChecker:
    """Rebuilds the tiles from leaf hashes (with the same :class:`TileTree` that appends use) and
    compares each with the stored one as soon as it is complete, and the right edge at the end."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.tree = TileTree()
        self.stored: dict[int, dict[int, tuple[int, bytes]]] = {}
        self.tiles_checked = 0
        self.error: LogIntegrityError | None = None

    @property
    def size(self) -> int:
        return self.tree.size

    def add(self, leaf_hashes: Sequence[bytes]) -> None:
        for (level, index), tile in self.tree.extend(leaf_hashes, partial=False).items():
            self._compare(level, index, tile.width, tile.to_bytes())

    def root(self) -> bytes:
        """Return the root hash of the tree of the leaves added so far."""
        return self.tree.root()

    def _stored_tile(self, level: int, index: int) -> tuple[int, bytes] | None:
        cache = self.stored.setdefault(level, {})
        if index not in cache:
            cache.clear()
            cache.update(self.reader.tiles_of_level(level, index, index + 64))
            cache.setdefault(index, (0, b""))
        width, blob = cache[index]
        return None if width == 0 else (width, blob)

    def _compare(self, level: int, index: int, width: int, blob: bytes) -> None:
        self.tiles_checked += 1
        stored = self._stored_tile(level, index)
        if stored == (width, blob) or self.error is not None:
            return
        stored_width, stored_blob = stored if stored is not None else (0, b"")
        first_base = index * TILE_WIDTH
        # The first node that differs, or that one side has and the other lacks, names the index:
        # the last entry that node covers, where the replay completes it.
        common = min(width, stored_width)
        mine, theirs = level_offsets(width), level_offsets(stored_width)
        bad_nodes = [(TILE_HEIGHT * level, first_base + common)] if width != stored_width else []
        for inner in range(TILE_HEIGHT):
            count = common >> inner
            for offset in range(count):
                a = mine[inner] + offset * HASH_SIZE
                b = theirs[inner] + offset * HASH_SIZE
                if blob[a : a + HASH_SIZE] != stored_blob[b : b + HASH_SIZE]:
                    bad_nodes.append((TILE_HEIGHT * level + inner, (first_base >> inner) + offset))
                    break
        last = min(((i + 1) << node_level) - 1 for node_level, i in bad_nodes)
        detail = f"stored subtree hashes of tile {level}/{index} differ from the recomputed ones"
        if stored is None:
            detail = f"tile {level}/{index} is missing"
        elif width != stored_width:
            detail = f"tile {level}/{index} holds {stored_width} nodes, the log makes {width}"
        self._fail(LogIntegrityError(last, "tile", detail))

    def _fail(self, error: LogIntegrityError) -> None:
        if self.error is None or error.index < self.error.index:
            self.error = error

    def finish(self) -> None:
        """Compare the partly filled tiles at the right edge, and count that no extra tile exists."""
        for (level, index), tile in sorted(self.tree.edge_tiles().items()):
            self._compare(level, index, tile.width, tile.to_bytes())
        stored = self.reader.tile_count()
        if stored != self.tiles_checked and self.error is None:
            self._fail(
                LogIntegrityError(
                    max(self.size - 1, 0),
                    "tile",
                    f"{stored} tiles stored, {self.tiles_checked} expected",
                )
            )


# --- The replay ---------------------------------------------------------------------------------


def _collect_public_keys(reader: Reader) -> dict[str, bytes]:
    """Return every public key any registry entry names, by keyid; whether it counted is decided
    in order by the registry, so a malformed entry here is simply skipped."""
    from provenance.keys import keyid

    keys: dict[str, bytes] = {}
    table_kinds = (PARTY_REGISTER, KEY_ADD)
    rows = reader.connection.exec_driver_sql(
        "SELECT leaf FROM log_entry WHERE kind IN ('party.register', 'key.add') ORDER BY idx"
    )
    for (raw,) in rows:
        try:
            entry = decode_leaf(blob(raw))
            statement = parse_statement(parse_envelope(entry.payload))
        except (MalformedError, AppendRefused):
            continue
        if statement.type not in table_kinds:
            continue
        values = (
            statement.body["keys"]
            if statement.type == PARTY_REGISTER
            else [statement.body["public_key"]]
        )
        for value in values:
            key = public_key_of(value)
            keys[keyid(key)] = key
    return keys


def _chunks(
    store: SqlStore, size: int, keys: dict[str, bytes], workers: int
) -> Iterator[_ChunkResult]:
    bounds = [(start, min(start + CHUNK, size)) for start in range(0, size, CHUNK)]
    if workers <= 1:
        with store.read() as reader:
            for start, end in bounds:
                yield _check_chunk(reader, start, end, keys)
        return
    context = get_context("spawn")
    with ProcessPoolExecutor(workers, context, _init_worker, (store.url, keys)) as pool:
        yield from pool.map(_check_chunk_in_worker, bounds)


def verify_log(
    store: SqlStore,
    verifiers: Sequence[NoteVerifier],
    *,
    origin: str | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> VerifyResult:
    """Replay the whole log in ``store`` and return what was found, the first bad index included.

    ``verifiers`` are the keys a checkpoint must be signed by (any one of them); ``origin``, if
    given, is the origin every checkpoint must name. ``progress(done, total)`` is called per chunk.
    """
    # One snapshot for everything but the entries themselves, which never change once written and
    # may be read by worker processes: a live log can keep growing while it is verified.
    with store.read() as reader:
        size = reader.size()
        keys = _collect_public_keys(reader)
        checkpoints = list(reader.iter_checkpoints())
        result = VerifyResult(size)
        if workers is None:
            signed = reader.statement_count()
            workers = (os.cpu_count() or 1) if signed >= PARALLEL_THRESHOLD else 1
        registry = Registry()
        errors: list[LogIntegrityError] = []
        prev_hash, prev_time = GENESIS_PREV, 0
        pending_checkpoints = iter(checkpoints)
        next_checkpoint = next(pending_checkpoints, None)
        tree = _TreeChecker(reader)
        captures = _CaptureChecker()
        for chunk in _chunks(store, size, keys, workers):
            errors.extend(chunk.errors)
            if chunk.leaf_hashes:
                if chunk.first_prev != prev_hash:
                    errors.append(
                        LogIntegrityError(chunk.start, "chain", "prev is not the hash before")
                    )
                if chunk.first_time < prev_time:
                    errors.append(LogIntegrityError(chunk.start, "time", "time goes backwards"))
                prev_hash, prev_time = chunk.leaf_hashes[-1], chunk.last_time
            # Entries that carry meaning (statements, derived EPCIS events) go through the
            # registry in order; plain entries only need hashing, which the tree does in bulk.
            statements = {s[0]: s for s in chunk.statements}
            end = chunk.start + len(chunk.leaf_hashes)
            meaningful = (
                statements.keys() | chunk.derived.keys() | captures.pending_in(chunk.start, end)
            )
            for index in sorted(meaningful):
                error = captures.check(index, chunk.derived.get(index))
                if error is not None:
                    errors.append(error)
                item = statements.get(index)
                if item is not None:
                    error = _admit(registry, reader, *item)
                    if error is None and item[1].capture is not None:
                        error = captures.expect(index, item[1].capture)
                    if error is not None:
                        errors.append(error)
                    result.signatures += len(item[2])
            # Feed the tree up to each checkpoint inside the chunk, checking its root there.
            position = 0
            while position < len(chunk.leaf_hashes):
                stop = len(chunk.leaf_hashes)
                if next_checkpoint is not None and next_checkpoint[0] - chunk.start < stop:
                    stop = max(next_checkpoint[0] - chunk.start, position)
                tree.add(chunk.leaf_hashes[position:stop])
                position = stop
                while next_checkpoint is not None and next_checkpoint[0] == tree.size:
                    error = _check_checkpoint(next_checkpoint, tree.root(), verifiers, origin)
                    if error is not None:
                        errors.append(error)
                    result.checkpoints += 1
                    next_checkpoint = next(pending_checkpoints, None)
                if next_checkpoint is not None and next_checkpoint[0] < tree.size:
                    errors.append(
                        LogIntegrityError(tree.size - 1, "checkpoint", "checkpoints out of order")
                    )
                    next_checkpoint = next(pending_checkpoints, None)
            if progress is not None:
                progress(chunk.end, size)
            if chunk.stopped:
                break  # nothing after a missing or unreadable entry lines up
        else:
            tree.finish()
            error = captures.check(size, None)
            if error is not None:
                errors.append(error)
            if next_checkpoint is not None:
                errors.append(
                    LogIntegrityError(
                        size,
                        "checkpoint",
                        f"checkpoint at size {next_checkpoint[0]} is past the end",
                    )
                )
            last_size = checkpoints[-1][0] if checkpoints else 0
            if last_size < size:
                errors.append(
                    LogIntegrityError(last_size, "checkpoint", "no checkpoint covers this entry")
                )
    if tree.error is not None:
        errors.append(tree.error)
    if errors:
        result.error = min(errors, key=lambda e: e.index)
    return result


class _CaptureChecker:
    """Checks that each EPCIS capture is followed by exactly the event entries derived from it,
    that no event entry stands anywhere else, and that no eventID is captured twice."""

    def __init__(self) -> None:
        self.expected: dict[int, bytes] = {}
        self.event_ids: set[str] = set()

    def expect(self, index: int, capture: Capture) -> LogIntegrityError | None:
        for position, event in enumerate(capture.events):
            if event.event_id in self.event_ids:
                return LogIntegrityError(
                    index, "registry", f"event {event.event_id} captured twice"
                )
            self.event_ids.add(event.event_id)
            self.expected[index + 1 + position] = event_payload(index, position, event)
        return None

    def pending_in(self, start: int, end: int) -> set[int]:
        """Indexes in [start, end) where an event entry is expected."""
        return {i for i in self.expected if start <= i < end}

    def check(self, index: int, derived: bytes | None) -> LogIntegrityError | None:
        wanted = self.expected.pop(index, None)
        if wanted is None and derived is None:
            return None
        if wanted is None:
            return LogIntegrityError(index, "statement", "an EPCIS event entry with no capture")
        if derived != wanted:
            return LogIntegrityError(index, "statement", "not the event entry its capture derives")
        return None


def _admit(
    registry: Registry,
    reader: Reader,
    index: int,
    statement: Statement,
    verified: frozenset[str],
    failed: frozenset[str],
) -> LogIntegrityError | None:
    registered_failures = [k for k in failed if k in registry.keys]
    if registered_failures:
        return LogIntegrityError(index, "signature", f"signature by {registered_failures[0]} fails")
    try:
        statement = registry.resolve_party(statement)
        registry.admit(statement, set(verified), index)
        check_references(
            statement.type,
            statement.by,
            statement.body,
            index,
            lambda target: statement_at(reader, target),
        )
    except AppendRefused as e:
        return LogIntegrityError(index, "registry", f"{e.code}: {e}")
    if statement.type in REGISTRY_TYPES:
        registry.apply(statement, index)
    return None


def _check_checkpoint(
    checkpoint: tuple[int, str],
    root: bytes,
    verifiers: Sequence[NoteVerifier],
    origin: str | None,
) -> LogIntegrityError | None:
    size, note = checkpoint
    try:
        parsed = open_checkpoint(note, verifiers, origin)
    except VerificationError as e:
        return LogIntegrityError(size - 1, "checkpoint", f"checkpoint at size {size}: {e}")
    if parsed.size != size:
        return LogIntegrityError(
            size - 1, "checkpoint", f"stored at size {size}, says {parsed.size}"
        )
    if parsed.root_hash != root:
        return LogIntegrityError(size - 1, "checkpoint", f"root at size {size} is not the tree's")
    return None


def verify_or_raise(
    store: SqlStore, verifiers: Sequence[NoteVerifier], **options: object
) -> VerifyResult:
    """Like :func:`verify_log`, but raise the first LogIntegrityError instead of returning it."""
    result = verify_log(store, verifiers, **options)  # type: ignore[arg-type]
    if result.error is not None:
        raise result.error
    return result
