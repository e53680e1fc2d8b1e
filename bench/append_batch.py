"""Batched appends at library level: Log.append in batches of 1,000, SQLite WAL, durable commit.

References, measured in the same run on the same payloads and the same batch size:

- raw ``sqlite3`` ``executemany`` of (integer primary key, blob) rows, each blob as long as our
  leaf (header + payload), into a WAL database with ``synchronous=FULL``, one commit per batch;
- pymerkle 7 ``SqliteTree.append_entries``, one call per batch, both as it ships (rollback journal,
  SQLite's default ``synchronous=FULL``) and switched to WAL + ``synchronous=FULL`` like ours.

Receipts compute their inclusion proof when first read; the headline figure does not read them (a
library caller appending in bulk rarely needs them), and a context row reads every one.

Target (issue 2): ours at least 50% of each reference's entries per second.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sqlite3
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from common import (
    Result,
    close_log,
    new_keys,
    open_log,
    payloads,
    print_machine,
    print_results,
    rate_result,
    scratch_dir,
    spread,
    sqlite_url,
    timed,
)
from pymerkle import SqliteTree

from provenance.entry import GENESIS_PREV, encode_leaf
from provenance.keyfiles import OperatorKeys

Batches = list[list[bytes]]


def ours(directory: Path, keys: OperatorKeys, batches: Batches, *, proofs: bool = False) -> float:
    """Append every batch with Log.append to a new SQLite log; return entries per second.

    Receipts compute their inclusion proof when first read; with ``proofs`` every one is read, as
    a caller that hands each receipt out would.
    """
    log = open_log(sqlite_url(directory / f"ours-{proofs}.db"), keys)
    entries = [[("blob", p) for p in batch] for batch in batches]

    def append_all() -> None:
        for batch in entries:
            receipts = log.append(batch)
            if proofs:
                for receipt in receipts:
                    _ = receipt.inclusion_proof

    try:
        seconds = timed(append_all)
    finally:
        close_log(log)
    return sum(map(len, batches)) / seconds


def raw_sqlite(directory: Path, batches: Batches, leaf_size: int) -> float:
    """Insert rows as long as our leaves with executemany, committing each batch durably."""
    connection = sqlite3.connect(directory / "raw.db", isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("CREATE TABLE entry (idx INTEGER PRIMARY KEY, leaf BLOB NOT NULL)")
    rows = []
    index = 0
    for batch in batches:
        rows.append([(index + n, p.ljust(leaf_size, b"h")) for n, p in enumerate(batch)])
        index += len(batch)

    def insert() -> None:
        for batch_rows in rows:
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany("INSERT INTO entry VALUES (?, ?)", batch_rows)
            connection.execute("COMMIT")

    try:
        seconds = timed(insert)
    finally:
        connection.close()
    return index / seconds


def pymerkle_tree(directory: Path, batches: Batches, *, wal: bool) -> float:
    """Append every batch with SqliteTree.append_entries; return entries per second."""
    tree = SqliteTree(str(directory / f"pymerkle-{'wal' if wal else 'default'}.db"))
    if wal:
        tree.con.execute("PRAGMA journal_mode=WAL")
        tree.con.execute("PRAGMA synchronous=FULL")
    try:
        seconds = timed(lambda: [tree.append_entries(batch) for batch in batches])
    finally:
        tree.close()
    return sum(map(len, batches)) / seconds


def leaf_size_for(payload_size: int, entries: int) -> int:
    """Return the length of our leaf (header + payload) for an entry index near ``entries``."""
    now_ms = int(time.time() * 1000)
    return len(encode_leaf(entries // 2, now_ms, "blob", GENESIS_PREV, b"x" * payload_size))


def main(argv: Sequence[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=100, help="batches per run (default 100)")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--payload", type=int, default=400, help="payload bytes (default 400)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--profile", action="store_true", help="cProfile one run of ours")
    args = parser.parse_args(argv)
    if args.quick:
        args.batches, args.runs = 5, 2
    print_machine()
    total = args.batches * args.batch_size
    leaf_size = leaf_size_for(args.payload, total)
    print(
        f"append_batch: {args.runs} runs of {args.batches} batches x {args.batch_size} entries,"
        f" payload {args.payload} B (leaf {leaf_size} B)"
    )
    systems = ("ours", "ours+proofs", "raw", "pymerkle-wal", "pymerkle-default")
    rates: dict[str, list[float]] = {name: [] for name in systems}
    for run in range(args.runs):
        batches = [
            payloads(args.batch_size, args.payload, seed=run * args.batches + b)
            for b in range(args.batches)
        ]
        # Rotate the order so that no system always runs first (cold cache) or last.
        order = systems[run % len(systems) :] + systems[: run % len(systems)]
        with scratch_dir("append") as directory:
            keys = new_keys(directory)
            for name in order:
                if name.startswith("ours"):
                    rate = ours(directory, keys, batches, proofs=name == "ours+proofs")
                elif name == "raw":
                    rate = raw_sqlite(directory, batches, leaf_size)
                else:
                    rate = pymerkle_tree(directory, batches, wal=name == "pymerkle-wal")
                rates[name].append(rate)
        print(f"  run {run + 1}: " + ", ".join(f"{n} {rates[n][-1]:,.0f}/s" for n in systems))
    for name in systems:
        print(f"  {name:17} entries/s median (min–max): {spread(rates[name])}")
    if args.profile:
        with scratch_dir("append-profile") as directory:
            keys = new_keys(directory)
            batches = [payloads(args.batch_size, args.payload, seed=b) for b in range(args.batches)]
            profiler = cProfile.Profile()
            profiler.runcall(ours, directory, keys, batches)
            stats = pstats.Stats(profiler, stream=sys.stdout)
            stats.sort_stats("cumulative").print_stats(25)
            stats.sort_stats("tottime").print_stats(15)
    results = [
        rate_result(
            "append_batch",
            "Log.append vs raw sqlite3 executemany",
            rates["ours"],
            rates["raw"],
            "entries/s",
            0.5,
        ),
        rate_result(
            "append_batch",
            "Log.append vs pymerkle SqliteTree (WAL, FULL)",
            rates["ours"],
            rates["pymerkle-wal"],
            "entries/s",
            0.5,
        ),
        rate_result(
            "append_batch",
            "Log.append vs pymerkle SqliteTree (as shipped)",
            rates["ours"],
            rates["pymerkle-default"],
            "entries/s",
            0.5,
        ),
        replace(
            rate_result(
                "append_batch",
                "Log.append + every receipt's proof read vs raw sqlite3 (context)",
                rates["ours+proofs"],
                rates["raw"],
                "entries/s",
                0.5,
                "receipts prove on first read; this row reads all 1,000 proofs of each batch",
            ),
            target="-",
            passed=None,
        ),
    ]
    print_results(results, "append_batch")
    return results


if __name__ == "__main__":
    main()
