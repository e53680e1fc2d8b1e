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
signatures; :mod:`provenance.replay_worker`) in one process per core, the main process included,
and the main process folds their results in order through the registry and the Merkle tree. The
first bad index is the smallest index any rule names.
"""

from __future__ import annotations

import binascii
import os
import queue
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing import get_context
from multiprocessing.queues import Queue

from provenance.attestations import check_references
from provenance.capture import Capture, event_payload
from provenance.checkpoint import open_checkpoint
from provenance.dsse import Envelope, Signature
from provenance.entry import GENESIS_PREV, decode_leaf
from provenance.errors import AppendRefused, LogIntegrityError, MalformedError, VerificationError
from provenance.merkle.hashing import HASH_SIZE
from provenance.note import NoteVerifier
from provenance.registry import Registry
from provenance.replay_worker import (
    ChunkResult,
    PlainStatement,
    check_chunk,
    claim,
    work,
)
from provenance.statements import (
    KEY_ADD,
    PARTY_REGISTER,
    PAYLOAD_TYPE,
    REGISTRY_TYPES,
    Statement,
    parse_envelope,
    parse_statement,
    public_key_of,
    statement_at,
)
from provenance.store.sql import Reader, SqlStore, blob
from provenance.tiles import TILE_HEIGHT, TILE_WIDTH, TileTree, level_offsets, split_hashes

CHUNK = 4096
"""Entries per unit of work; a multiple of the tile width so that chunks start on a tile."""

PARALLEL_THRESHOLD = 500_000
"""Below this much work (entries, plus :data:`PARALLEL_COST` per statement), replay runs in one
process: it would be done before worker processes finished starting."""

PARALLEL_COST = 20
"""Roughly how many plain entries cost as much to check as one signed statement."""


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
    store: SqlStore, reader: Reader, size: int, keys: dict[str, bytes], workers: int
) -> Iterator[ChunkResult]:
    """Yield the checked chunks of the log in order, checked by ``workers`` processes: this one
    and ``workers - 1`` worker processes. This one takes the next unchecked chunk whenever the
    one it must fold next is not back yet: it works while the workers start, and never waits
    while work is left."""
    bounds = [(start, min(start + CHUNK, size)) for start in range(0, size, CHUNK)]
    if workers <= 1 or len(bounds) < 2:
        for start, end in bounds:
            yield check_chunk(reader, start, end, keys)
        return
    # Spawned, not forked: SQLite's record of which file locks this process holds would be
    # copied into a child that does not hold them (sqlite.org/howtocorrupt.html, section 2.6).
    context = get_context("spawn")
    next_chunk = context.Value("q", 0)
    results: Queue[tuple[int, ChunkResult | BaseException]] = context.Queue()
    processes = [
        context.Process(target=work, args=(store.url, keys, bounds, next_chunk, results))
        for _ in range(workers - 1)
    ]
    for process in processes:
        process.start()
    try:
        done: dict[int, ChunkResult] = {}
        for number in range(len(bounds)):
            while number not in done:
                mine = claim(next_chunk, len(bounds))
                if mine is not None:
                    done[mine] = check_chunk(reader, *bounds[mine], keys)
                    continue
                try:
                    theirs, outcome = results.get(timeout=1)
                except queue.Empty:
                    if any(p.exitcode not in (None, 0) for p in processes):
                        raise RuntimeError("a replay worker process died") from None
                    continue
                if isinstance(outcome, BaseException):
                    raise outcome
                done[theirs] = outcome
            yield done.pop(number)
    finally:
        # Every result that matters is in; a worker still starting, or one whose chunk is no
        # longer wanted after an error, has nothing to hand over or clean up.
        for process in processes:
            process.terminate()
        for process in processes:
            process.join()
        results.close()


def default_workers(size: int, signed: int) -> int:
    """Return how many processes replay checks chunks in for a log of ``size`` entries of which
    ``signed`` are statements: one per core once the log is big enough that starting worker
    processes (most of a second of importing each) pays for itself, else this one alone."""
    work = size + PARALLEL_COST * signed
    return (os.cpu_count() or 1) if work >= PARALLEL_THRESHOLD else 1


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
    given, is the origin every checkpoint must name. ``workers`` is how many processes check chunks,
    this one included (by default one per core for a large log, this one alone for a small one).
    ``progress(done, total)`` is called per chunk.
    """
    # One snapshot for everything but the entries themselves, which never change once written and
    # may be read by worker processes: a live log can keep growing while it is verified.
    with store.read() as reader:
        size = reader.size()
        keys = _collect_public_keys(reader)
        checkpoints = list(reader.iter_checkpoints())
        result = VerifyResult(size)
        if workers is None:
            workers = default_workers(size, reader.statement_count())
        registry = Registry()
        errors: list[LogIntegrityError] = []
        prev_hash, prev_time = GENESIS_PREV, 0
        pending_checkpoints = iter(checkpoints)
        next_checkpoint = next(pending_checkpoints, None)
        tree = _TreeChecker(reader)
        captures = _CaptureChecker()
        admitted = _AdmissionCache(registry, reader)
        for chunk in _chunks(store, reader, size, keys, workers):
            errors.extend(chunk.errors)
            leaf_hashes = split_hashes(chunk.leaf_hashes)
            if leaf_hashes:
                if chunk.first_prev != binascii.b2a_base64(prev_hash, newline=False):
                    errors.append(
                        LogIntegrityError(chunk.start, "chain", "prev is not the hash before")
                    )
                if chunk.first_time < prev_time:
                    errors.append(LogIntegrityError(chunk.start, "time", "time goes backwards"))
                prev_hash, prev_time = leaf_hashes[-1], chunk.last_time
            # Entries that carry meaning (statements, derived EPCIS events) go through the
            # registry in order; plain entries only need hashing, which the tree does in bulk.
            end = chunk.start + len(leaf_hashes)
            result.signatures += _fold_statements(chunk, end, admitted, captures, errors)
            # Feed the tree up to each checkpoint inside the chunk, checking its root there.
            position = 0
            while position < len(leaf_hashes):
                stop = len(leaf_hashes)
                if next_checkpoint is not None and next_checkpoint[0] - chunk.start < stop:
                    stop = max(next_checkpoint[0] - chunk.start, position)
                tree.add(leaf_hashes[position:stop])
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


