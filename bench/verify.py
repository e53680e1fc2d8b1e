"""Full replay (``verify_log``, what ``provenance verify`` runs) of large logs, entries per second.

Two logs are built and each is replayed ``--runs`` times with the default worker count (one
process per core, the main process included):

- unsigned: ``--entries`` (default 1,000,000) ``blob`` entries appended with Log.append in batches
  of 1,000, so that every batch leaves a signed checkpoint, as in production;
  target (issue 2): at least 300,000 entries per second;
- signed: the operator's founding entry, one supplier registration, then ``--signed`` (default
  1,000,000) ``origin`` statements each signed once by the supplier, appended with Log.batch in
  batches of 1,000 (the envelopes are signed beforehand in a process pool, and the stored digest is
  SHA-256 of their PAE bytes, which is what replay checks). The reference is the raw verify rate of
  the library the project uses, ``provenance.keys.verify_ed25519`` (PyNaCl/libsodium), over the
  same (signature, PAE message) pairs in one process and one thread, times the cores replay uses;
  target: replay at least 80% of that.

With ``--keep DIR`` the logs (and the keys that signed them) are kept in DIR and reused by later
runs of the same sizes, so that replay can be measured again without rebuilding a million entries.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import hashlib
import os
import pstats
import resource
import sys
import time
from collections.abc import Sequence
from multiprocessing import get_context
from pathlib import Path

from common import (
    ORIGIN,
    Result,
    append_blobs,
    close_log,
    fmt,
    founded_ledger,
    median,
    new_keys,
    open_log,
    origin_body,
    print_machine,
    print_results,
    rate_result,
    register_supplier,
    scratch_dir,
    spread,
    sqlite_url,
    timed,
)
from cryptography.hazmat.primitives import serialization

from provenance.dsse import Envelope, pae
from provenance.entry import decode_leaf
from provenance.keyfiles import OperatorKeys
from provenance.keys import private_key_from_seed, public_key_bytes, verify_ed25519
from provenance.replay import CHUNK, _collect_public_keys, verify_log
from provenance.replay_worker import check_chunk
from provenance.statements import sign_statement
from provenance.store.sql import SqlStore

Signed = tuple[bytes, bytes, bytes, bytes]
"""(envelope JSON, digest of its PAE, signature, PAE message) of one signed statement."""


def sign_chunk(task: tuple[bytes, int, int]) -> list[Signed]:
    """Sign origin statements start .. start+count-1 with the supplier key given by its seed."""
    seed, start, count = task
    key = private_key_from_seed(seed)
    out = []
    for n in range(start, start + count):
        data = sign_statement(origin_body(n), [key])
        envelope = Envelope.from_json(data)  # read back what a verifier will see
        message = pae(envelope.payload_type, envelope.payload)
        digest = hashlib.sha256(message).digest()
        out.append((data, digest, envelope.signatures[0].sig, message))
    return out


def build_unsigned(url: str, keys: OperatorKeys, entries: int, payload: int, batch: int) -> None:
    log = open_log(url, keys)
    try:
        append_blobs(log, entries, payload, batch)
    finally:
        close_log(log)


def build_signed(
    url: str, keys: OperatorKeys, statements: int, batch: int, sample: int
) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """Build the signed log; return the supplier's public key and (signature, message) samples."""
    ledger = founded_ledger(url, keys)
    supplier = register_supplier(ledger, keys)
    ledger.close()
    log = ledger.log
    seed = supplier.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    tasks = [(seed, start, min(batch, statements - start)) for start in range(0, statements, batch)]
    samples: list[tuple[bytes, bytes]] = []
    try:
        with get_context("spawn").Pool(os.cpu_count() or 1) as pool:
            for chunk in pool.imap(sign_chunk, tasks, chunksize=4):
                with log.batch() as adding:
                    for envelope, digest, signature, message in chunk:
                        adding.add("origin", envelope, digest)
                        if len(samples) < sample:
                            samples.append((signature, message))
    finally:
        close_log(log)
    return public_key_bytes(supplier), samples


