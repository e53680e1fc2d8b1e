"""The append-only, hash-chained Merkle log: sequencing, stored subtrees, checkpoints and proofs.

A :class:`Log` appends entries in batches. Each batch runs inside the store's write transaction, which
holds the append lock, so that any number of threads, processes and machines can append to one
database without forking it. A batch assigns indexes and times, chains each entry to the leaf hash of
the one before, extends the Merkle tree's stored tiles, signs one checkpoint for the new tree size,
and commits; only then are receipts handed out, so a receipt always names a durable entry.

What entries mean (envelopes, parties, keys) is not this module's business; :mod:`provenance.ledger`
decides what may be appended and calls :meth:`Log.batch`.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import overload

from provenance.checkpoint import Checkpoint, sign_checkpoint
from provenance.entry import GENESIS_PREV, decode_leaf, encode_leaves, valid_kind
from provenance.errors import EmptyPayloadError, PayloadTooLargeError, StoreError
from provenance.merkle.compact import root_from_range
from provenance.merkle.hashing import EMPTY_ROOT
from provenance.merkle.proof import NodeID, consistency_proof, inclusion_path, inclusion_proof
from provenance.note import NoteSigner
from provenance.store.sql import SqlStore, WriteTransaction
from provenance.tiles import (
    TILE_WIDTH,
    Tile,
    TileKey,
    TileTree,
    edge_root,
    read_nodes,
    right_edge_nodes,
    tile_for_node,
    tiles_at_right_edge,
    tiles_for_nodes,
)

_checked_kinds: set[str] = set()  # kinds already validated: add() is on every append's hot path

DEFAULT_MAX_PAYLOAD = 1 << 20
"""The largest payload accepted by default (1 MiB); configurable per log."""

FULL_TILE_CACHE = 2048
"""How many full tiles (immutable, 16 KiB each) a log keeps in memory to answer proofs."""


Prover = Callable[[int, int], Sequence[bytes]]
"""Computes the inclusion proof of (index, tree size)."""


class Receipt:
    """Proof that an entry is in the log: its index and leaf hash, and an inclusion proof against
    the signed checkpoint of the batch that committed it.

    The proof is computed when first read, from the tiles the batch held in memory: a batch of a
    thousand appends does not pay for a thousand proofs that its caller may never look at.
    """

    __slots__ = ("_proof", "_prover", "checkpoint", "index", "leaf_hash", "tree_size")

    def __init__(
        self,
        index: int,
        leaf_hash: bytes,
        tree_size: int,
        checkpoint: str,
        prover: Prover,
    ) -> None:
        self.index = index
        self.leaf_hash = leaf_hash
        self.tree_size = tree_size
        self.checkpoint = checkpoint
        self._prover = prover
        self._proof: tuple[bytes, ...] | None = None

    @property
    def inclusion_proof(self) -> tuple[bytes, ...]:
        """The RFC 9162 inclusion proof of the entry in the checkpoint's tree."""
        if self._proof is None:
            self._proof = tuple(self._prover(self.index, self.tree_size))
        return self._proof

    def _key(self) -> tuple[int, bytes, int, str, tuple[bytes, ...]]:
        return (self.index, self.leaf_hash, self.tree_size, self.checkpoint, self.inclusion_proof)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Receipt) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash((self.index, self.leaf_hash, self.tree_size))

    def __repr__(self) -> str:
        return f"Receipt(index={self.index}, tree_size={self.tree_size})"


class Receipts(Sequence[Receipt]):
    """The receipts of one committed batch, in index order, each made when first read.

    A batch of a thousand bulk appends whose caller never looks at its receipts does not pay for
    a thousand objects; one that is read is made once and kept, with its proof once computed.
    """

    __slots__ = ("_checkpoint", "_leaf_hashes", "_made", "_prover", "_start", "_tree_size")

    def __init__(
        self,
        start: int,
        leaf_hashes: Sequence[bytes],
        tree_size: int,
        checkpoint: str,
        prover: Prover,
    ) -> None:
        self._start = start
        self._leaf_hashes = leaf_hashes
        self._tree_size = tree_size
        self._checkpoint = checkpoint
        self._prover = prover
        self._made: dict[int, Receipt] = {}

    def __len__(self) -> int:
        return len(self._leaf_hashes)

    @overload
    def __getitem__(self, position: int) -> Receipt: ...

    @overload
    def __getitem__(self, position: slice) -> list[Receipt]: ...

    def __getitem__(self, position: int | slice) -> Receipt | list[Receipt]:
        if isinstance(position, slice):
            return [self[n] for n in range(*position.indices(len(self)))]
        leaf_hash = self._leaf_hashes[position]  # IndexError out of range, as a list's
        if position < 0:
            position += len(self)
        receipt = self._made.get(position)
        if receipt is None:
            receipt = Receipt(
                self._start + position, leaf_hash, self._tree_size, self._checkpoint, self._prover
            )
            self._made[position] = receipt
        return receipt

    def __iter__(self) -> Iterator[Receipt]:
        return (self[n] for n in range(len(self)))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Receipts | list | tuple):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable cache, compared by value like a list

    def __repr__(self) -> str:
        return f"Receipts({list(self)!r})"