def _fold_statements(
    chunk: ChunkResult,
    end: int,
    admitted: _AdmissionCache,
    captures: _CaptureChecker,
    errors: list[LogIntegrityError],
) -> int:
    """Run the registry and capture rules over the statements and event entries of a chunk's
    entries before ``end``, in log order; return how many signatures verified."""
    signatures = 0
    pending = captures.pending_in(chunk.start, end)
    if not (chunk.full or chunk.derived or pending):
        # The common case: attestations only, none of which changes what the rules read.
        for index, plain in chunk.plain:
            error = admitted.plain(index, plain)
            if error is not None:
                errors.append(error)
            signatures += len(plain[3])
        return signatures
    plain_at = dict(chunk.plain)
    full_at = dict(chunk.full)
    for index in sorted(plain_at.keys() | full_at.keys() | chunk.derived.keys() | pending):
        error = captures.check(index, chunk.derived.get(index))
        if error is not None:
            errors.append(error)
        if index in plain_at:
            error = admitted.plain(index, plain_at[index])
            signatures += len(plain_at[index][3])
        elif index in full_at:
            statement, verified, failed = full_at[index]
            error = admitted.full(index, statement, verified, failed)
            if error is None and statement.capture is not None:
                error = captures.expect(index, statement.capture)
            signatures += len(verified)
        else:
            continue  # an event entry, checked above
        if error is not None:
            errors.append(error)
    # A capture in this chunk expects its events right after it; where a plain entry stands
    # instead, nothing above visited that index.
    for index in sorted(captures.pending_in(chunk.start, end)):
        error = captures.check(index, None)
        if error is not None:
            errors.append(error)
    return signatures


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


class _AdmissionCache:
    """Runs the registry rules on each statement in log order, remembering the outcome for
    attestations that point at no other entry: the rules read only their type, party and which
    keys signed, and the registry, so one outcome holds for every such attestation until the next
    statement that may change the registry. A key's revocation is at an earlier index than every
    statement replayed after it, so the index does not matter to the outcome either."""

    def __init__(self, registry: Registry, reader: Reader) -> None:
        self.registry = registry
        self.reader = reader
        self.outcomes: dict[PlainStatement, tuple[str, str] | None] = {}

    def plain(self, index: int, plain: PlainStatement) -> LogIntegrityError | None:
        if plain not in self.outcomes:
            statement_type, by, keyids, verified, failed = plain
            signatures = tuple(Signature(keyid, b"") for keyid in keyids)
            statement = Statement(
                Envelope(PAYLOAD_TYPE, b"", signatures),
                statement_type,
                by,
                {"type": statement_type, "by": by},
            )
            error = _admit(self.registry, self.reader, index, statement, verified, failed)
            self.outcomes[plain] = None if error is None else (error.what, error.detail)
        outcome = self.outcomes[plain]
        return None if outcome is None else LogIntegrityError(index, *outcome)

    def full(
        self, index: int, statement: Statement, verified: frozenset[str], failed: frozenset[str]
    ) -> LogIntegrityError | None:
        self.outcomes.clear()
        return _admit(self.registry, self.reader, index, statement, verified, failed)


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
