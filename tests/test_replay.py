"""`provenance verify`'s replay: every rule has a test that tampers with the stored log and expects
that rule to name the first bad index, in SQLite and in PostgreSQL."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Callable
from multiprocessing import get_context

import pytest
from sqlalchemy import text

from factories import attestation, governance, kid, register, seal, submit
from provenance.entry import decode_leaf, encode_leaf
from provenance.keyfiles import OperatorKeys
from provenance.keys import generate_private_key
from provenance.ledger import Ledger
from provenance.note import NoteSigner
from provenance.replay import VerifyResult, verify_log
from provenance.replay_worker import check_chunk, work
from provenance.statements import sign_statement
from provenance.store.sql import SqlStore
from provenance.tiles import Tile, tile_for_node

BLOBS = 700  # enough for full level-0 tiles, and a level-1 tile, at the right edge


@pytest.fixture
def filled(ledger: Ledger, operator_keys: OperatorKeys) -> Ledger:
    """A log with registry entries, signed attestations and plain entries over several batches."""
    key = register(ledger, operator_keys, "farm")
    for _ in range(3):
        submit(ledger, attestation("farm", key))
    for start in range(0, BLOBS, 100):
        ledger.log.append([("blob", f"entry {start + i}".encode()) for i in range(100)])
    submit(ledger, attestation("farm", key))
    return ledger


def verify(ledger: Ledger, operator_keys: OperatorKeys, **options: object) -> VerifyResult:
    return verify_log(ledger.log.store, [operator_keys.log_verifier], **options)  # type: ignore[arg-type]


def expect(result: VerifyResult, index: int, what: str) -> None:
    assert result.error is not None, "tampering went unnoticed"
    assert (result.error.index, result.error.what) == (index, what), result.error


def execute(store: SqlStore, sql: str, **params: object) -> None:
    with store.writer.begin() as connection:
        connection.execute(text(sql), params)


def read_leaf(store: SqlStore, index: int) -> bytes:
    with store.read() as reader:
        leaf = reader.leaf(index)
    assert leaf is not None
    return leaf


def write_leaf(store: SqlStore, index: int, leaf: bytes) -> None:
    execute(store, "UPDATE log_entry SET leaf = :leaf WHERE idx = :i", leaf=leaf, i=index)


def flip(data: bytes, position: int) -> bytes:
    changed = bytearray(data)
    changed[position] ^= 0x01
    return bytes(changed)


def reseal(store: SqlStore, signer: NoteSigner) -> None:
    """Recompute every tile and re-sign every checkpoint over the stored leaves, as an operator who
    rewrote history with the log key would: only the rules beyond hashing can catch it then."""
    with store.read() as reader:
        leaves = [leaf for _, leaf in reader.iter_leaves()]
        sizes = [size for size, _ in reader.iter_checkpoints()]
    tiles, notes = seal(leaves, sizes, signer)
    execute(store, "DELETE FROM merkle_tile")
    execute(store, "DELETE FROM log_checkpoint")
    with store.write() as txn:
        txn.put_tiles(tiles)
        for size, note in notes:
            txn.insert_checkpoint(size, note)


# --- A log as appended verifies -----------------------------------------------------------------


def test_untouched_log_verifies(filled: Ledger, operator_keys: OperatorKeys) -> None:
    result = verify(filled, operator_keys)
    assert result.ok, result.error
    assert result.size == filled.log.size() == BLOBS + 6
    assert result.checkpoints == 6 + BLOBS // 100
    assert result.signatures == 6


def test_parallel_workers_give_the_same_answer(filled: Ledger, operator_keys: OperatorKeys) -> None:
    assert verify(filled, operator_keys, workers=2).ok
    leaf = read_leaf(filled.log.store, 300)
    write_leaf(filled.log.store, 300, flip(leaf, len(leaf) - 1))
    expect(verify(filled, operator_keys, workers=2), 300, "tile")


def test_worker_loop_checks_every_chunk_it_takes(filled: Ledger) -> None:
    # verify_log's own process may take every chunk of a small log before a worker starts, so
    # the worker loop is run here, in this process, on chunks of its own.
    context = get_context("spawn")
    next_chunk, results = context.Value("q", 0), context.Queue()
    store = filled.log.store
    bounds = [(0, 256), (256, 512), (512, filled.log.size())]
    work(store.url, {}, bounds, next_chunk, results)
    checked = dict(results.get(timeout=10) for _ in bounds)
    with store.read() as reader:
        assert checked == {n: check_chunk(reader, *b, {}) for n, b in enumerate(bounds)}


def test_reseal_alone_changes_nothing(filled: Ledger, operator_keys: OperatorKeys) -> None:
    reseal(filled.log.store, operator_keys.log_signer)
    assert verify(filled, operator_keys).ok


# --- Stored bytes changed: one byte of an entry, a subtree hash, a checkpoint ------------------


@pytest.mark.parametrize("index", [0, 3, 255, 256, 500, BLOBS + 5])
def test_one_byte_of_an_entry(filled: Ledger, operator_keys: OperatorKeys, index: int) -> None:
    store = filled.log.store
    leaf = read_leaf(store, index)
    write_leaf(store, index, flip(leaf, len(leaf) - 2))
    result = verify(filled, operator_keys)
    assert result.error is not None
    assert result.error.index == index, result.error


@pytest.mark.parametrize(
    ("level", "index"),
    [(0, 0), (0, 257), (3, 10), (7, 1), (8, 0), (9, 0), (0, BLOBS + 5)],
)
def test_one_byte_of_a_subtree_hash(
    filled: Ledger, operator_keys: OperatorKeys, level: int, index: int
) -> None:
    store = filled.log.store
    (tile_level, tile_index), inner, offset = tile_for_node(level, index)
    with store.read() as reader:
        tile = reader.tiles([(tile_level, tile_index)])[(tile_level, tile_index)]
    tile.levels[inner][offset * 32 + 7] ^= 0x80
    with store.write() as txn:
        txn.put_tiles([tile])
    last_covered = ((index + 1) << level) - 1
    expect(verify(filled, operator_keys), last_covered, "tile")


def test_one_byte_of_a_checkpoint(filled: Ledger, operator_keys: OperatorKeys) -> None:
    store = filled.log.store
    with store.read() as reader:
        size, note = list(reader.iter_checkpoints())[4]
    root_line = note.split("\n")[2]
    changed = note.replace(root_line, ("A" if root_line[0] != "A" else "B") + root_line[1:])
    execute(store, "UPDATE log_checkpoint SET note = :n WHERE size = :s", n=changed, s=size)
    expect(verify(filled, operator_keys), size - 1, "checkpoint")


def test_checkpoint_by_another_key(filled: Ledger, operator_keys: OperatorKeys) -> None:
    store = filled.log.store
    impostor = NoteSigner(operator_keys.log_signer.name, generate_private_key())
    reseal(store, impostor)
    expect(verify(filled, operator_keys), 0, "checkpoint")


def test_checkpoint_of_another_origin(filled: Ledger, operator_keys: OperatorKeys) -> None:
    result = verify(filled, operator_keys, origin="other.example/log")
    expect(result, 0, "checkpoint")


def test_lost_checkpoint(filled: Ledger, operator_keys: OperatorKeys) -> None:
    store = filled.log.store
    size = filled.log.size()
    execute(store, "DELETE FROM log_checkpoint WHERE size = :s", s=size)
    with store.read() as reader:
        checkpoint = reader.checkpoint()
    assert checkpoint is not None
    expect(verify(filled, operator_keys), checkpoint[0], "checkpoint")


def test_extra_tile(filled: Ledger, operator_keys: OperatorKeys) -> None:
    store = filled.log.store
    stray = Tile((5, 0))
    stray.add(0, 0, bytes(32))
    with store.write() as txn:
        txn.put_tiles([stray])
    expect(verify(filled, operator_keys), filled.log.size() - 1, "tile")


# --- Entries deleted, inserted or reordered -----------------------------------------------------


@pytest.mark.parametrize("index", [1, 300, BLOBS + 4])
def test_deleted_entry(filled: Ledger, operator_keys: OperatorKeys, index: int) -> None:
    execute(filled.log.store, "DELETE FROM log_entry WHERE idx = :i", i=index)
    expect(verify(filled, operator_keys), index, "index")


def test_deleted_last_entry(filled: Ledger, operator_keys: OperatorKeys) -> None:
    last = filled.log.size() - 1
    execute(filled.log.store, "DELETE FROM log_entry WHERE idx = :i", i=last)
    result = verify(filled, operator_keys)
    assert result.error is not None
    assert result.error.index == last, result.error


def test_reordered_entries(filled: Ledger, operator_keys: OperatorKeys) -> None:
    store = filled.log.store
    first, second = read_leaf(store, 10), read_leaf(store, 11)
    write_leaf(store, 10, second)
    write_leaf(store, 11, first)
    expect(verify(filled, operator_keys), 10, "index")


# --- History rewritten with the log key: the rules beyond hashing -------------------------------


def rewrite(ledger: Ledger, operator_keys: OperatorKeys, at: int, **fields: object) -> None:
    """Replace fields of entry ``at``'s header or payload, then reseal the tree."""
    store = ledger.log.store
    entry = dataclasses.replace(decode_leaf(read_leaf(store, at)), **fields)  # type: ignore[arg-type]
    leaf = encode_leaf(entry.index, entry.time_ms, entry.kind, entry.prev, entry.payload)
    write_leaf(store, at, leaf)
    reseal(store, operator_keys.log_signer)


