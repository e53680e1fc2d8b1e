"""The log's public read side over HTTP: everything it answers checks out against its own key."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.demo import PARTIES
from api.settings import Settings
from provenance.checkpoint import open_checkpoint
from provenance.merkle.hashing import hash_leaf
from provenance.merkle.verify import verify_consistency, verify_inclusion
from provenance.note import NoteVerifier


@pytest.fixture
def client(db_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        database_url=db_url, keys_dir=tmp_path / "keys", demo=True, max_entries_per_page=5
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def b64(text: str) -> bytes:
    return base64.b64decode(text)


def test_checkpoint_verifies_with_the_published_key(client: TestClient) -> None:
    key = client.get("/api/v1/log/key")
    assert key.status_code == 200
    assert key.headers["content-type"].startswith("text/plain")
    verifier = NoteVerifier.from_vkey(key.text.strip())
    note = client.get("/checkpoint")
    assert note.headers["content-type"].startswith("text/plain")
    checkpoint = open_checkpoint(note.text, [verifier])
    registered = 1 + len(PARTIES)  # the founding entry and the demo's registrations
    assert checkpoint.size == client.get("/").json()["size"] > registered


def test_every_entry_is_provably_in_the_checkpoint(client: TestClient) -> None:
    verifier = NoteVerifier.from_vkey(client.get("/api/v1/log/key").text.strip())
    checkpoint = open_checkpoint(client.get("/checkpoint").text, [verifier])
    size = checkpoint.size
    leaves: list[bytes] = []
    while len(leaves) < size:
        page = client.get("/api/v1/log/entries", params={"start": len(leaves), "end": size})
        assert page.status_code == 200
        body = page.json()
        assert body["end"] - body["start"] <= 5, "the page limit holds"
        leaves += [b64(e["leaf"]) for e in body["entries"]]
    for index, leaf in enumerate(leaves):
        proof = client.get("/api/v1/log/proof/inclusion", params={"index": index, "size": size})
        body = proof.json()
        assert b64(body["leaf_hash"]) == hash_leaf(leaf)
        hashes = [b64(h) for h in body["hashes"]]
        verify_inclusion(index, size, hash_leaf(leaf), hashes, checkpoint.root_hash)


def test_consistency_between_an_old_receipt_and_the_latest_checkpoint(client: TestClient) -> None:
    verifier = NoteVerifier.from_vkey(client.get("/api/v1/log/key").text.strip())
    latest = open_checkpoint(client.get("/checkpoint").text, [verifier])
    receipt = client.get("/api/v1/log/entries/2").json()["receipt"]
    old = open_checkpoint(receipt["checkpoint"], [verifier])
    assert old.size < latest.size
    body = client.get(
        "/api/v1/log/proof/consistency", params={"from": old.size, "to": latest.size}
    ).json()
    assert (body["from"], body["to"]) == (old.size, latest.size)
    verify_consistency(
        old.size, latest.size, [b64(h) for h in body["hashes"]], old.root_hash, latest.root_hash
    )
    verify_inclusion(
        2, old.size, b64(receipt["leaf_hash"]),
        [b64(h) for h in receipt["inclusion_proof"]], old.root_hash,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/api/v1/log/entries", {"start": 5, "end": 5}, 400),
        ("/api/v1/log/entries", {"start": 999, "end": 1000}, 400),
        ("/api/v1/log/entries", {"start": -1, "end": 3}, 422),
        ("/api/v1/log/entries", {"start": "x", "end": 3}, 422),
        ("/api/v1/log/entries", {"end": 3}, 422),
        ("/api/v1/log/proof/inclusion", {"index": 14, "size": 14}, 400),
        ("/api/v1/log/proof/inclusion", {"index": 0, "size": 999}, 400),
        ("/api/v1/log/proof/consistency", {"from": 9, "to": 3}, 400),
        ("/api/v1/log/proof/consistency", {"from": 0, "to": 3}, 422),
        ("/api/v1/log/entries/999", {}, 404),
        ("/no/such/path", {}, 404),
    ],
)
def test_bad_requests_get_problem_json(
    client: TestClient, path: str, params: dict[str, int | str], status: int
) -> None:
    response = client.get(path, params=params)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    assert problem["type"].startswith("https://provenance.dev/problems/")
    assert problem["detail"]


def test_production_refuses_the_default_admin_token() -> None:
    with pytest.raises(ValueError, match="PROVENANCE_ADMIN_TOKEN"):
        Settings(environment="production", secret_key="k")
    chosen = Settings(environment="production", admin_token="s3cret", secret_key="k")
    assert chosen.admin_token == "s3cret"


def test_production_refuses_the_default_secret_key() -> None:
    with pytest.raises(ValueError, match="PROVENANCE_SECRET_KEY"):
        Settings(environment="production", admin_token="s3cret")
