"""EPCIS 2.0 over HTTP: every vector document is captured unchanged, each event gets its own log
entry, and the query interface gives the events back, filtered and paged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from factories import b64key
from provenance.dsse import sign_envelope
from provenance.keys import generate_private_key
from provenance.replay import verify_log
from provenance.store.sql import SqlStore

VECTORS = Path(__file__).parents[1] / "vectors" / "epcis"
DOCUMENTS = sorted(p for p in VECTORS.glob("*.jsonld") if "QueryDocument" not in p.name)
ADMIN = {"Authorization": "Bearer t"}


@pytest.fixture
def client(db_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(database_url=db_url, keys_dir=tmp_path / "keys", admin_token="t")
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def supplier(client: TestClient) -> Ed25519PrivateKey:
    key = generate_private_key()
    body = {"id": "packer", "role": "supplier", "name": "Packer", "keys": [b64key(key)]}
    assert client.post("/api/v1/parties", json=body, headers=ADMIN).status_code == 201
    return key


def capture(client: TestClient, key: Ed25519PrivateKey, document: bytes) -> Any:
    envelope = sign_envelope("application/ld+json", document, [key]).to_json()
    return client.post("/epcis/capture", content=envelope)


def test_there_are_vector_documents() -> None:
    assert len(DOCUMENTS) >= 6


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.stem)
def test_every_vector_document_is_captured_and_queried_back(
    client: TestClient, supplier: Ed25519PrivateKey, path: Path, tmp_path: Path
) -> None:
    raw = path.read_bytes()
    sent = json.loads(raw)["epcisBody"]["eventList"]
    response = capture(client, supplier, raw)
    assert response.status_code == 202, response.text
    result = response.json()
    assert response.headers["location"] == f"/epcis/capture/{result['captureID']}"
    assert len(result["events"]) == len(sent)
    capture_index = int(result["captureID"])
    assert [e["index"] for e in result["events"]] == [
        capture_index + 1 + n for n in range(len(sent))
    ]
    back = client.get("/epcis/events", params={"perPage": 1000})
    assert back.headers["content-type"].startswith("application/ld+json")
    document = back.json()
    assert document["type"] == "EPCISQueryDocument"
    events = document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert [{k: v for k, v in e.items() if k != "eventID"} for e in events] == [
        {k: v for k, v in e.items() if k != "eventID"} for e in sent
    ]
    assert [e["eventID"] for e in events] == [e["eventID"] for e in result["events"]]
    assert client.get(f"/epcis/capture/{capture_index}").json()["events"] == result["events"]
    again = capture(client, supplier, raw)
    assert again.json()["captureID"] == result["captureID"], "a repeated capture is idempotent"


def test_query_filters_and_paging(client: TestClient, supplier: Ed25519PrivateKey) -> None:
    # Two of GS1's sample documents reuse one eventID; the ledger captures an eventID once.
    statuses = [capture(client, supplier, path.read_bytes()).status_code for path in DOCUMENTS]
    assert set(statuses) <= {202, 409}
    assert statuses.count(202) >= len(DOCUMENTS) - 1
    all_events = client.get("/epcis/events", params={"perPage": 1000}).json()
    everything = all_events["epcisBody"]["queryResults"]["resultsBody"]["eventList"]

    def ids(params: dict[str, Any]) -> list[str]:
        body = client.get("/epcis/events", params={"perPage": 1000, **params}).json()
        return [e["eventID"] for e in body["epcisBody"]["queryResults"]["resultsBody"]["eventList"]]

    transformations = ids({"eventType": "TransformationEvent"})
    assert transformations
    assert transformations == [
        e["eventID"] for e in everything if e["type"] == "TransformationEvent"
    ]
    shipping = ids({"EQ_bizStep": "shipping"})
    assert shipping == ids({"EQ_bizStep": "https://ref.gs1.org/cbv/BizStep-shipping"})
    times = sorted(e["eventTime"] for e in everything)
    later = ids({"GE_eventTime": times[len(times) // 2]})
    assert 0 < len(later) < len(everything)
    with_epc = next(e for e in everything if e.get("epcList"))
    epc = with_epc["epcList"][0]
    assert with_epc["eventID"] in ids({"MATCH_epc": epc})
    assert with_epc["eventID"] in ids({"MATCH_anyEPC": epc})
    assert ids({"MATCH_epc": "urn:epc:id:sgtin:0000000.000000.none"}) == []

    seen: list[str] = []
    url: str | None = "/epcis/events?perPage=2"
    while url:
        page = client.get(url)
        seen += [
            e["eventID"]
            for e in page.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        ]
        link = page.headers.get("link")
        url = link.split(">")[0].lstrip("<") if link else None
    assert seen == [e["eventID"] for e in everything]


def test_capture_refusals(client: TestClient, supplier: Ed25519PrivateKey, db_url: str) -> None:
    def size() -> int:
        return int(client.get("/").json()["size"])

    before = size()
    raw = DOCUMENTS[0].read_bytes()
    doc = json.loads(raw)
    doc["epcisBody"]["eventList"][0].pop("eventTime")
    response = capture(client, supplier, json.dumps(doc).encode())
    assert response.status_code == 400
    assert "eventTime" in response.json()["detail"]
    assert capture(client, generate_private_key(), raw).status_code == 403
    assert capture(client, supplier, b"{}").status_code == 400
    assert size() == before
    assert capture(client, supplier, raw).status_code == 202
    doc = json.loads(raw)
    doc["creationDate"] = "2030-01-01T00:00:00Z"  # a new document, but the same events
    conflict = capture(client, supplier, json.dumps(doc).encode())
    assert conflict.status_code == 409
    assert conflict.json()["type"].endswith("/conflict")
    store = SqlStore(db_url)
    keys = client.app.state.keys  # type: ignore[attr-defined]
    assert verify_log(store, [keys.log_verifier]).ok
    store.close()
    assert client.get("/epcis/events", params={"nextPageToken": "garbage"}).status_code == 400
    assert client.get("/epcis/events", params={"GE_eventTime": "yesterday"}).status_code == 400
