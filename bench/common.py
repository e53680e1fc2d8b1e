"""What every benchmark shares: timing and medians, scratch databases, keys, and the result table.

Benchmarks are plain scripts, never timed tests. Each one measures the project and a reference in
the same run, several times, and reports medians, because this 2-core machine is noisy. A
:class:`Result` carries one comparison (our figure, the reference's, the ratio, the target), so that
``run_all.py`` can print one summary and ``docs/PERFORMANCE.md`` can be filled from it.
"""

from __future__ import annotations

import base64
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from provenance.bootstrap import OPERATOR_ID, founding_statement
from provenance.keyfiles import OperatorKeys, init_keys
from provenance.keys import generate_private_key, public_key_bytes
from provenance.ledger import Ledger
from provenance.log import Log
from provenance.statements import PARTY_REGISTER, sign_statement
from provenance.store.sql import SqlStore

ORIGIN = "bench.example/log"
"""The origin line of every benchmark log."""

POSTGRES_URL = os.environ.get(
    "PROVENANCE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
"""The PostgreSQL server of the PostgreSQL variants; each run gets a fresh schema, dropped after."""

SUPPLIER = "farm-1"
"""The supplier party that signs the benchmarks' origin statements."""


# --- Timing -------------------------------------------------------------------------------------


def timed(action: Callable[[], object]) -> float:
    """Run ``action`` once and return the seconds it took (wall clock)."""
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def median(values: Sequence[float]) -> float:
    """Return the median of a non-empty sequence."""
    return float(statistics.median(values))


def spread(values: Sequence[float]) -> str:
    """Return "median (min–max)" of rates or times, for the per-benchmark printout."""
    return f"{fmt(median(values))} ({fmt(min(values))}–{fmt(max(values))})"


def fmt(value: float) -> str:
    """Format a figure with three significant digits and a thousands separator when large."""
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


# --- Results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    """One comparison: our figure, the reference measured in the same run, and the target.

    ``ratio`` is always oriented so that bigger is better for us: ours / reference for rates,
    reference / ours for latencies. ``passed`` is None when there is no target (a report only).
    """

    benchmark: str
    metric: str
    ours: float
    reference: float | None
    unit: str
    ratio: float | None
    target: str
    passed: bool | None
    note: str = ""


def rate_result(
    benchmark: str,
    metric: str,
    ours: Sequence[float],
    reference: Sequence[float],
    unit: str,
    minimum_ratio: float,
    note: str = "",
) -> Result:
    """Compare median rates (bigger is better); pass if ours / reference >= ``minimum_ratio``."""
    ours_median, reference_median = median(ours), median(reference)
    ratio = ours_median / reference_median
    return Result(
        benchmark,
        metric,
        ours_median,
        reference_median,
        unit,
        ratio,
        f"ratio ≥ {minimum_ratio:g}",
        ratio >= minimum_ratio,
        note,
    )


def print_results(results: Sequence[Result], title: str = "Results") -> None:
    """Print results as an aligned table: metric, ours, reference, ratio, target, verdict."""
    print(f"\n== {title} ==")
    header = ("metric", "ours", "reference", "ratio", "target", "verdict")
    rows = [header]
    for r in results:
        verdict = "-" if r.passed is None else ("PASS" if r.passed else "FAIL")
        rows.append(
            (
                f"{r.benchmark}: {r.metric}",
                f"{fmt(r.ours)} {r.unit}",
                "-" if r.reference is None else f"{fmt(r.reference)} {r.unit}",
                "-" if r.ratio is None else f"{r.ratio:.2f}x",
                r.target,
                verdict,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    for r in results:
        if r.note:
            print(f"  note ({r.benchmark}: {r.metric}): {r.note}")


def write_json(results: Sequence[Result], path: Path, extra: dict[str, Any] | None = None) -> None:
    """Write results (and ``extra`` details such as curves) as JSON, for the performance report."""
    document = {"machine": machine(), "results": [asdict(r) for r in results], **(extra or {})}
    path.write_text(json.dumps(document, indent=2) + "\n")


def machine() -> dict[str, str]:
    """Describe the machine the figures come from."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "revision": _revision(),
        "cpus": str(os.cpu_count()),
        "cpu_model": model,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
    }