def signed_samples(url: str, count: int) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """Read back the supplier's public key and (signature, PAE message) pairs of the first
    ``count`` origin statements of a signed log built earlier (they start at index 2)."""
    store = SqlStore(url)
    try:
        with store.read() as reader:
            keys = _collect_public_keys(reader)
            leaves = reader.leaves(2, 2 + count)
    finally:
        store.close()
    samples: list[tuple[bytes, bytes]] = []
    signer = ""
    for _, leaf in leaves:
        envelope = Envelope.from_json(decode_leaf(leaf).payload)
        samples.append((envelope.signatures[0].sig, pae(envelope.payload_type, envelope.payload)))
        signer = envelope.signatures[0].keyid
    return keys[signer], samples


def raw_verify_rate(
    public_key: bytes, samples: Sequence[tuple[bytes, bytes]]
) -> tuple[float, float]:
    """Verify every sample with verify_ed25519 in this thread; return verifications per second
    and the CPU time of one verification in microseconds."""

    def verify_all() -> None:
        for signature, message in samples:
            if not verify_ed25519(public_key, signature, message):
                raise RuntimeError("a sample signature does not verify")

    cpu_before = _cpu_seconds()
    rate = len(samples) / timed(verify_all)
    return rate, (_cpu_seconds() - cpu_before) / len(samples) * 1e6


def replay_rate(
    url: str, keys: OperatorKeys, expected_signatures: int | None, workers: int | None = None
) -> tuple[float, float]:
    """Run verify_log once on a fresh store; return entries per second and the CPU time it took
    per entry in microseconds, worker processes included (raise if the log does not verify).

    The CPU time says what the replay costs whatever else the machine runs: on a busy machine
    the wall-clock rate falls, and the CPU time per entry barely moves."""
    store = SqlStore(url)
    try:
        cpu_before = _cpu_seconds()
        start = time.perf_counter()
        result = verify_log(store, [keys.log_verifier], origin=ORIGIN, workers=workers)
        seconds = time.perf_counter() - start
        cpu = _cpu_seconds() - cpu_before
    finally:
        store.close()
    if not result.ok:
        raise RuntimeError(f"the benchmark log does not verify: {result.error}")
    if expected_signatures is not None and result.signatures != expected_signatures:
        raise RuntimeError(
            f"{result.signatures} signatures checked, {expected_signatures} expected"
        )
    return result.size / seconds, cpu / result.size * 1e6


def _cpu_seconds() -> float:
    """CPU time of this process and of its children that have ended (replay joins its workers)."""
    mine, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return mine.ru_utime + mine.ru_stime + children.ru_utime + children.ru_stime


def profile_replay(url: str, keys: OperatorKeys, chunks: int) -> None:
    """Profile the main process of one replay, then one worker's chunk checks in-process."""
    store = SqlStore(url)
    profiler = cProfile.Profile()
    profiler.runcall(verify_log, store, [keys.log_verifier], origin=ORIGIN)
    print("\n-- profile: main process of verify_log (workers run in other processes) --")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(20)
    with store.read() as reader:
        public_keys = _collect_public_keys(reader)
        profiler = cProfile.Profile()
        for n in range(chunks):
            profiler.runcall(check_chunk, reader, n * CHUNK, (n + 1) * CHUNK, public_keys)
    print(f"\n-- profile: a worker's check_chunk over {chunks * CHUNK:,} entries, in-process --")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(20)
    store.close()


