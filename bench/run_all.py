"""Run every benchmark in sequence and print one summary table (``make bench``).

``--quick`` runs each with small sizes, as a smoke test that the benchmarks still work; the figures
it prints mean nothing. ``--only`` picks benchmarks by name; ``--json`` writes the results to a file
(the source of the tables in ``docs/PERFORMANCE.md``).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import append_batch
import feed
import group_commit
import http_api
import pages
import proofs
import qr
import reviews
import storage
import verify
from common import Result, print_machine, print_results, write_json

BENCHMARKS: dict[str, Callable[[Sequence[str]], list[Result]]] = {
    "append_batch": append_batch.main,
    "group_commit": group_commit.main,
    "proofs": proofs.main,
    "verify": verify.main,
    "storage": storage.main,
    "http_api": http_api.main,
    "pages": pages.main,
    "qr": qr.main,
    "reviews": reviews.main,
    "feed": feed.main,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated names")
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    args = parser.parse_args(argv)
    names = args.only.split(",")
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmarks {unknown}; known: {', '.join(BENCHMARKS)}")
    print_machine()
    results: list[Result] = []
    for name in names:
        print(f"\n######## {name} ########", flush=True)
        start = time.perf_counter()
        results += BENCHMARKS[name](["--quick"] if args.quick else [])
        print(f"({name} took {time.perf_counter() - start:.0f} s)", flush=True)
    title = "Summary (--quick: sizes too small to mean anything)" if args.quick else "Summary"
    print_results(results, title)
    if args.json is not None:
        write_json(results, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