def _revision() -> str:
    """Return the checked-out commit, marked "+changes" if the core has uncommitted edits."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        changes = subprocess.run(
            ["git", "status", "--porcelain", "provenance"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return "unknown"
    return (head or "unknown") + ("+changes" if changes else "")


def print_machine() -> None:
    """Print the machine description every benchmark run starts with."""
    info = machine()
    print(
        f"# revision {info['revision']}, {info['cpus']} CPUs ({info['cpu_model']}),"
        f" Python {info['python']}, SQLite {info['sqlite']}, {info['platform']},"
        f" load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )


# --- Scratch databases and keys -----------------------------------------------------------------


@contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """A temporary directory for databases and keys, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{prefix}-") as name:
        yield Path(name)


def sqlite_url(path: Path) -> str:
    """Return the SQLAlchemy URL of a SQLite file."""
    return f"sqlite:///{path}"


def postgres_reachable(url: str = POSTGRES_URL) -> bool:
    """Report whether the benchmark PostgreSQL server answers."""
    try:
        with psycopg.connect(url, connect_timeout=3) as connection:
            connection.execute("SELECT 1")
    except psycopg.OperationalError:
        return False
    return True


@contextmanager
def postgres_schema(server: str = POSTGRES_URL) -> Iterator[str]:
    """Create an empty schema, yield a URL confined to it, and drop the schema afterwards."""
    schema = "bench_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in server else "?"
    try:
        yield f"{server}{separator}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(server, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def new_keys(directory: Path) -> OperatorKeys:
    """Create a log key and an operator key under ``directory``."""
    keys, _ = init_keys(directory / "keys", ORIGIN)
    return keys


def open_log(url: str, keys: OperatorKeys, *, migrate: bool = True) -> Log:
    """Open (migrating unless told not to) the store at ``url`` and a log signing with ``keys``."""
    return Log(SqlStore.open(url, migrate_schema=migrate), keys.log_signer)


def founded_ledger(url: str, keys: OperatorKeys) -> Ledger:
    """Return a ledger on a new store at ``url`` whose entry 0 is the operator's registration."""
    ledger = Ledger(open_log(url, keys))
    ledger.commit([ledger.prepare(founding_statement(keys))])
    return ledger


def register_supplier(
    ledger: Ledger, keys: OperatorKeys, party: str = SUPPLIER
) -> Ed25519PrivateKey:
    """Register ``party`` as a supplier with a new key, signed by the operator; return its key."""
    supplier_key = generate_private_key()
    body = {
        "type": PARTY_REGISTER,
        "by": OPERATOR_ID,
        "party": {"id": party, "role": "supplier", "name": f"Supplier {party}"},
        "keys": [base64.b64encode(public_key_bytes(supplier_key)).decode()],
    }
    outcome = ledger.commit([ledger.prepare(sign_statement(body, [keys.operator_key]))])
    if not outcome or isinstance(outcome[0], Exception):
        raise RuntimeError(f"registering {party} failed: {outcome}")
    return supplier_key


def origin_body(n: int, party: str = SUPPLIER) -> dict[str, Any]:
    """Return the body of the ``n``-th origin statement the benchmarks append: a valid, typical
    attestation (one lot, a place, a producer, a date, a quantity), made unique by ``n``."""
    return {
        "type": "origin",
        "by": party,
        "n": n,
        "items": [f"https://id.gs1.org/01/09506000134352/10/H-2026-{n % 1000:03d}"],
        "place": {"country": "CO", "region": "Huila", "geo": {"lat": 2.195, "lon": -75.627}},
        "producer": "Finca La Esperanza",
        "date": "2026-07-14",
        "method": "Hand-picked ripe cherries",
        "quantity": {"value": 1200, "unit": "kg"},
    }


def payloads(count: int, size: int, seed: int = 0) -> list[bytes]:
    """Return ``count`` distinct printable payloads of ``size`` bytes (text-like, not zeros)."""
    out = []
    for n in range(count):
        prefix = f"{seed}:{n}:".encode()
        out.append((prefix + os.urandom(size // 2 + 1).hex().encode())[:size])
    return out


def append_blobs(log: Log, entries: int, payload: int, batch: int) -> None:
    """Append ``entries`` plain entries of ``payload`` bytes to ``log`` in batches of ``batch``."""
    done = 0
    while done < entries:
        count = min(batch, entries - done)
        log.append([("blob", p) for p in payloads(count, payload, seed=done)])
        done += count


def close_log(log: Log) -> None:
    """Release the log's database connections."""
    log.store.close()
