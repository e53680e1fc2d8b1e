"""The ledger: signed statements in, receipts out.

:class:`Ledger` decides what may be appended to the :class:`~provenance.log.Log`. A submission goes
through two stages:

1. :meth:`Ledger.prepare`, in the caller's thread and outside any lock: size limits, DSSE parsing,
   the statement's shape, and Ed25519 verification of every signature by a key the registry knows.
   This is the expensive part, so it runs in parallel across threads and worker processes.
2. The commit, under the log's append lock: the registry is brought up to date with what other
   processes appended, and each statement is admitted (key and party status *at its index*,
   authorization) and appended. Concurrent submissions are grouped into one transaction by a
   committer thread (group commit), so that many durable appends share one fsync.

A statement submitted twice (the same payload and payload type, so the same signed bytes) is not
appended twice: the second submission gets the first one's receipt.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from provenance.attestations import check_references
from provenance.capture import EVENT, Capture, event_payload
from provenance.dsse import Envelope
from provenance.entry import decode_leaf
from provenance.errors import (
    AppendRefused,
    BadEnvelopeSignatureError,
    ConflictError,
)
from provenance.log import Batch, Log, Receipt
from provenance.projections import ProjectionRows
from provenance.registry import Registry
from provenance.statements import (
    REGISTRY_TYPES,
    Statement,
    check_signatures,
    parse_envelope,
    parse_statement,
    statement_at,
)
from provenance.store.sql import Reader, WriteTransaction

DEFAULT_MAX_BATCH = 1000
"""The most submissions one group commit takes (also the limit of a batch request)."""

DEFAULT_LINGER = 0.002
"""How long (seconds) the group committer waits at most for the submitters its last group
answered to come back before it commits what is queued. It stops waiting as soon as they are all
back, so a lone submitter never waits."""


AdmitHook = Callable[[WriteTransaction, int, int], None]
"""Called with (transaction, index, time in ms) when a prepared statement is admitted."""


@dataclass(frozen=True)
class Prepared:
    """A submission that parsed and whose signatures by known keys verified."""

    raw: bytes
    statement: Statement
    verified: frozenset[str]
    # Run in the append transaction once the statement is admitted, with its index and the
    # batch's time: writes what lives beside the log (a review's content) atomically with the
    # entry, or raises AppendRefused (a duplicate, a used holder code) so nothing is appended.
    on_admit: AdmitHook | None = None

    @property
    def digest(self) -> bytes:
        return self.statement.digest


Outcome = Receipt | AppendRefused


class Ledger:
    """Admits signed statements into a log, one group commit at a time."""

    def __init__(
        self, log: Log, *, max_batch: int = DEFAULT_MAX_BATCH, linger: float = DEFAULT_LINGER
    ) -> None:
        self.log = log
        self.max_batch = max_batch
        self.linger = linger
        with log.store.read() as reader:
            self._registry = Registry.from_rows(reader.parties(), reader.party_keys())
            self._registry_size = reader.size()
        self._registry_lock = threading.Lock()
        self._queue: list[tuple[Prepared, Future[Outcome]]] = []
        self._queue_ready = threading.Condition()
        # How many queued submissions the committer is waiting for: each enqueue that leaves
        # fewer queued lets it sleep on, rather than waking it to count and sleep again (under
        # 32 submitting threads, every such wake-up was another wait for the GIL in the middle
        # of the committer's cycle).
        self._awaited = 1
        self._committer: threading.Thread | None = None
        self._closed = False
        self.on_commit: list[Callable[[int], None]] = []
        """Called with the new log size after each batch this process commits, in the committing
        thread; a listener must be quick and must not raise (the live feed wakes on it)."""

    @property
    def registry(self) -> Registry:
        """The registry as of the last batch this process committed or saw."""
        return self._registry

    @property
    def registry_size(self) -> int:
        """The log size the registry reflects."""
        return self._registry_size

    def refresh(self) -> int:
        """Bring the registry up to what other processes appended, without taking the append lock;
        return the log size it saw (one read, so a page can key its cache on it)."""
        with self.log.store.read() as reader:
            size = reader.size()
            if size <= self._registry_size:
                return size
            registry = _folded(self._registry.copy(), reader, self._registry_size, size)
        self._install(registry, size)
        return size

    def _install(self, registry: Registry, size: int) -> None:
        with self._registry_lock:
            if size >= self._registry_size:
                self._registry, self._registry_size = registry, size

    # --- Stage 1: outside the lock --------------------------------------------------------------

    def prepare(
        self, data: bytes, on_admit: AdmitHook | None = None, *, envelope: Envelope | None = None
    ) -> Prepared:
        """Check a submitted envelope's size, shape and signatures; raise AppendRefused if bad.
        ``on_admit`` runs in the append transaction if the statement is admitted. ``envelope`` is
        ``data`` already parsed, by a caller that made ``data`` as its JSON encoding."""
        self.log.check_payload(data)
        registry = self._registry
        if envelope is None:
            envelope = parse_envelope(data)
        statement = registry.resolve_party(parse_statement(envelope))
        verified = _verify_signatures(statement, registry.signing_keys(statement))
        _ = statement.digest  # cached on the statement: hashed here, not under the append lock
        return Prepared(data, statement, frozenset(verified), on_admit)

    # --- Stage 2: under the lock ----------------------------------------------------------------

    def prepare_own(
        self, envelope: Envelope, keyid: str, on_admit: AdmitHook | None = None
    ) -> Prepared:
        """Like :meth:`prepare` for an envelope this process has just signed itself with the key
        ``keyid`` (the operator recording a review): it is neither re-parsed from bytes nor its
        signature verified again. The statement's shape, the key's status and the rules are
        still checked, here and when it is admitted."""
        data = envelope.to_json()
        self.log.check_payload(data)
        statement = self._registry.resolve_party(parse_statement(envelope))
        _ = statement.digest  # cached on the statement: hashed here, not under the append lock
        return Prepared(data, statement, frozenset({keyid}), on_admit)

    def submit(self, data: bytes) -> Receipt:
        """Append one signed statement through the group committer and return its receipt."""
        outcome = self.enqueue(self.prepare(data)).result()
        if isinstance(outcome, AppendRefused):
            raise outcome
        return outcome

    def enqueue(self, prepared: Prepared) -> Future[Outcome]:
        """Hand a prepared submission to the group committer; the future gives its outcome."""
        future: Future[Outcome] = Future()
        with self._queue_ready:
            if self._closed:
                raise RuntimeError("ledger is closed")
            self._queue.append((prepared, future))
            if self._committer is None:
                self._committer = threading.Thread(
                    target=self._commit_loop, name="group-commit", daemon=True
                )
                self._committer.start()
            if len(self._queue) >= self._awaited:
                self._queue_ready.notify()
        return future

    def commit(self, submissions: Sequence[Prepared]) -> list[Outcome]:
        """Admit and append prepared submissions in one transaction, in order; one outcome each."""
        outcomes: list[Outcome | None] = [None] * len(submissions)
        duplicates: dict[int, int] = {}
        admitted: dict[int, int] = {}
        with self.log.batch() as batch:
            rows = ProjectionRows(earlier_review_items=batch.txn.subjects_of)
            registry = self._caught_up(batch)
            added: dict[int, Statement] = {}
            known = batch.indexes_of_digests([p.digest for p in submissions])
            for position, prepared in enumerate(submissions):
                first = known.get(prepared.digest, batch.digests.get(prepared.digest))
                if first is not None:
                    duplicates[position] = first
                    continue
                if registry is self._registry and prepared.statement.type in REGISTRY_TYPES:
                    # The batch's first change to parties or keys: from here on it works on a
                    # copy, so that a batch that fails leaves the installed registry as it was.
                    registry = registry.copy()
                try:
                    statement, index = self._admit(registry, prepared, batch, added)
                except AppendRefused as refusal:
                    outcomes[position] = refusal
                    continue
                added[index] = statement
                admitted[position] = index
                rows.add(index, batch.time_ms, statement)
            parties, keys = registry.take_dirty_rows()
            batch.txn.replace_projection("party", parties)
            batch.txn.replace_projection("party_key", keys)
            rows.write(batch.txn)
        self._install(registry, batch.size)
        if batch.size > batch.start:
            for listener in self.on_commit:
                listener(batch.size)
        for position in range(len(submissions)):
            if position in duplicates:
                first = duplicates[position]
                outcomes[position] = batch.receipt(first) or self.log.receipt(first)
            elif position in admitted:
                outcomes[position] = batch.receipts[admitted[position] - batch.start]
        return [o for o in outcomes if o is not None]

    def _admit(
        self, registry: Registry, prepared: Prepared, batch: Batch, added: dict[int, Statement]
    ) -> tuple[Statement, int]:
        """Admit one submission into the batch and return it with its index, or raise its refusal."""
        statement = registry.resolve_party(prepared.statement)
        verified = set(prepared.verified)
        # Keys registered since stage 1 (earlier in this batch, or by another process) are checked
        # now; keys never change their public bytes, so stage 1's results stay valid.
        late = {k: v for k, v in registry.signing_keys(statement).items() if k not in verified}
        if late:
            verified |= _verify_signatures(statement, late)
        index = batch.size
        registry.admit(statement, verified, index)

        def lookup(target: int) -> tuple[str, str] | None:
            earlier = added.get(target)
            if earlier is not None:
                return earlier.type, earlier.by
            return statement_at(batch.txn, target)

        check_references(statement.type, statement.by, statement.body, index, lookup)
        if statement.capture is not None:
            self._check_new_event_ids(statement.capture, batch, added)
        if prepared.on_admit is not None:
            prepared.on_admit(batch.txn, index, batch.time_ms)
        batch.add(statement.type, prepared.raw, prepared.digest)
        if statement.capture is not None:
            for position, event in enumerate(statement.capture.events):
                batch.add(EVENT, event_payload(index, position, event))
        registry.apply(statement, index)
        return statement, index

    @staticmethod
    def _check_new_event_ids(capture: Capture, batch: Batch, added: dict[int, Statement]) -> None:
        ids = [e.event_id for e in capture.events]
        earlier = {e.event_id for s in added.values() if s.capture for e in s.capture.events}
        taken = earlier.intersection(ids) | set(batch.txn.existing_event_ids(ids))
        if taken:
            raise ConflictError(f"EPCIS event already captured: {sorted(taken)[0]}")

    def _caught_up(self, batch: Batch) -> Registry:
        """Return the registry as of every entry before the batch: the installed one when it is
        current (admission only reads it; :meth:`commit` copies it before a registry statement
        changes it), otherwise a new one."""
        if batch.start < self._registry_size:
            # The log cannot shrink; a smaller size means another database: start again.
            return Registry.from_rows(batch.txn.parties(), batch.txn.party_keys())
        if batch.start > self._registry_size:
            return _folded(self._registry.copy(), batch.txn, self._registry_size, batch.start)
        return self._registry

    def _commit_loop(self) -> None:
        # Submitters answered by the last group, and how many were queued when they were: most
        # come straight back with their next submission (a client's next statement, a request
        # thread's next request). Without waiting for them, concurrent submitters split into two
        # halves that take turns, each group half as large as it could be.
        answered = queued_then = 0
        while True:
            with self._queue_ready:
                self._awaited = 1
                while not self._queue and not self._closed:
                    self._queue_ready.wait()
                if not self._queue and self._closed:
                    return
                wanted = self._awaited = min(queued_then + answered, self.max_batch)
                deadline = time.monotonic() + self.linger
                while len(self._queue) < wanted and not self._closed:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._queue_ready.wait(remaining)
                queued = self._queue[: self.max_batch]
                del self._queue[: self.max_batch]
            # A submitter may give up while queued (an HTTP request cancelled by a timeout or a
            # shutdown cancels the future it awaits): that one is dropped, never appended. The
            # rest are marked running, so that nobody can cancel them any more: an entry that is
            # appended always gets its outcome, and setting it can never fail in this thread.
            taken = [(p, f) for p, f in queued if f.set_running_or_notify_cancel()]
            if not taken:
                continue
            try:
                outcomes = self.commit([p for p, _ in taken])
            except BaseException as failure:  # the transaction failed: nothing was appended
                for _, future in taken:
                    future.set_exception(failure)
                answered = 0
                continue
            with self._queue_ready:
                answered, queued_then = len(taken), len(self._queue)
            for (_, future), outcome in zip(taken, outcomes, strict=True):
                future.set_result(outcome)

    def close(self) -> None:
        """Finish what is queued, then stop the committer thread."""
        with self._queue_ready:
            self._closed = True
            self._queue_ready.notify_all()
        if self._committer is not None:
            self._committer.join()


def _folded(registry: Registry, reader: Reader, start: int, end: int) -> Registry:
    """Fold into ``registry`` the registry entries in [start, end) that other processes appended;
    their projection rows were written by whoever appended them, so none are left dirty here."""
    for index, leaf in reader.entries_of_kinds(start, REGISTRY_TYPES):
        if index < end:
            registry.apply(parse_statement(parse_envelope(decode_leaf(leaf).payload)), index)
    registry.take_dirty_rows()
    return registry


def _verify_signatures(statement: Statement, keys: dict[str, bytes]) -> set[str]:
    """Return the keyids in ``keys`` whose signature on ``statement`` verified.

    Raises BadEnvelopeSignatureError if a signature by one of ``keys`` does not verify: a forged or
    corrupted signature is refused rather than ignored.
    """
    verified, failed = check_signatures(statement, keys)
    if failed:
        raise BadEnvelopeSignatureError(f"signature by key {sorted(failed)[0]} does not verify")
    return verified
