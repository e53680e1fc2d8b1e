"""Inclusion and consistency proof latency at 10,000 / 100,000 / 1,000,000 entries, vs pymerkle.

One log is grown with Log.append in batches of 10,000 small entries, and one pymerkle 7
``SqliteTree`` with ``append_entries`` over the same payloads; at each size both are measured:

- ours, steady: a fresh :class:`~provenance.log.Log` (empty tile cache) on a fresh store answers
  ``--queries`` random proofs for the current tree size; the first query is reported separately
  ("cold first"); median and 99th percentile of all of them;
- ours, cold: a fresh store and Log for every query (new connection, empty cache), timed from the
  call, so each query pays the connection and every tile read;
- pymerkle, cold: a fresh ``SqliteTree`` opened on the existing file for every query (its subroot
  cache empty); opening is not timed, the proof call is;
- pymerkle, warm: one tree answering queries after the cold ones, for context (its cache fills).

The operating system's page cache is warm for both. Targets (issue 2): our median under 1 ms and
flat from 10,000 to 1,000,000 entries; at least 100 times faster than pymerkle on a cold start.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from common import (
    Result,
    close_log,
    fmt,
    median,
    new_keys,
    open_log,
    payloads,
    print_machine,
    print_results,
    scratch_dir,
    sqlite_url,
)
from pymerkle import SqliteTree

from provenance.keyfiles import OperatorKeys
from provenance.log import Log
from provenance.merkle.verify import verify_consistency, verify_inclusion
from provenance.store.sql import SqlStore

KINDS = ("inclusion", "consistency")


@dataclass
class Point:
    """Latencies in seconds at one tree size, for one kind of proof."""

    size: int
    kind: str
    steady: list[float]
    cold: list[float]
    pymerkle_cold: list[float]
    pymerkle_warm: list[float]

    @property
    def cold_first(self) -> float:
        return self.steady[0]


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def queries(kind: str, size: int, count: int, rng: random.Random) -> list[int]:
    """Return random leaf indexes (inclusion) or earlier tree sizes (consistency) for ``size``."""
    if kind == "inclusion":
        return [rng.randrange(size) for _ in range(count)]
    return [rng.randrange(1, size) for _ in range(count)]


def our_query(log: Log, kind: str, size: int) -> Callable[[int], list[bytes]]:
    if kind == "inclusion":
        return lambda index: log.inclusion_proof(index, size)
    return lambda size1: log.consistency_proof(size1, size)


def pymerkle_query(tree: SqliteTree, kind: str, size: int) -> Callable[[int], object]:
    if kind == "inclusion":
        return lambda index: tree.prove_inclusion(index + 1, size)  # pymerkle counts from 1
    return lambda size1: tree.prove_consistency(size1, size)


def time_each(call: Callable[[int], object], arguments: Sequence[int]) -> list[float]:
    latencies = []
    for argument in arguments:
        start = time.perf_counter()
        call(argument)
        latencies.append(time.perf_counter() - start)
    return latencies


def check_ours(log: Log, size: int, rng: random.Random) -> None:
    """Verify a few of our proofs, so that a fast wrong answer cannot pass for a result."""
    root = log.root(size)
    for index in queries("inclusion", size, 5, rng):
        proof = log.inclusion_proof(index, size)
        verify_inclusion(index, size, log.leaf_hash(index), proof, root)
    for size1 in queries("consistency", size, 5, rng):
        proof = log.consistency_proof(size1, size)
        verify_consistency(size1, size, proof, log.root(size1), root)


def measure(
    url: str,
    keys: OperatorKeys,
    pymerkle_file: Path,
    size: int,
    kind: str,
    args: argparse.Namespace,
    rng: random.Random,
) -> Point:
    steady_log = Log(SqlStore(url), keys.log_signer)
    steady = time_each(our_query(steady_log, kind, size), queries(kind, size, args.queries, rng))
    close_log(steady_log)
    cold = []
    for argument in queries(kind, size, args.cold_queries, rng):
        fresh = Log(SqlStore(url), keys.log_signer)
        cold += time_each(our_query(fresh, kind, size), [argument])
        close_log(fresh)
    pymerkle_cold = []
    for argument in queries(kind, size, args.pymerkle_cold, rng):
        tree = SqliteTree(str(pymerkle_file))
        pymerkle_cold += time_each(pymerkle_query(tree, kind, size), [argument])
        tree.close()
    tree = SqliteTree(str(pymerkle_file))
    call = pymerkle_query(tree, kind, size)
    time_each(call, queries(kind, size, args.pymerkle_cold, rng))  # warm it as the cold ones did
    warm = time_each(call, queries(kind, size, args.pymerkle_warm, rng))
    tree.close()
    return Point(size, kind, steady, cold, pymerkle_cold, warm)


def ms(seconds: float) -> str:
    return fmt(seconds * 1000)


def main(argv: Sequence[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--batch", type=int, default=10_000, help="entries per Log.append")
    parser.add_argument("--payload", type=int, default=32, help="payload bytes (default 32)")
    parser.add_argument("--queries", type=int, default=2000, help="our queries per size and kind")
    parser.add_argument("--cold-queries", type=int, default=50, help="our cold queries")
    parser.add_argument("--pymerkle-cold", type=int, default=10, help="pymerkle cold queries")
    parser.add_argument("--pymerkle-warm", type=int, default=200, help="pymerkle warm queries")
    parser.add_argument("--seed", type=int, default=6962)
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.batch, args.queries = "1000,10000", 1000, 200
        args.cold_queries, args.pymerkle_cold, args.pymerkle_warm = 10, 3, 20
    sizes = sorted(int(s) for s in args.sizes.split(","))
    rng = random.Random(args.seed)
    print_machine()
    print(
        f"proofs: sizes {sizes}, {args.queries} steady + {args.cold_queries} cold queries (ours),"
        f" {args.pymerkle_cold} cold + {args.pymerkle_warm} warm (pymerkle),"
        f" payload {args.payload} B"
    )
    points: list[Point] = []
    with scratch_dir("proofs") as directory:
        keys = new_keys(directory)
        url = sqlite_url(directory / "ours.db")
        pymerkle_file = directory / "pymerkle.db"
        builder = open_log(url, keys)
        tree = SqliteTree(str(pymerkle_file))
        tree.con.execute("PRAGMA journal_mode=WAL")
        built = 0
        for size in sizes:
            start = time.perf_counter()
            while built < size:
                batch = payloads(min(args.batch, size - built), args.payload, seed=built)
                builder.append([("blob", p) for p in batch])
                tree.append_entries(batch)
                built += len(batch)
            print(f"  built {size:,} entries in both logs ({time.perf_counter() - start:.1f} s)")
            check_ours(builder, size, rng)
            for kind in KINDS:
                point = measure(url, keys, pymerkle_file, size, kind, args, rng)
                points.append(point)
                print(
                    f"  {size:>9,} {kind:11} ours median {ms(median(point.steady))} ms"
                    f" (p99 {ms(percentile(point.steady, 0.99))}, cold first"
                    f" {ms(point.cold_first)}, cold median {ms(median(point.cold))});"
                    f" pymerkle cold median {ms(median(point.pymerkle_cold))} ms,"
                    f" warm median {ms(median(point.pymerkle_warm))} ms",
                    flush=True,
                )
        tree.close()
        close_log(builder)
    print_curve(points)
    return results_of(points)


def print_curve(points: Sequence[Point]) -> None:
    print("\n  latency curve, milliseconds (median; ours steady = fresh Log, many queries):")
    print(
        "  size       proof        ours steady  ours p99  ours cold-first  ours cold"
        "  pymerkle cold  pymerkle warm"
    )
    for p in points:
        print(
            f"  {p.size:<10,} {p.kind:12} {ms(median(p.steady)):>11}"
            f"  {ms(percentile(p.steady, 0.99)):>8}"
            f"  {ms(p.cold_first):>15}  {ms(median(p.cold)):>9}  {ms(median(p.pymerkle_cold)):>13}"
            f"  {ms(median(p.pymerkle_warm)):>13}"
        )


def results_of(points: Sequence[Point]) -> list[Result]:
    largest = max(p.size for p in points)
    smallest = min(p.size for p in points)
    results = []
    for kind in KINDS:
        top = next(p for p in points if p.kind == kind and p.size == largest)
        low = next(p for p in points if p.kind == kind and p.size == smallest)
        ours, cold = median(top.steady) * 1000, median(top.cold) * 1000
        pm_cold, pm_warm = median(top.pymerkle_cold) * 1000, median(top.pymerkle_warm) * 1000
        growth = median(top.steady) / median(low.steady)
        results += [
            Result(
                "proofs", f"{kind} @{largest:,}: median", ours, None, "ms", None, "< 1 ms", ours < 1
            ),
            Result(
                "proofs",
                f"{kind} @{largest:,}: cold vs pymerkle cold",
                cold,
                pm_cold,
                "ms",
                pm_cold / cold,
                "ratio ≥ 100",
                pm_cold / cold >= 100,
                "ours: fresh store and Log per query; pymerkle: fresh SqliteTree per query",
            ),
            Result(
                "proofs",
                f"{kind} @{largest:,}: steady vs pymerkle cold",
                ours,
                pm_cold,
                "ms",
                pm_cold / ours,
                "ratio ≥ 100",
                pm_cold / ours >= 100,
            ),
            Result(
                "proofs",
                f"{kind} @{largest:,}: steady vs pymerkle warm (context)",
                ours,
                pm_warm,
                "ms",
                pm_warm / ours,
                "-",
                None,
            ),
            Result(
                "proofs",
                f"{kind}: median @{largest:,} / @{smallest:,} (flatness)",
                growth,
                None,
                "x",
                None,
                "≤ 2 (flat)",
                growth <= 2,
            ),
        ]
    print_results(results, "proofs")
    return results


if __name__ == "__main__":
    main()
