"""The batch-at-a-time builders an append uses must give exactly what the one-at-a-time definitions
give: leaves and their hashes (:func:`provenance.entry.encode_leaves`), tiles grown from the last
batch's edge tiles and the root read from them (:class:`provenance.tiles.TileTree`,
:func:`provenance.tiles.edge_root`), and the lazy receipts of a batch (:class:`provenance.log.
Receipts`), which must behave as the list they replace."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import event

from provenance.entry import GENESIS_PREV, encode_leaf, encode_leaves
from provenance.keys import generate_private_key
from provenance.log import Log
from provenance.merkle.hashing import hash_leaf
from provenance.merkle.proof import inclusion_path
from provenance.note import NoteSigner
from provenance.store.sql import SqlStore
from provenance.tiles import Tile, TileKey, TileTree, edge_root
from rfc6962_reference import mth, path

KINDS = st.sampled_from(["blob", "origin", "review", "epcis.event"])


@given(
    start=st.integers(0, 2**40),
    time_ms=st.integers(0, 2**45),
    entries=st.lists(st.tuples(KINDS, st.binary(max_size=64)), max_size=20),
    prev=st.binary(min_size=32, max_size=32),
)
def test_encode_leaves_is_encode_leaf_and_hash_leaf_entry_by_entry(
    start: int, time_ms: int, entries: list[tuple[str, bytes]], prev: bytes
) -> None:
    kinds, payloads = [k for k, _ in entries], [p for _, p in entries]
    leaves, hashes = encode_leaves(start, time_ms, kinds, payloads, prev)
    expected_prev = prev
    for n, (kind, payload) in enumerate(entries):
        leaf = encode_leaf(start + n, time_ms, kind, expected_prev, payload)
        assert leaves[n] == leaf
        assert hashes[n] == hash_leaf(leaf)
        expected_prev = hashes[n]
    assert len(leaves) == len(hashes) == len(entries)


def test_encode_leaves_refuses_what_encode_leaf_refuses() -> None:
    with pytest.raises(ValueError, match="kind"):
        encode_leaves(0, 0, ["no spaces allowed"], [b""], GENESIS_PREV)
    with pytest.raises(ValueError, match="32-byte"):
        encode_leaves(0, 0, ["blob"], [b""], b"short")


def entries(count: int, salt: int = 0) -> list[bytes]:
    return [b"%d-%d" % (salt, n) for n in range(count)]


@settings(max_examples=40, deadline=None)
@given(batches=st.lists(st.integers(0, 700), min_size=1, max_size=8))
def test_growing_from_edge_tiles_gives_the_same_tiles_and_roots(batches: list[int]) -> None:
    rebuilt, grown = TileTree(), TileTree()
    last: dict[TileKey, Tile] = {}
    every: dict[TileKey, Tile] = {}
    data: list[bytes] = []
    for number, count in enumerate(batches):
        data.extend(entries(count, number))
        batch = [hash_leaf(d) for d in data[len(data) - count :]]
        plain = rebuilt.extend(batch)
        incremental = grown.extend(batch, edge_tiles=last)
        assert {k: t.levels for k, t in incremental.items()} == {
            k: t.levels for k, t in plain.items()
        }
        last = incremental
        every.update(incremental)
        root = mth(data)
        assert grown.root() == rebuilt.root() == root
        assert edge_root(len(data), every) == root


def test_receipts_behave_as_the_list_they_replace(log: Log) -> None:
    assert log.append([]) == []
    receipts = log.append([("blob", b"%d" % n) for n in range(5)])
    as_list = [receipts[n] for n in range(5)]
    assert receipts == as_list
    assert receipts[-1] is receipts[4], "each receipt is made once"
    assert receipts[1:3] == as_list[1:3]
    assert [r.index for r in receipts] == list(range(as_list[0].index, as_list[0].index + 5))
    assert len(receipts) == 5
    with pytest.raises(IndexError):
        receipts[5]
    assert receipts[2].inclusion_proof == log.receipt(receipts[2].index).inclusion_proof


def test_a_large_batch_fits_sqlite_s_oldest_parameter_limit(tmp_path: Path) -> None:
    """SQLite before 3.32 binds at most 999 parameters per statement: a batch of 1,000 entries and
    its idempotency lookup of 1,000 digests must be split to fit."""
    store = SqlStore.open(f"sqlite:///{tmp_path / 'old.db'}")

    @event.listens_for(store.writer, "connect")
    def _old_limit(connection: sqlite3.Connection, _record: object) -> None:
        connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)

    store.writer.dispose()  # reconnect with the limit
    try:
        log = Log(store, generate_private_key_signer())
        receipts = log.append([("blob", b"%d" % n) for n in range(1000)])
        assert len(receipts) == 1000
        with store.write() as txn:
            assert (
                txn.indexes_of_digests([bytes([n % 256, n // 256]) * 16 for n in range(1000)]) == {}
            )
    finally:
        store.close()


def generate_private_key_signer() -> NoteSigner:
    return NoteSigner("test.example/old-sqlite", generate_private_key())


def test_one_prover_answers_every_index_and_size_as_the_rfc_does() -> None:
    # A batch's prover keeps nodes and the right border's partial-subtree hashes between receipts
    # (provenance/log.py). Shared across every (index, size) pair, they must never give a proof
    # that differs from RFC 6962's PATH: a border kept for one size must not serve another.
    entries = [b"entry %d" % i for i in range(70)]
    nodes: dict[tuple[int, int], bytes] = {}
    borders: dict[tuple[int, int], bytes] = {}

    def node(level: int, index: int) -> bytes:
        key = (level, index)
        if key not in nodes:
            nodes[key] = mth(entries[index << level : (index + 1) << level])
        return nodes[key]

    for size in [*range(1, 71), *range(70, 0, -7)]:
        for index in range(size):
            expected = path(index, entries[:size])
            assert inclusion_path(index, size, node, borders) == expected, (index, size)
    assert borders, "the right border was never kept: the test exercises nothing"
