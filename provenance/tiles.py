"""Stored Merkle subtree hashes, grouped into tiles.

The log stores the hash of every completed subtree, so that the root at any size, an inclusion proof
and a consistency proof each need a handful of reads instead of a scan of the log. Storing one row per
node would cost two rows per entry; instead, as in C2SP tlog-tiles and Trillian's subtree storage,
nodes are grouped into tiles of height 8:

- tile ``(L, N)`` holds the nodes at tree levels ``8L .. 8L+7`` above base nodes
  ``256N .. 256N+255`` of level ``8L``;
- a tile's ``width`` is how many base nodes it has so far (1..256); the tile at the right edge grows
  as the log grows and is rewritten in place, but only ever by appending: the hashes it already holds
  never change, so a reader of an older tree size reads a prefix;
- unlike C2SP tiles, which keep only the base level, a stored tile keeps its interior levels too
  (256 + 128 + ... + 2 hashes when full, about 64 bytes per entry in all) so that a proof costs one
  read per tile level and no rehashing; the published C2SP tiles are the base levels of these.

The root of a full tile (level ``8L+8``) is stored as a base node of tile ``(L+1, N // 256)``.
This module is pure: it lays tiles out and finds nodes in them; the store reads and writes them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from provenance.merkle.hashing import EMPTY_ROOT, HASH_SIZE, NODE_PREFIX, hash_children

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT

TileKey = tuple[int, int]
"""A tile's address: (tile level L, tile index N)."""


def tile_for_node(level: int, index: int) -> tuple[TileKey, int, int]:
    """Return the tile holding node (level, index), the node's level inside it and its offset there."""
    tile_level, inner_level = divmod(level, TILE_HEIGHT)
    per_tile = TILE_WIDTH >> inner_level
    tile_index, offset = divmod(index, per_tile)
    return (tile_level, tile_index), inner_level, offset


def level_offsets(width: int) -> list[int]:
    """Return, for a tile of ``width`` base nodes, where each inner level starts in its hash blob."""
    offsets = []
    position = 0
    for inner_level in range(TILE_HEIGHT):
        offsets.append(position)
        position += (width >> inner_level) * HASH_SIZE
    offsets.append(position)
    return offsets


@dataclass
class Tile:
    """A tile's hashes, one bytearray per inner level (level 0 is the base)."""

    key: TileKey
    levels: list[bytearray] = field(
        default_factory=lambda: [bytearray() for _ in range(TILE_HEIGHT)]
    )

    @property
    def width(self) -> int:
        return len(self.levels[0]) // HASH_SIZE

    def node(self, inner_level: int, offset: int) -> bytes:
        """Return the hash at ``offset`` of ``inner_level``; IndexError if the tile has no such node."""
        start = offset * HASH_SIZE
        data = self.levels[inner_level]
        if start + HASH_SIZE > len(data):
            raise IndexError(f"tile {self.key} has no node at level {inner_level} offset {offset}")
        return bytes(data[start : start + HASH_SIZE])

    def add(self, inner_level: int, offset: int, node_hash: bytes) -> None:
        """Append a newly completed node; nodes of each level arrive in order, none is skipped."""
        data = self.levels[inner_level]
        if len(data) != offset * HASH_SIZE:
            raise ValueError(f"tile {self.key} level {inner_level}: node {offset} out of order")
        data += node_hash

    def to_bytes(self) -> bytes:
        """Return the stored form: inner levels concatenated, level 0 first."""
        return b"".join(self.levels)

    @classmethod
    def from_bytes(cls, key: TileKey, width: int, blob: bytes) -> Tile:
        """Rebuild a tile from its stored form, checking that the blob's length fits ``width``."""
        offsets = level_offsets(width)
        if not 0 < width <= TILE_WIDTH or len(blob) != offsets[-1]:
            raise ValueError(f"tile {key}: {len(blob)} bytes do not fit width {width}")
        return cls(key, [bytearray(blob[offsets[i] : offsets[i + 1]]) for i in range(TILE_HEIGHT)])


def build_tile(key: TileKey, base: Sequence[bytes]) -> Tile:
    """Return the tile with base nodes ``base`` and every interior node they complete."""
    return grow_tile(Tile(key), base)


