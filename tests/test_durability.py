"""Crash safety and concurrent writers, with real processes against real databases.

- Crash: a process appending in a loop (four threads, group commit) is killed with SIGKILL at a
  random moment, twenty times; after each kill the log verifies and every receipt that was handed
  out is in the log, at its index, provable against the latest checkpoint.
- Concurrency: four processes append at once to one database; the log has no fork, no gap and no
  duplicate index, and verifies.
"""

from __future__ import annotations

import base64
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from factories import registration, submit
from provenance.checkpoint import open_checkpoint
from provenance.keyfiles import OperatorKeys
from provenance.keys import generate_private_key, save_private_key
from provenance.ledger import Ledger
from provenance.log import Log
from provenance.merkle.verify import verify_consistency, verify_inclusion
from provenance.replay import verify_log
from provenance.store.sql import SqlStore

WORKER = Path(__file__).parent / "workers" / "append_worker.py"
KILLS = 20


def start_worker(
    ledger: Ledger, keys_dir: Path, key_file: Path, *, count: int = 0, tag: str = "w"
) -> subprocess.Popen[str]:
    command = [
        sys.executable, str(WORKER),
        "--url", ledger.log.store.url, "--keys-dir", str(keys_dir),
        "--origin", ledger.log.origin, "--party", "farm", "--key", str(key_file),
        "--count", str(count), "--tag", tag,
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture
def farm_key_file(ledger: Ledger, operator_keys: OperatorKeys, tmp_path: Path) -> Path:
    key = generate_private_key()
    submit(ledger, registration(operator_keys, "farm", key))
    path = tmp_path / "farm.key"
    save_private_key(path, key)
    return path


def receipts_from(output: str) -> list[dict[str, object]]:
    """Parse the worker's complete receipt lines; a line cut by the kill was never handed out."""
    receipts = []
    for line in output.splitlines():
        try:
            receipts.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return receipts


def check_receipts(
    log: Log, receipts: list[dict[str, object]], operator_keys: OperatorKeys
) -> None:
    verifier = operator_keys.log_verifier
    latest = open_checkpoint(log.latest_checkpoint() or "", [verifier])
    for receipt in receipts:
        index = int(receipt["index"])  # type: ignore[call-overload]
        leaf_hash = base64.b64decode(receipt["leaf_hash"])  # type: ignore[arg-type]
        size = int(receipt["tree_size"])  # type: ignore[call-overload]
        proof = [base64.b64decode(h) for h in receipt["proof"]]  # type: ignore[attr-defined]
        given = open_checkpoint(str(receipt["checkpoint"]), [verifier])
        verify_inclusion(index, size, leaf_hash, proof, given.root_hash)
        assert log.leaf_hash(index) == leaf_hash
        verify_inclusion(
            index, latest.size, leaf_hash, log.inclusion_proof(index, latest.size), latest.root_hash
        )
        if given.size < latest.size:
            proof = log.consistency_proof(given.size, latest.size)
            verify_consistency(given.size, latest.size, proof, given.root_hash, latest.root_hash)


@pytest.mark.slow
def test_receipts_survive_sigkill(
    ledger: Ledger, operator_keys: OperatorKeys, farm_key_file: Path, tmp_path: Path
) -> None:
    rng = random.Random(int(os.environ.get("PROVENANCE_TEST_SEED", "2")))
    handed_out: list[dict[str, object]] = []
    for attempt in range(KILLS):
        lines: list[str] = []
        with start_worker(ledger, tmp_path / "keys", farm_key_file, tag=f"k{attempt}") as worker:
            reader = threading.Thread(target=lines.extend, args=(worker.stdout or [],))
            reader.start()
            # Wait until the worker is appending, then kill it at a random moment.
            deadline = time.monotonic() + 60
            while not lines and worker.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            if not lines:
                worker.kill()
                pytest.fail(
                    f"worker never appended: {worker.stderr.read() if worker.stderr else ''}"
                )
            time.sleep(rng.uniform(0.0, 0.3))
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            reader.join()
        new = receipts_from("".join(lines))
        handed_out.extend(new)
        result = verify_log(ledger.log.store, [operator_keys.log_verifier])
        assert result.ok, f"after kill {attempt + 1}: {result.error}"
        check_receipts(ledger.log, new, operator_keys)
    check_receipts(ledger.log, handed_out, operator_keys)
    assert len({r["index"] for r in handed_out}) == len(handed_out)
    assert len(handed_out) > KILLS


@pytest.mark.slow
def test_four_processes_append_to_one_database(
    ledger: Ledger, operator_keys: OperatorKeys, farm_key_file: Path, tmp_path: Path
) -> None:
    per_worker = 4 * 40  # four threads each
    start = ledger.log.size()
    workers = [
        start_worker(ledger, tmp_path / "keys", farm_key_file, count=40, tag=f"p{n}")
        for n in range(4)
    ]
    outputs = [w.communicate(timeout=300) for w in workers]
    for worker in workers:
        worker.__exit__(None, None, None)
    for worker, (_, errors) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, errors
    receipts = [r for out, _ in outputs for r in receipts_from(out)]
    assert len(receipts) == 4 * per_worker
    indexes = sorted(int(r["index"]) for r in receipts)  # type: ignore[call-overload]
    assert indexes == list(range(start, start + 4 * per_worker)), "a gap or a duplicate index"
    assert ledger.log.size() == start + 4 * per_worker
    result = verify_log(ledger.log.store, [operator_keys.log_verifier])
    assert result.ok, result.error
    check_receipts(ledger.log, receipts, operator_keys)
    # Every process's batches interleaved into one chain: the checkpoints grew one after the other.
    store = SqlStore(ledger.log.store.url)
    with store.read() as reader:
        sizes = [size for size, _ in reader.iter_checkpoints()]
    store.close()
    assert sizes == sorted(set(sizes))