@dataclass
class _Edge:
    """The right edge of the tree: all an append needs to know about what came before."""

    tree: TileTree
    last_leaf_hash: bytes
    last_time_ms: int
    tiles: dict[TileKey, Tile]
    """The partly filled tiles at the right edge; tiles are never changed once built, so edges
    may share them."""

    @property
    def size(self) -> int:
        return self.tree.size


@dataclass
class Batch:
    """Entries being appended under the lock; see :meth:`Log.batch`."""

    log: Log
    txn: WriteTransaction
    start: int
    time_ms: int
    """The time every entry of this batch gets: the sequencer's clock, never behind the last entry."""
    # The entries waiting, column by column: the leaves are encoded and inserted from whole
    # columns, without a tuple per entry.
    kinds: list[str] = field(default_factory=list)
    payloads: list[bytes] = field(default_factory=list)
    statement_digests: list[bytes | None] = field(default_factory=list)
    digests: dict[bytes, int] = field(default_factory=dict)
    """The index of each statement digest queued in this batch."""
    receipts: Sequence[Receipt] = field(default_factory=list)
    """One per entry, in order, once the batch has committed."""

    @property
    def size(self) -> int:
        """The log size including what this batch has added so far."""
        return self.start + len(self.kinds)

    def add(self, kind: str, payload: bytes, digest: bytes | None = None) -> int:
        """Queue an entry for this batch and return the index it will have once committed."""
        if not payload or len(payload) > self.log.max_payload or kind not in _checked_kinds:
            self._check(kind, payload)
        index = self.start + len(self.kinds)
        self.kinds.append(kind)
        self.payloads.append(payload)
        self.statement_digests.append(digest)
        if digest is not None:
            self.digests[digest] = index
        return index

    def add_all(self, entries: Sequence[tuple[str, bytes]]) -> None:
        """Queue (kind, payload) entries without statement digests; like :meth:`add` for each,
        with the checks made on whole columns."""
        if not entries:
            return
        kinds, payloads = zip(*entries, strict=True)
        lengths = list(map(len, payloads))
        if (
            min(lengths) == 0
            or max(lengths) > self.log.max_payload
            or not _checked_kinds.issuperset(kinds)
        ):
            for kind, payload in entries:  # raise what add() would, for the first bad entry
                self._check(kind, payload)
        self.kinds.extend(kinds)
        self.payloads.extend(payloads)
        self.statement_digests.extend([None] * len(kinds))

    def _check(self, kind: str, payload: bytes) -> None:
        self.log.check_payload(payload)
        if kind not in _checked_kinds:
            if not valid_kind(kind):
                raise ValueError(f"invalid entry kind {kind!r}")
            _checked_kinds.add(kind)

    def receipt(self, index: int) -> Receipt | None:
        """Once committed, the receipt of entry ``index`` if this batch appended it, else None."""
        position = index - self.start
        return self.receipts[position] if 0 <= position < len(self.receipts) else None

    def indexes_of_digests(self, digests: Sequence[bytes]) -> dict[bytes, int]:
        """Return the log index of every digest already in the log or earlier in this batch."""
        found = {d: self.digests[d] for d in digests if d in self.digests}
        missing = [d for d in digests if d not in found]
        found.update(self.txn.indexes_of_digests(missing))
        return found


