"""The read routes' cached answers and the submission routes' hand-written JSON: the same bytes as
before, and never staler than the database.

The read routes answer repeats from per-worker caches keyed by the log's size, which they read on
a connection of their own (``api.head``); these tests append through a second ledger on the same
database, as another worker would, and check that every answer moves with it. The submission routes
write their JSON directly (``api.receipts``); these tests check the bytes are exactly what the
documented pydantic models serialize to.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.answers import ReadAnswers
from api.app import create_app
from api.head import WAIT_MS, LogHead
from api.models import ReceiptPublic
from api.receipts import ReceiptWriter
from api.routes.statements import BatchAnswer
from api.settings import Settings
from factories import b64key, item
from provenance.bootstrap import open_ledger
from provenance.checkpoint import open_checkpoint
from provenance.keys import generate_private_key
from provenance.ledger import Ledger
from provenance.log import Log, Receipt
from provenance.note import NoteSigner, NoteVerifier
from provenance.statements import sign_statement
from provenance.store.sql import SqlStore

ADMIN = {"Authorization": "Bearer test-admin-token"}
LOT = item("LOT-1")
LOT_PATH = "/api/v1/items/01/09506000134352/10/LOT-1"


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=db_url, keys_dir=tmp_path / "keys", admin_token="test-admin-token")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def origin(n: int) -> dict[str, object]:
    return {"type": "origin", "by": "farm", "n": n, "items": [LOT], "place": {"country": "CO"},
            "producer": "Finca", "date": "2026-07-14"}  # fmt: skip


def test_every_read_answer_follows_what_another_worker_appends(
    client: TestClient, settings: Settings
) -> None:
    key = generate_private_key()
    body = {"id": "farm", "role": "supplier", "name": "Farm", "keys": [b64key(key)]}
    assert client.post("/api/v1/parties", json=body, headers=ADMIN).status_code == 201
    assert client.post("/api/v1/statements", content=sign_statement(origin(0), [key])).is_success
    size = int(client.get("/").json()["size"])
    first = client.get(LOT_PATH)
    etag = first.headers["etag"]
    assert client.get(LOT_PATH, headers={"If-None-Match": etag}).status_code == 304
    assert client.get(LOT_PATH).content == first.content  # the cached answer, byte for byte
    proof = f"/api/v1/log/proof/inclusion?index=1&size={size}"
    assert client.get(proof).content == client.get(proof).content
    assert client.get(f"/api/v1/log/proof/inclusion?index=1&size={size + 1}").status_code == 400

    # Another worker: its own ledger on the same database, appending behind this app's back.
    other, _keys = open_ledger(settings.core())
    try:
        other.submit(sign_statement(origin(1), [key]))
    finally:
        other.close()
        other.log.store.close()

    assert int(client.get("/").json()["size"]) == size + 1
    checkpoint = client.get("/checkpoint").text
    assert f"\n{size + 1}\n" in checkpoint
    verifier = NoteVerifier.from_vkey(client.get("/api/v1/log/key").text.strip())
    assert open_checkpoint(checkpoint, [verifier]).size == size + 1
    grown = client.get(LOT_PATH, headers={"If-None-Match": etag})
    assert grown.status_code == 200
    assert grown.headers["etag"] != etag
    assert len(grown.json()["statements"]) == len(first.json()["statements"]) + 1
    assert client.get(f"/api/v1/log/proof/inclusion?index=1&size={size + 1}").status_code == 200


def test_submission_answers_are_what_the_models_serialize_to(client: TestClient) -> None:
    key = generate_private_key()
    body = {"id": "farm", "role": "supplier", "name": "Farm", "keys": [b64key(key)]}
    assert client.post("/api/v1/parties", json=body, headers=ADMIN).status_code == 201
    single = client.post("/api/v1/statements", content=sign_statement(origin(0), [key]))
    assert single.status_code == 201
    assert single.content == ReceiptPublic.model_validate_json(single.content).model_dump_json(
    ).encode()  # fmt: skip
    envelopes = [json.loads(sign_statement(origin(n), [key])) for n in range(1, 6)]
    stranger = json.loads(sign_statement(origin(9), [generate_private_key()]))
    batch = client.post(
        "/api/v1/statements/batch",
        json={"envelopes": [*envelopes, stranger, {"x": 1}, envelopes[0]]},
    )
    assert batch.status_code == 200
    assert batch.content == BatchAnswer.model_validate_json(batch.content).model_dump_json(
    ).encode()  # fmt: skip
    answer = batch.json()
    assert (answer["appended"], answer["refused"]) == (6, 2)
    assert [r["status"] for r in answer["results"]] == [201] * 5 + [403, 400, 201]
    assert answer["results"][7]["receipt"] == answer["results"][0]["receipt"]


@pytest.mark.parametrize(
    "checkpoint",
    ["origin\n5\nAAAA\n\n— origin AbCd\n", 'quote " backslash \\ tab \t nul \x00 \x7f \u2028 é'],
)
def test_a_written_receipt_escapes_as_pydantic_does(checkpoint: str) -> None:
    receipt = Receipt(3, bytes(range(32)), 5, checkpoint, lambda _i, _n: [bytes(32), b"\xff" * 32])
    written = ReceiptWriter().receipt(receipt).encode()
    assert written == ReceiptPublic.of(receipt).model_dump_json().encode()


def test_the_size_query_on_the_event_loop_cannot_wait_long(db_url: str) -> None:
    # It runs on the event loop: a stalled database must fail it, not freeze the worker.
    store = SqlStore.open(db_url)
    try:
        head = LogHead(store)
        assert head.size() == 0
        cursor = head._connection.cursor()
        try:
            if store.dialect == "postgresql":
                cursor.execute("SHOW statement_timeout")
                assert cursor.fetchone()[0] == f"{WAIT_MS // 1000}s"
            else:
                cursor.execute("PRAGMA busy_timeout")
                assert cursor.fetchone()[0] == WAIT_MS
        finally:
            cursor.close()
    finally:
        store.close()


def test_answers_are_forgotten_when_the_database_holds_fewer_entries(db_url: str) -> None:
    # A restored backup or a lagging replica is not the log the answers were read from.
    store = SqlStore.open(db_url)
    try:
        ledger = Ledger(Log(store, NoteSigner("test.example/shrink", generate_private_key())))
        answers = ReadAnswers(ledger, LogHead(store))
        answers.checkpoints.put(7, b"checkpoint at 7")
        answers.proofs.put((3, 7), b"proof")
        answers.items.put(("/01/x", 7), b"item")
        sizes = iter([7, 9, 4])
        answers.head._read = lambda: next(sizes)  # type: ignore[method-assign]
        assert answers.head.size() == 7
        assert answers.head.size() == 9
        assert answers.checkpoints.get(7) == b"checkpoint at 7", "a growing log keeps its answers"
        assert answers.head.size() == 4
        assert answers.head.seen == 4
        assert answers.checkpoints.get(7) is None
        assert answers.proofs.get((3, 7)) is None
        assert answers.items.get(("/01/x", 7)) is None
    finally:
        store.close()