def test_rule_chain(filled: Ledger, operator_keys: OperatorKeys) -> None:
    rewrite(filled, operator_keys, 50, prev=bytes(32))
    expect(verify(filled, operator_keys), 50, "chain")


def test_rule_time(filled: Ledger, operator_keys: OperatorKeys) -> None:
    rewrite(filled, operator_keys, 50, time_ms=1)
    expect(verify(filled, operator_keys), 50, "time")


def test_rule_index_in_header(filled: Ledger, operator_keys: OperatorKeys) -> None:
    rewrite(filled, operator_keys, 50, index=49)
    expect(verify(filled, operator_keys), 50, "index")


def test_rule_leaf_format(filled: Ledger, operator_keys: OperatorKeys) -> None:
    store = filled.log.store
    write_leaf(store, 60, b"garbage without a header line")
    reseal(store, operator_keys.log_signer)
    expect(verify(filled, operator_keys), 60, "leaf")


def header_alone(leaf: bytes) -> bytes:
    return leaf.partition(b"\n")[0]


def prev_not_base64(leaf: bytes) -> bytes:
    header, _, payload = leaf.partition(b"\n")
    fields = header.split(b" ")
    fields[4] = b"!" * len(fields[4])
    return b" ".join(fields) + b"\n" + payload


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("tamper", [header_alone, prev_not_base64])
def test_rule_leaf_format_in_the_middle_of_a_chunk(
    filled: Ledger, operator_keys: OperatorKeys, tamper: Callable[[bytes], bytes], workers: int
) -> None:
    # Entries after the first of a chunk are read through a quicker header check; it must refuse
    # what the full decoder refuses: a leaf that is its header line alone (no newline, no
    # payload), and a prev that is not base64.
    store = filled.log.store
    write_leaf(store, 60, tamper(read_leaf(store, 60)))
    reseal(store, operator_keys.log_signer)
    expect(verify(filled, operator_keys, workers=workers), 60, "leaf")