def main(argv: Sequence[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000, help="unsigned log size")
    parser.add_argument("--signed", type=int, default=1_000_000, help="signed statements")
    parser.add_argument("--payload", type=int, default=400, help="unsigned payload bytes")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sample", type=int, default=100_000, help="raw verify sample size")
    parser.add_argument("--profile", action="store_true", help="cProfile one signed replay")
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument(
        "--only", choices=("unsigned", "signed"), help="measure only one of the two logs"
    )
    parser.add_argument(
        "--workers", type=int, help="processes verify_log checks in (default: its own choice)"
    )
    parser.add_argument(
        "--keep", type=Path, metavar="DIR", help="keep the logs in DIR and reuse them next time"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.entries, args.signed, args.runs, args.sample = 60_000, 60_000, 1, 10_000
    cores = os.cpu_count() or 1
    print_machine()
    print(
        f"verify: unsigned {args.entries:,} entries ({args.payload} B payloads), signed"
        f" {args.signed:,} statements, batches of {args.batch}, {args.runs} runs,"
        f" cores used (os.cpu_count()) {cores}, workers {args.workers or 'default'}"
    )
    results = []
    with contextlib.ExitStack() as stack:
        if args.keep is None:
            directory = stack.enter_context(scratch_dir("verify"))
        else:
            directory = args.keep
            directory.mkdir(parents=True, exist_ok=True)
        keys = new_keys(directory)
        if args.only != "signed":
            results.append(measure_unsigned(directory, keys, args))
        if args.only != "unsigned":
            results.append(measure_signed(directory, keys, args, cores))
    print_results(results, "verify")
    return results


def measure_unsigned(directory: Path, keys: OperatorKeys, args: argparse.Namespace) -> Result:
    path = directory / f"unsigned-{args.entries}-{args.payload}-{args.batch}.db"
    url = sqlite_url(path)
    if not path.exists():
        building = path.with_suffix(".building")
        building.unlink(missing_ok=True)
        seconds = timed(
            lambda: build_unsigned(
                sqlite_url(building), keys, args.entries, args.payload, args.batch
            )
        )
        building.rename(path)
        print(f"  built the unsigned log in {seconds:.0f} s", flush=True)
    rates, cpu = [], []
    for run in range(args.runs):
        rate, cpu_per_entry = replay_rate(url, keys, 0, args.workers)
        rates.append(rate)
        cpu.append(cpu_per_entry)
        print(
            f"  unsigned replay run {run + 1}: {rate:,.0f} entries/s,"
            f" {cpu_per_entry:.2f} µs CPU per entry (load average {os.getloadavg()[0]:.2f})",
            flush=True,
        )
    print(f"  unsigned replay: {spread(rates)} entries/s; {spread(cpu)} µs CPU per entry")
    if args.keep is None:
        path.unlink()
    return Result(
        "verify",
        f"verify_log, {args.entries:,} unsigned entries",
        median(rates),
        300_000,
        "entries/s",
        median(rates) / 300_000,
        "≥ 300,000/s",
        median(rates) >= 300_000,
    )


def measure_signed(
    directory: Path, keys: OperatorKeys, args: argparse.Namespace, cores: int
) -> Result:
    path = directory / f"signed-{args.signed}-{args.batch}.db"
    url = sqlite_url(path)
    if path.exists():
        public_key, samples = signed_samples(url, args.sample)
    else:
        building = path.with_suffix(".building")
        building.unlink(missing_ok=True)
        start = time.perf_counter()
        public_key, samples = build_signed(
            sqlite_url(building), keys, args.signed, args.batch, args.sample
        )
        building.rename(path)
        print(f"  built the signed log in {time.perf_counter() - start:.0f} s", flush=True)
    replay, raw, cpu, efficiency = [], [], [], []
    for run in range(args.runs):
        raw_rate, raw_cpu = raw_verify_rate(public_key, samples)
        raw.append(raw_rate)
        rate, cpu_per_entry = replay_rate(url, keys, args.signed + 2, args.workers)
        replay.append(rate)
        cpu.append(cpu_per_entry)
        # What the ratio would be on an otherwise idle machine, where both cores are the
        # replay's: the raw verify's CPU time over the replay's CPU time per entry.
        efficiency.append(raw_cpu / cpu_per_entry)
        print(
            f"  signed run {run + 1}: replay {rate:,.0f} entries/s, raw verify"
            f" {raw_rate:,.0f}/s x {cores} cores = {raw_rate * cores:,.0f}/s; CPU per entry"
            f" {cpu_per_entry:.1f} µs against {raw_cpu:.1f} µs per raw verify"
            f" ({efficiency[-1]:.2f}) (load average {os.getloadavg()[0]:.2f})",
            flush=True,
        )
    print(
        f"  signed replay: {spread(replay)} entries/s, {spread(cpu)} µs CPU per entry;"
        f" raw verify {spread(raw)}/s per core; CPU ratio {spread(efficiency)}"
    )
    if args.profile:
        profile_replay(url, keys, chunks=10)
    return rate_result(
        "verify",
        f"verify_log, {args.signed:,} signed entries vs raw verify x {cores} cores",
        replay,
        [r * cores for r in raw],
        "entries/s",
        0.8,
        f"raw = verify_ed25519 (PyNaCl) over {len(samples):,} of the same signatures,"
        f" one thread, {fmt(median(raw))}/s, times {cores} cores",
    )


if __name__ == "__main__":
    main()