class Log:
    """An append-only Merkle log over a :class:`SqlStore`, signing checkpoints as ``signer``."""

    def __init__(
        self,
        store: SqlStore,
        signer: NoteSigner,
        *,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.signer = signer
        self.origin = signer.name
        self.max_payload = max_payload
        self._clock = clock
        self._edge: _Edge | None = None
        self._full_tiles: OrderedDict[TileKey, Tile] = OrderedDict()
        self._tiles_lock = threading.Lock()
        # One batch at a time per process; the store's lock orders batches across processes.
        self._batch_lock = threading.Lock()

    def check_payload(self, payload: bytes) -> None:
        """Raise if ``payload`` is empty or over this log's size limit."""
        if not payload:
            raise EmptyPayloadError("payload is empty")
        if len(payload) > self.max_payload:
            raise PayloadTooLargeError(len(payload), self.max_payload)

    # --- Appending ------------------------------------------------------------------------------

    @contextmanager
    def batch(self) -> Iterator[Batch]:
        """Hold the append lock, yield a :class:`Batch` to add entries to, then commit them.

        On leaving the block the entries are hashed, chained, added to the tree, covered by one
        signed checkpoint and committed in one transaction; ``batch.receipts`` is filled only after
        the commit. If the block raises, nothing is appended.
        """
        with self._batch_lock:
            batch_edge: _Edge | None = None
            with self.store.write() as txn:
                edge = self._load_edge(txn)
                now_ms = max(int(self._clock() * 1000), edge.last_time_ms)
                batch = Batch(self, txn, edge.size, now_ms)
                yield batch
                if batch.kinds:
                    batch_edge, dirty, leaf_hashes = self._extend(edge, batch)
                    txn.put_tiles(dirty.values())
                    root = edge_root(batch_edge.size, batch_edge.tiles)
                    note = sign_checkpoint(
                        Checkpoint(self.origin, batch_edge.size, root), self.signer
                    )
                    txn.insert_checkpoint(batch_edge.size, note)
            if batch_edge is None:
                return
            # Committed: from here on the new edge is the truth, and receipts may be handed out.
            self._edge = batch_edge
            self._remember_full_tiles(t for t in dirty.values() if t.width == TILE_WIDTH)
            # Every node a proof at the new size needs is in a full tile (cached) or in the right
            # edge, which the batch holds: no receipt's proof goes back to the database.
            prover = self._prover({**batch_edge.tiles, **dirty})
            batch.receipts = Receipts(batch.start, leaf_hashes, batch_edge.size, note, prover)

    def append(self, entries: Sequence[tuple[str, bytes]]) -> Sequence[Receipt]:
        """Append (kind, payload) entries in one batch and return their receipts, in order."""
        with self.batch() as batch:
            batch.add_all(entries)
        return batch.receipts

    def _load_edge(self, txn: WriteTransaction) -> _Edge:
        size = txn.size()
        edge = self._edge
        if edge is not None and edge.size == size:
            # Nobody else appended since our last batch: our cached edge is current. A batch
            # extends a copy, so that one that fails leaves the cache as it was.
            return _Edge(edge.tree.copy(), edge.last_leaf_hash, edge.last_time_ms, edge.tiles)
        if size == 0:
            return _Edge(TileTree(), GENESIS_PREV, 0, {})
        keys = set(tiles_at_right_edge(size))
        keys.add(tile_for_node(0, size - 1)[0])
        tiles = txn.tiles(keys)
        try:
            tree = TileTree.from_tiles(size, tiles)
            last_leaf_hash = read_nodes(tiles, [(0, size - 1)])[0]
        except (KeyError, IndexError, ValueError) as e:
            raise StoreError(f"stored tiles do not cover a tree of size {size}: {e}") from e
        last_leaf = txn.leaf(size - 1)
        if last_leaf is None:
            raise StoreError(f"entry {size - 1} is missing")
        # The edge tiles are rebuilt from their base nodes rather than taken as stored: later
        # batches grow them and sign roots read from them, and the base nodes are all that the
        # tree of the stored entries vouches for.
        return _Edge(tree, last_leaf_hash, decode_leaf(last_leaf).time_ms, tree.edge_tiles())

    def _extend(self, edge: _Edge, batch: Batch) -> tuple[_Edge, dict[TileKey, Tile], list[bytes]]:
        """Hash, chain and insert the batch's entries; return the new edge, the changed tiles and
        the new leaf hashes."""
        start = edge.size
        leaves, leaf_hashes = encode_leaves(
            start, batch.time_ms, batch.kinds, batch.payloads, edge.last_leaf_hash
        )
        batch.txn.insert_leaves(
            start, batch.kinds, leaves, batch.statement_digests if batch.digests else None
        )
        changed = edge.tree.extend(leaf_hashes, edge_tiles=edge.tiles)
        known = {**edge.tiles, **changed}
        edge_tiles = {k: known[k] for k in tiles_at_right_edge(edge.tree.size)}
        return _Edge(edge.tree, leaf_hashes[-1], batch.time_ms, edge_tiles), changed, leaf_hashes

    # --- Reading --------------------------------------------------------------------------------

    def size(self) -> int:
        """Return the number of committed entries."""
        with self.store.read() as reader:
            return reader.size()

    def latest_checkpoint(self) -> str | None:
        """Return the latest signed checkpoint note, or None for an empty log."""
        with self.store.read() as reader:
            found = reader.checkpoint()
        return None if found is None else found[1]

    def root(self, size: int) -> bytes:
        """Return the root hash of the tree of the first ``size`` entries."""
        if size == 0:
            return EMPTY_ROOT
        nodes = [NodeID(level, index) for level, index in right_edge_nodes(size)]
        return root_from_range(size, self._node_reader()(nodes))

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """Return the RFC 9162 inclusion proof of entry ``index`` in the tree of ``size`` entries."""
        self._check_size(size)
        if not 0 <= index < size:
            raise ValueError(f"index {index} is not in a tree of size {size}")
        return inclusion_proof(index, size, self._node_reader())

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        """Return the RFC 9162 consistency proof between trees of ``size1`` <= ``size2`` entries."""
        self._check_size(size2)
        if not 0 <= size1 <= size2:
            raise ValueError(f"sizes {size1} and {size2} are not in order")
        if size1 == 0 or size1 == size2:
            return []
        return consistency_proof(size1, size2, self._node_reader())

    def leaf_hash(self, index: int) -> bytes:
        """Return the stored leaf hash of entry ``index``."""
        self._check_size(index + 1)
        return self._node_reader()([NodeID(0, index)])[0]

    def receipt(self, index: int) -> Receipt:
        """Return the receipt of entry ``index`` as its batch was given it: against its checkpoint."""
        with self.store.read() as reader:
            found = reader.checkpoint_covering(index)
        if found is None:
            raise ValueError(f"no checkpoint covers entry {index}")
        size, note = found
        read_node = self._node_reader()
        return Receipt(index, read_node([NodeID(0, index)])[0], size, note, self._prover())

    def _check_size(self, size: int) -> None:
        current = self.size()
        if size > current:
            raise ValueError(f"the log has {current} entries, not {size}")

    def _prover(self, known: Mapping[TileKey, Tile] | None = None) -> Prover:
        """Return a function computing inclusion proofs from ``known`` tiles, the cache or the store."""
        node = self._node_getter(known)
        # One prover answers a batch's receipts, whose proofs share most of their nodes (all
        # the upper ones) and the right border's partial subtrees: each is found or hashed once.
        nodes: dict[tuple[int, int], bytes] = {}
        borders: dict[tuple[int, int], bytes] = {}

        def remembered(level: int, index: int) -> bytes:
            found = nodes.get((level, index))
            if found is None:
                found = nodes[level, index] = node(level, index)
            return found

        def prove(index: int, size: int) -> list[bytes]:
            return inclusion_path(index, size, remembered, borders)

        return prove

    def _node_getter(
        self, known: Mapping[TileKey, Tile] | None = None
    ) -> Callable[[int, int], bytes]:
        """Return ``node(level, index)`` reading from ``known`` tiles, the cache or the store."""
        local: dict[TileKey, Tile] = dict(known or {})
        reader = self._node_reader(local)

        def node(level: int, index: int) -> bytes:
            key, inner, offset = tile_for_node(level, index)
            tile = local.get(key)
            if tile is None:
                return reader([NodeID(level, index)])[0]
            return tile.node(inner, offset)

        return node

    def inclusion(self, index: int, size: int) -> tuple[bytes, list[bytes]]:
        """Return the leaf hash of entry ``index`` and its inclusion proof in the tree of the first
        ``size`` entries, with one check of the log's size."""
        self._check_size(size)
        if not 0 <= index < size:
            raise ValueError(f"index {index} is not in a tree of size {size}")
        node = self._node_getter()
        return node(0, index), inclusion_path(index, size, node)

    def _node_reader(
        self, known: Mapping[TileKey, Tile] | None = None
    ) -> Callable[[Sequence[NodeID]], list[bytes]]:
        """Return a function that reads node hashes, from ``known`` tiles, the cache, or the store;
        tiles it fetches are added to ``known`` when that is a dict, so callers share them."""
        local: dict[TileKey, Tile] = known if isinstance(known, dict) else dict(known or {})

        def read(ids: Sequence[NodeID]) -> list[bytes]:
            pairs = [(n.level, n.index) for n in ids]
            missing = tiles_for_nodes(pairs) - local.keys()
            with self._tiles_lock:
                for key in list(missing):
                    cached = self._full_tiles.get(key)
                    if cached is not None:
                        self._full_tiles.move_to_end(key)
                        local[key] = cached
                        missing.discard(key)
            if missing:
                with self.store.read() as reader:
                    fetched = reader.tiles(missing)
                local.update(fetched)
                self._remember_full_tiles(t for t in fetched.values() if t.width == TILE_WIDTH)
            try:
                return read_nodes(local, pairs)
            except (KeyError, IndexError) as e:
                raise StoreError(f"stored tiles are missing a node: {e}") from e

        return read

    def _remember_full_tiles(self, tiles: Iterator[Tile] | Sequence[Tile]) -> None:
        with self._tiles_lock:
            for tile in tiles:
                self._full_tiles[tile.key] = tile
                self._full_tiles.move_to_end(tile.key)
            while len(self._full_tiles) > FULL_TILE_CACHE:
                self._full_tiles.popitem(last=False)