def test_rule_statement_kind(filled: Ledger, operator_keys: OperatorKeys) -> None:
    rewrite(filled, operator_keys, 3, kind="custody")
    expect(verify(filled, operator_keys), 3, "statement")


def test_rule_statement_digest(filled: Ledger, operator_keys: OperatorKeys) -> None:
    execute(filled.log.store, "UPDATE log_entry SET digest = :d WHERE idx = 3", d=bytes(32))
    expect(verify(filled, operator_keys), 3, "statement")


def test_rule_signature(filled: Ledger, operator_keys: OperatorKeys) -> None:
    envelope = json.loads(decode_leaf(read_leaf(filled.log.store, 3)).payload)
    signature = bytearray(base64.b64decode(envelope["signatures"][0]["sig"]))
    signature[5] ^= 0x10
    envelope["signatures"][0]["sig"] = base64.b64encode(signature).decode()
    payload = json.dumps(envelope).encode()
    rewrite(filled, operator_keys, 3, payload=payload)
    expect(verify(filled, operator_keys), 3, "signature")


def test_rule_registry_suspended_party(ledger: Ledger, operator_keys: OperatorKeys) -> None:
    key = register(ledger, operator_keys, "farm")
    submit(ledger, governance(operator_keys, "party.suspend", party="farm", reason="breach"))
    smuggle(ledger, attestation("farm", key))
    expect(verify(ledger, operator_keys), 3, "registry")


def test_rule_registry_revoked_key(ledger: Ledger, operator_keys: OperatorKeys) -> None:
    key = register(ledger, operator_keys, "farm")
    other = register(ledger, operator_keys, "mill")
    submit(
        ledger, governance(operator_keys, "key.revoke", party="farm", keyid=kid(key), reason="x")
    )
    smuggle(ledger, attestation("farm", key))
    result = verify(ledger, operator_keys)
    expect(result, 4, "registry")
    assert "revoked-key" in result.error.detail  # type: ignore[union-attr]
    assert other


def test_rule_registry_unknown_key(ledger: Ledger, operator_keys: OperatorKeys) -> None:
    register(ledger, operator_keys, "farm")
    smuggle(ledger, attestation("farm", generate_private_key()))
    expect(verify(ledger, operator_keys), 2, "registry")


def test_rule_registry_review_answer_points_at_a_review(
    ledger: Ledger, operator_keys: OperatorKeys
) -> None:
    farm = register(ledger, operator_keys, "farm")
    origin = submit(ledger, attestation("farm", farm)).index
    answer = {"type": "review.answer", "by": "farm", "review": origin, "text": "thanks"}
    smuggle(ledger, sign_statement(answer, [farm]))
    expect(verify(ledger, operator_keys), origin + 1, "registry")


def smuggle(ledger: Ledger, data: bytes) -> None:
    """Append a statement past the ledger's rules, straight into the log, as a buggy or malicious
    sequencer would."""
    from provenance.statements import parse_envelope, parse_statement

    statement = parse_statement(parse_envelope(data))
    with ledger.log.batch() as batch:
        batch.add(statement.type, data, statement.digest)