def grow_tile(tile: Tile, base: Sequence[bytes]) -> Tile:
    """Return a new tile: ``tile`` with the base nodes ``base`` appended after its own and the
    interior nodes they complete; ``tile`` itself is left as it was (edges share tiles).

    Only the new nodes are hashed, so growing the right-edge tile by a few nodes costs a few
    hashes rather than rebuilding it; ``tile``'s interior nodes are trusted, so grow only tiles
    built in memory, never ones read back from the store.
    """
    width = tile.width
    if width + len(base) > TILE_WIDTH:
        raise ValueError(f"tile {tile.key}: {width} + {len(base)} base nodes do not fit")
    levels = [bytearray(data) for data in tile.levels]
    # hash_children, inlined, from a copy of a hasher that has taken the prefix: this loop is most
    # of the cost of an append's tiles and of a replay.
    node_hasher = hashlib.sha256(NODE_PREFIX).copy
    new = list(base)
    for inner_level in range(TILE_HEIGHT):
        data = levels[inner_level]
        data += b"".join(new)
        if inner_level == TILE_HEIGHT - 1:
            break  # the tile's root is a base node of the tile above, not part of this one
        before = width >> inner_level
        if before & 1:  # the last node from before pairs with the first new one
            new.insert(0, bytes(data[(before - 1) * HASH_SIZE : before * HASH_SIZE]))
        parents = []
        # An odd last node has no sibling yet: it waits for the next growth.
        for left, right in zip(new[0::2], new[1::2], strict=False):
            hasher = node_hasher()
            hasher.update(left)
            hasher.update(right)
            parents.append(hasher.digest())
        new = parents
    return Tile(tile.key, levels)


