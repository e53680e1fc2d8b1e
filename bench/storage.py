"""Bytes on disk per entry at 1,000,000 entries, SQLite and PostgreSQL, split by table.

The log is built with Log.append in batches of 1,000 ``blob`` entries of ``--payload`` bytes (so
that every batch stores a signed checkpoint and rewrites the right-edge tiles, as in production).

- SQLite: the database file plus its WAL and shared-memory files after ``wal_checkpoint(TRUNCATE)``,
  divided by the number of entries; per table and per index from the ``dbstat`` virtual table.
- PostgreSQL: ``pg_total_relation_size`` of each table in a fresh schema after ``VACUUM ANALYZE``,
  divided by the number of entries, split into heap (with its free-space and visibility maps),
  TOAST and each index.

Target (issue 2): reported, no threshold.
"""

from __future__ import annotations

import argparse
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

import psycopg
from common import (
    POSTGRES_URL,
    Result,
    append_blobs,
    close_log,
    fmt,
    new_keys,
    open_log,
    postgres_reachable,
    postgres_schema,
    print_machine,
    print_results,
    scratch_dir,
    sqlite_url,
)
from sqlalchemy.engine import make_url

from provenance.keyfiles import OperatorKeys

Breakdown = dict[str, int]
"""Bytes on disk by part: "table" for its rows, "table: index" for each index, "table: TOAST"."""


def build(url: str, keys: OperatorKeys, entries: int, payload: int, batch: int) -> int:
    """Append ``entries`` blob entries; return the average leaf length (header + payload)."""
    log = open_log(url, keys)
    try:
        append_blobs(log, entries, payload, batch)
        with log.store.read() as reader:
            average = reader.connection.exec_driver_sql(
                "SELECT avg(length(leaf)) FROM log_entry"
            ).scalar()
    finally:
        close_log(log)
    return round(float(average or 0))


def sqlite_sizes(path: Path) -> tuple[int, Breakdown]:
    """Checkpoint the WAL into the file; return the bytes of all its files and a per-table split."""
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        owner = dict(connection.execute("SELECT name, tbl_name FROM sqlite_master"))
        split: Breakdown = {}
        for name, size in connection.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
            table = owner.get(name, name)  # sqlite_schema itself has no row of its own
            split[table if table == name else f"{table}: {name}"] = int(size)
    finally:
        connection.close()
    files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
    return sum(f.stat().st_size for f in files if f.exists()), split


def postgres_sizes(url: str) -> tuple[int, Breakdown]:
    """Vacuum the schema's tables; return their total relation sizes and the per-table split."""
    options = make_url(url.replace("postgresql://", "postgresql+psycopg://")).query["options"]
    schema = str(options).split("search_path=", 1)[1]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,)
            )
        ]
        split: Breakdown = {}
        for table in tables:
            name = f'"{schema}"."{table}"'
            connection.execute(f"VACUUM ANALYZE {name}")
            row = connection.execute(
                "SELECT pg_total_relation_size(%s::regclass), pg_table_size(%s::regclass),"
                " pg_relation_size(%s::regclass, 'main') + pg_relation_size(%s::regclass, 'fsm')"
                " + pg_relation_size(%s::regclass, 'vm')",
                (name,) * 5,
            ).fetchone()
            total, table_size, heap = (int(v) for v in row) if row else (0, 0, 0)
            split[table] = heap
            if table_size > heap:
                split[f"{table}: TOAST"] = table_size - heap
            for index, size in connection.execute(
                "SELECT indexrelid::regclass::text, pg_relation_size(indexrelid)"
                " FROM pg_index WHERE indrelid = %s::regclass",
                (name,),
            ):
                split[f"{table}: {index.rsplit('.', 1)[-1]}"] = int(size)
            if total != sum(v for k, v in split.items() if k.split(":")[0] == table):
                raise RuntimeError(f"the parts of {table} do not add up to {total} bytes")
    return sum(split.values()), split


def top_parts(split: Breakdown) -> list[tuple[str, int]]:
    """Return the parts that hold at least 0.1% of the bytes, largest first."""
    total = sum(split.values())
    return sorted(((k, v) for k, v in split.items() if v * 1000 >= total), key=lambda kv: -kv[1])


def report(backend: str, total: int, split: Breakdown, entries: int) -> None:
    print(f"  {backend}: {total:,} bytes, {total / entries:.1f} bytes per entry")
    shown = top_parts(split)
    for part, size in shown:
        print(f"    {part:40} {size:>14,} bytes  {size / entries:8.1f} per entry")
    rest = total - sum(size for _, size in shown)
    others = f"{len(split) - len(shown)} other tables and indexes"
    print(f"    {others:40} {rest:>14,} bytes  {rest / entries:8.1f} per entry")


def main(argv: Sequence[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--payload", type=int, default=400, help="payload bytes (default 400)")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.entries = 20_000
    backends = args.backends.split(",")
    if "postgresql" in backends and not postgres_reachable():
        print("storage: PostgreSQL is not reachable; measuring SQLite only")
        backends.remove("postgresql")
    print_machine()
    print(f"storage: {args.entries:,} entries of {args.payload} B payload, batches of {args.batch}")
    results = []
    with scratch_dir("storage") as directory:
        keys = new_keys(directory)
        for backend in backends:
            start = time.perf_counter()
            if backend == "sqlite":
                path = directory / "storage.db"
                leaf = build(sqlite_url(path), keys, args.entries, args.payload, args.batch)
                seconds = time.perf_counter() - start
                total, split = sqlite_sizes(path)
            else:
                with postgres_schema() as url:
                    leaf = build(url, keys, args.entries, args.payload, args.batch)
                    seconds = time.perf_counter() - start
                    total, split = postgres_sizes(url)
            print(f"  built {args.entries:,} entries on {backend} in {seconds:.0f} s")
            report(backend, total, split, args.entries)
            per_entry = total / args.entries
            results.append(
                Result(
                    "storage",
                    f"{backend}: bytes per entry at {args.entries:,}",
                    per_entry,
                    float(leaf),
                    "B/entry",
                    None,
                    "reported",
                    None,
                    f"reference = average leaf ({args.payload} B payload + header); overhead"
                    f" {fmt(per_entry - leaf)} B/entry; "
                    + ", ".join(f"{t} {fmt(s / args.entries)}" for t, s in top_parts(split)),
                )
            )
    print_results(results, "storage")
    return results


if __name__ == "__main__":
    main()
