"""Single appends with durable commit from 32 concurrent threads: group commit against one commit
per append.

Every thread appends distinct signed ``origin`` statements of one registered supplier, one by one:

- group commit: ``Ledger.submit(data)``; the committer thread puts whatever is queued into one
  transaction (one fsync, one checkpoint);
- one commit per append (the reference): ``ledger.commit([ledger.prepare(data)])``, which takes the
  append lock and commits one entry per transaction.

Both paths verify the envelope's signature in ``Ledger.prepare``, inside the timed region, and the
submitting thread reads its receipt's inclusion proof (receipts compute it when first read). Each
variant is measured twice: with the statements signed before the clock starts ("presigned", which
measures the append path), and signed by the submitting thread inside the timed region ("signing").
Target (issue 2): group commit at least 5 times the rate of one commit per append.
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from common import (
    Result,
    close_log,
    founded_ledger,
    new_keys,
    origin_body,
    postgres_reachable,
    postgres_schema,
    print_machine,
    print_results,
    rate_result,
    register_supplier,
    scratch_dir,
    spread,
    sqlite_url,
    timed,
)

from provenance.errors import AppendRefused
from provenance.ledger import Ledger
from provenance.statements import sign_statement


@contextmanager
def database(backend: str, directory: Path, name: str) -> Iterator[str]:
    """Give the URL of a new database on ``backend``: a SQLite file, or a PostgreSQL schema."""
    if backend == "postgresql":
        with postgres_schema() as url:
            yield url
    else:
        yield sqlite_url(directory / f"{name}.db")


def run_threads(threads: int, work: Callable[[int], None]) -> float:
    """Start ``threads`` threads running ``work(thread number)`` at once; return the wall time."""
    barrier = threading.Barrier(threads + 1)
    failures: list[BaseException] = []

    def body(number: int) -> None:
        barrier.wait()
        try:
            work(number)
        except BaseException as e:
            failures.append(e)

    pool = [threading.Thread(target=body, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()

    def release_and_join() -> None:
        barrier.wait()
        for thread in pool:
            thread.join()

    seconds = timed(release_and_join)
    if failures:
        raise RuntimeError(f"{len(failures)} threads failed; first: {failures[0]!r}")
    return seconds


def measure(
    url: str, mode: str, presigned: bool, threads: int, per_thread: int, directory: Path
) -> tuple[float, float]:
    """Append ``threads * per_thread`` statements to a new ledger at ``url``; return appends/s and
    the mean number of entries per committed transaction."""
    keys = new_keys(directory / f"keys-{mode}-{presigned}")
    ledger = founded_ledger(url, keys)
    supplier = register_supplier(ledger, keys)
    bodies = [[origin_body(t * per_thread + n) for n in range(per_thread)] for t in range(threads)]
    signed = (
        [[sign_statement(b, [supplier]) for b in mine] for mine in bodies] if presigned else None
    )
    append = _submit if mode == "group" else _commit_one
    commits: list[int] = []  # the log size after each timed transaction
    ledger.on_commit.append(commits.append)

    def work(number: int) -> None:
        for n in range(per_thread):
            data = signed[number][n] if signed else sign_statement(bodies[number][n], [supplier])
            append(ledger, data)

    try:
        seconds = run_threads(threads, work)
        appended = ledger.log.size() - 2
    finally:
        ledger.close()
        close_log(ledger.log)
    if appended != threads * per_thread:
        raise RuntimeError(f"{appended} entries appended, {threads * per_thread} expected")
    return appended / seconds, appended / len(commits)


def _submit(ledger: Ledger, data: bytes) -> None:
    _ = ledger.submit(data).inclusion_proof  # a submitter is handed its proof


def _commit_one(ledger: Ledger, data: bytes) -> None:
    outcome = ledger.commit([ledger.prepare(data)])[0]
    if isinstance(outcome, AppendRefused):
        raise outcome
    _ = outcome.inclusion_proof


def main(argv: Sequence[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--per-thread", type=int, default=100, help="appends per thread")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--backends", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.per_thread, args.runs = 10, 1
    print_machine()
    backends = args.backends.split(",")
    if "postgresql" in backends and not postgres_reachable():
        print("group_commit: PostgreSQL is not reachable; measuring SQLite only")
        backends.remove("postgresql")
    total = args.threads * args.per_thread
    print(
        f"group_commit: {args.runs} runs, {args.threads} threads x {args.per_thread} appends"
        f" = {total} signed statements per measurement"
    )
    results = []
    for backend in backends:
        for presigned in (True, False):
            label = "presigned" if presigned else "signing in the timed region"
            rates: dict[str, list[float]] = {"group": [], "single": []}
            for run in range(args.runs):
                order = ("group", "single") if run % 2 == 0 else ("single", "group")
                group_size = 0.0
                with scratch_dir("group") as directory:
                    for mode in order:
                        with database(backend, directory, mode) as url:
                            rate, per_commit = measure(
                                url, mode, presigned, args.threads, args.per_thread, directory
                            )
                        rates[mode].append(rate)
                        if mode == "group":
                            group_size = per_commit
                print(
                    f"  {backend}, {label}, run {run + 1}: group {rates['group'][-1]:,.0f}/s"
                    f" ({group_size:.1f} entries per commit),"
                    f" one commit per append {rates['single'][-1]:,.0f}/s"
                )
            print(
                f"  {backend}, {label}: group {spread(rates['group'])}/s,"
                f" single {spread(rates['single'])}/s"
            )
            results.append(
                rate_result(
                    "group_commit",
                    f"{backend}, {label}: Ledger.submit vs one commit per append",
                    rates["group"],
                    rates["single"],
                    "appends/s",
                    5.0,
                )
            )
    print_results(results, "group_commit")
    return results


if __name__ == "__main__":
    main()