def tiles_at_right_edge(size: int) -> list[TileKey]:
    """Return the keys of the partly filled tiles at the right edge of a tree of ``size`` leaves."""
    keys = []
    tile_level = 0
    while (base := size >> (TILE_HEIGHT * tile_level)) > 0:
        if base % TILE_WIDTH:
            keys.append((tile_level, base // TILE_WIDTH))
        tile_level += 1
    return keys


def right_edge_nodes(size: int) -> list[tuple[int, int]]:
    """Return (level, index) of the perfect subtrees that make up a tree of ``size``, largest first."""
    nodes = []
    start = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            nodes.append((level, start >> level))
            start += 1 << level
    return nodes


def edge_root(size: int, tiles: Mapping[TileKey, Tile]) -> bytes:
    """Return the root of a tree of ``size`` leaves from its right-edge tiles (every node the root
    needs is in them: the subtree roots of the right edge are the partly filled tiles' nodes);
    KeyError or IndexError if ``tiles`` lacks one."""
    if size == 0:
        return EMPTY_ROOT
    subtrees = read_nodes(tiles, right_edge_nodes(size))
    root = subtrees[-1]
    for subtree in reversed(subtrees[:-1]):
        root = hash_children(subtree, root)
    return root


def tiles_for_nodes(nodes: Iterable[tuple[int, int]]) -> set[TileKey]:
    """Return the keys of the tiles that hold the given (level, index) nodes."""
    return {tile_for_node(level, index)[0] for level, index in nodes}


def read_nodes(tiles: Mapping[TileKey, Tile], nodes: Iterable[tuple[int, int]]) -> list[bytes]:
    """Return the hashes of (level, index) nodes from tiles already read; KeyError if one is missing."""
    hashes = []
    for level, index in nodes:
        key, inner_level, offset = tile_for_node(level, index)
        hashes.append(tiles[key].node(inner_level, offset))
    return hashes


def split_hashes(data: bytes | bytearray) -> list[bytes]:
    """Split concatenated 32-byte hashes into a list."""
    return [bytes(data[i : i + HASH_SIZE]) for i in range(0, len(data), HASH_SIZE)]


def perfect_root(nodes: Sequence[bytes]) -> bytes:
    """Return the root of a perfect subtree whose leaves (or base nodes) are ``nodes``."""
    level = list(nodes)
    while len(level) > 1:
        level = [hash_children(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


class TileTree:
    """The right edge of a tiled Merkle tree, extended a batch at a time.

    For each tile level it keeps the base nodes of the partly filled tile at the right edge; that is
    all an append needs. :meth:`extend` adds a batch of leaf hashes and returns every tile the batch
    touched, rebuilt whole from its base level with tight list comprehensions: about one hash per
    leaf, instead of walking a compact range node by node.
    """

    def __init__(self, size: int = 0, edge: Mapping[int, Sequence[bytes]] | None = None) -> None:
        self.size = size
        self.edge: dict[int, list[bytes]] = {level: list(b) for level, b in (edge or {}).items()}
        for level, base in self.edge.items():
            if len(base) != (size >> (TILE_HEIGHT * level)) % TILE_WIDTH:
                raise ValueError(
                    f"tile level {level} holds {len(base)} nodes, not what {size} needs"
                )

    @classmethod
    def from_tiles(cls, size: int, tiles: Mapping[TileKey, Tile]) -> TileTree:
        """Restore the edge of a tree of ``size`` leaves from its stored right-edge tiles."""
        edge = {}
        for key in tiles_at_right_edge(size):
            tile = tiles[key]
            width = (size >> (TILE_HEIGHT * key[0])) % TILE_WIDTH
            edge[key[0]] = split_hashes(tile.levels[0][: width * HASH_SIZE])
        return cls(size, edge)

    def copy(self) -> TileTree:
        """Return an independent copy (a batch extends a copy, so that a failure leaves this one)."""
        return TileTree(self.size, self.edge)

    def extend(
        self,
        leaf_hashes: Sequence[bytes],
        *,
        partial: bool = True,
        edge_tiles: Mapping[TileKey, Tile] | None = None,
    ) -> dict[TileKey, Tile]:
        """Add leaf hashes; return the tiles they completed and, with ``partial``, the partly
        filled ones they changed (a store needs those; a replay builds them once at the end).

        ``edge_tiles``, if given, are this tree's right-edge tiles as built in memory for its
        current size (what the last call returned): the tiles at the edge grow from them instead
        of being rebuilt from their base nodes. One that does not match is ignored.
        """
        changed: dict[TileKey, Tile] = {}
        incoming: Sequence[bytes] = leaf_hashes
        level = 0
        while incoming:
            base = self.edge.get(level, [])
            index = ((self.size >> (TILE_HEIGHT * level)) - len(base)) // TILE_WIDTH
            built = None if edge_tiles is None else edge_tiles.get((level, index))
            if built is None or built.width != len(base):
                built = Tile((level, index))
            roots: list[bytes] = []
            position = 0
            while position < len(incoming):
                room = TILE_WIDTH - len(base)
                base.extend(incoming[position : position + room])
                position += room
                if len(base) == TILE_WIDTH:
                    tile = grow_tile(built, base[built.width :])
                    changed[tile.key] = tile
                    roots.append(hash_children(tile.node(7, 0), tile.node(7, 1)))
                    base = []
                    index += 1
                    built = Tile((level, index))
            if base and partial:
                changed[(level, index)] = grow_tile(built, base[built.width :])
            self.edge[level] = base
            incoming = roots
            level += 1
        self.size += len(leaf_hashes)
        return changed

    def edge_tiles(self) -> dict[TileKey, Tile]:
        """Return the partly filled tiles at the right edge, built from their base nodes."""
        tiles = {}
        for level, base in self.edge.items():
            if base:
                index = (self.size >> (TILE_HEIGHT * level)) // TILE_WIDTH
                tiles[(level, index)] = build_tile((level, index), base)
        return tiles

    def root(self) -> bytes:
        """Return the root hash of the tree (the empty tree's root when it has no leaves)."""
        if self.size == 0:
            return EMPTY_ROOT
        subtrees: list[bytes] = []  # perfect subtree roots, largest first
        for level in sorted(self.edge, reverse=True):
            nodes = self.edge[level]
            start = 0
            for height in range(TILE_HEIGHT - 1, -1, -1):
                if len(nodes) - start >= 1 << height:
                    subtrees.append(perfect_root(nodes[start : start + (1 << height)]))
                    start += 1 << height
        root = subtrees[-1]
        for subtree in reversed(subtrees[:-1]):
            root = hash_children(subtree, root)
        return root
