"""End to end over HTTP: parties registered by the operator, a supply chain attested by its
suppliers, read back as lineage, and a recall that reaches every downstream lot; then every
refusal, each with its own problem+json and nothing appended."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from factories import b64key, item, kid
from provenance.dsse import Envelope, Signature, sign_envelope
from provenance.entry import decode_leaf
from provenance.keys import generate_private_key
from provenance.statements import PAYLOAD_TYPE, sign_statement

ADMIN = {"Authorization": "Bearer test-admin-token"}
CHERRY = item("CHERRY-7", gtin="09506000134352")
GREEN = item("GREEN-7", gtin="09506000134369")
BAGS = item("BAGS-7", gtin="09506000134376")


@pytest.fixture
def client(db_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        database_url=db_url, keys_dir=tmp_path / "keys", admin_token="test-admin-token",
        max_body=64 * 1024, max_payload=16 * 1024,
    )  # fmt: skip
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def register(client: TestClient, party: str, role: str) -> Ed25519PrivateKey:
    key = generate_private_key()
    body = {
        "id": party,
        "role": role,
        "name": party.title(),
        "country": "CO",
        "keys": [b64key(key)],
    }
    response = client.post("/api/v1/parties", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    assert response.json()["party"]["keys"][0]["keyid"] == kid(key)
    return key


def post(client: TestClient, by: str, key: Ed25519PrivateKey, body: dict[str, Any]) -> Any:
    return client.post("/api/v1/statements", content=sign_statement({"by": by, **body}, [key]))


def size(client: TestClient) -> int:
    return int(client.get("/").json()["size"])


@pytest.fixture
def chain(client: TestClient) -> dict[str, Ed25519PrivateKey]:
    keys = {
        "farm": register(client, "farm", "supplier"),
        "mill": register(client, "mill", "supplier"),
        "brand": register(client, "brand", "brand"),
        "certifier": register(client, "certifier", "certifier"),
    }
    statements: list[tuple[str, dict[str, Any]]] = [
        ("farm", {"type": "origin", "items": [CHERRY], "place": {"country": "CO", "region": "Huila"},
                  "producer": "Farm", "date": "2026-07-14", "quantity": {"value": 900, "unit": "kg"}}),
        ("mill", {"type": "transformation", "process": "washing and drying", "date": "2026-08-01",
                  "inputs": [{"item": CHERRY, "quantity": {"value": 900, "unit": "kg"}}],
                  "outputs": [{"item": GREEN, "quantity": {"value": 180, "unit": "kg"}}]}),
        ("mill", {"type": "custody", "items": [GREEN], "event": "shipping", "from": "mill",
                  "to": "brand", "date": "2026-08-10"}),
        ("brand", {"type": "transformation", "process": "roasting", "date": "2026-09-01",
                   "inputs": [{"item": GREEN}], "outputs": [{"item": BAGS}]}),
        ("certifier", {"type": "certification", "subject": {"party": "farm"}, "standard": "Organic",
                       "certificate": "ORG-1", "valid_from": "2026-01-01", "valid_until": "2027-01-01"}),
        ("brand", {"type": "footprint", "items": [BAGS], "figures": {"kg_co2e": 2.1},
                   "per": "bag", "method": "ISO 14067"}),
    ]  # fmt: skip
    for by, body in statements:
        response = post(client, by, keys[by], body)
        assert response.status_code == 201, response.text
    return keys


def test_lineage_upstream_from_the_product_reaches_the_farm(
    client: TestClient, chain: dict[str, Ed25519PrivateKey]
) -> None:
    lineage = client.get("/api/v1/items/01/09506000134376/10/BAGS-7/lineage").json()
    assert lineage["nodes"] == {
        "/01/09506000134376/10/BAGS-7": 0,
        "/01/09506000134369/10/GREEN-7": 1,
        "/01/09506000134352/10/CHERRY-7": 2,
    }
    product = client.get("/api/v1/items/01/09506000134376/10/BAGS-7").json()
    assert [s["type"] for s in product["statements"]] == ["transformation", "footprint"]
    assert product["upstream"] == [
        "/01/09506000134369/10/GREEN-7",
        "/01/09506000134352/10/CHERRY-7",
    ]
    farm_lot = client.get("/api/v1/items/01/09506000134352/10/CHERRY-7").json()
    assert farm_lot["statements"][0]["statement"]["producer"] == "Farm"
    assert farm_lot["statements"][0]["envelope"]["signatures"][0]["keyid"] == kid(chain["farm"])


def test_a_recalled_farm_lot_reaches_every_downstream_lot(
    client: TestClient, chain: dict[str, Ed25519PrivateKey]
) -> None:
    recall = {"type": "recall", "items": [CHERRY], "reason": "Pesticide residue above the limit"}
    assert post(client, "farm", chain["farm"], recall).status_code == 201
    down = client.get(
        "/api/v1/items/01/09506000134352/10/CHERRY-7/lineage", params={"direction": "downstream"}
    ).json()
    assert set(down["nodes"]) == {
        "/01/09506000134352/10/CHERRY-7",
        "/01/09506000134369/10/GREEN-7",
        "/01/09506000134376/10/BAGS-7",
    }
    bags = client.get("/api/v1/items/01/09506000134376/10/BAGS-7/21/SERIAL-1").json()
    assert bags["covered_by"] == [
        "/01/09506000134376/10/BAGS-7/21/SERIAL-1",
        "/01/09506000134376/10/BAGS-7",
        "/01/09506000134376",
    ]
    assert [(r["recalled_item"], r["via"]) for r in bags["recalls"]] == [(CHERRY, "an input")]


def test_party_page_shows_suspension_and_keeps_history(
    client: TestClient, chain: dict[str, Ed25519PrivateKey]
) -> None:
    response = client.post(
        "/api/v1/parties/mill/suspension", json={"reason": "Breach of terms 4.2"}, headers=ADMIN
    )
    assert response.status_code == 200, response.text
    mill = client.get("/api/v1/parties/mill").json()
    assert (mill["status"], mill["status_reason"]) == ("suspended", "Breach of terms 4.2")
    assert mill["attestations"] == 2
    assert [h["type"] for h in mill["history"]] == ["party.register", "party.suspend"]
    assert client.get("/api/v1/statements/" + str(mill["recent"][0]["index"])).status_code == 200


def declaration(chain: dict[str, Ed25519PrivateKey], risk: str) -> bytes:
    """The brand's signed declaration of ``risk`` about the bags: a distinct envelope per risk."""
    body = {"type": "declaration", "by": "brand", "items": [BAGS], "risks": [risk]}
    return sign_statement(body, [chain["brand"]])


def test_batch_submission_answers_each_envelope(
    client: TestClient, chain: dict[str, Ed25519PrivateKey]
) -> None:
    good = [json.loads(declaration(chain, f"risk {n}")) for n in range(5)]
    stranger = json.loads(
        sign_statement(
            {"type": "declaration", "by": "brand", "items": [BAGS]}, [generate_private_key()]
        )
    )
    before = size(client)
    answer = client.post(
        "/api/v1/statements/batch", json={"envelopes": [*good, stranger, {"x": 1}]}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["appended"], body["refused"]) == (5, 2)
    assert [r["status"] for r in body["results"]] == [201] * 5 + [403, 400]
    assert body["results"][5]["problem"]["type"].endswith("/unknown-key")
    assert size(client) == before + 5


def test_a_batch_stores_exactly_the_envelopes_it_verified(
    client: TestClient, chain: dict[str, Ed25519PrivateKey]
) -> None:
    # Each envelope is checked from the body's own decoding and stored as its compact JSON: what
    # the log holds must parse to the very envelope whose signature was verified, whatever the
    # body's spelling (here pretty-printed, with keys in another order).
    sent = [json.loads(declaration(chain, f"spelt {n}")) for n in range(3)]
    reordered = [{"signatures": e["signatures"], "payload": e["payload"],
                  "payloadType": e["payloadType"]} for e in sent]  # fmt: skip
    answer = client.post(
        "/api/v1/statements/batch",
        content=json.dumps({"envelopes": reordered}, indent=2).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 200, answer.text
    indexes = [r["receipt"]["index"] for r in answer.json()["results"]]
    entries = client.get(f"/api/v1/log/entries?start={indexes[0]}&end={indexes[-1] + 1}").json()[
        "entries"
    ]
    for envelope, entry in zip(sent, entries, strict=True):
        stored = decode_leaf(base64.b64decode(entry["leaf"])).payload
        assert Envelope.from_json(stored) == Envelope.from_json(json.dumps(envelope).encode())


def test_a_batch_body_is_decoded_as_strictly_as_one_envelope(
    client: TestClient, chain: dict[str, Ed25519PrivateKey]
) -> None:
    good = declaration(chain, "none").decode()
    other = declaration(chain, "other").decode()
    before = size(client)

    def post(body: str) -> Any:
        return client.post(
            "/api/v1/statements/batch",
            content=body.encode(),
            headers={"Content-Type": "application/json"},
        )

    # A lone surrogate (which json lets through) in one envelope is that envelope's refusal.
    surrogate = good.replace('"payloadType":"', '"payloadType":"\\ud800', 1)
    answer = post(f'{{"envelopes":[{good},{surrogate}]}}')
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["status"] for r in results] == [201, 400]
    assert "lone surrogate" in results[1]["problem"]["detail"]
    assert size(client) == before + 1
    # A key named twice makes the body ambiguous (which payload was meant?), as it makes a single
    # envelope: the whole body is refused, and nothing is appended.
    payload = json.loads(other)["payload"]
    twice = other.replace('"payload":"', f'"payload":"{payload}","payload":"', 1)
    refused(client, post(f'{{"envelopes":[{twice}]}}'), 400, "invalid-statement", before + 1)
    assert "duplicate key 'payload'" in post(f'{{"envelopes":[{twice}]}}').json()["detail"]
    # Nested past the decoder's depth: a 400 that says so, not a crash.
    deep = "[" * 5000 + "]" * 5000
    refused(client, post(f'{{"envelopes":{deep}}}'), 400, "invalid-statement", before + 1)


def test_a_payload_nested_past_the_decoders_depth_is_refused_not_a_crash(
    client: TestClient, chain: dict[str, Ed25519PrivateKey]
) -> None:
    before = size(client)
    deep = b'{"type":"origin","by":"farm","x":' + b"[" * 5000 + b"]" * 5000 + b"}"
    envelope = sign_envelope(PAYLOAD_TYPE, deep, [chain["farm"]]).to_json()
    response = client.post("/api/v1/statements", content=envelope)
    refused(client, response, 400, "invalid-statement", before)
    assert "payload is not JSON" in response.json()["detail"]


# --- Refusals ------------------------------------------------------------------------------------


def refused(client: TestClient, response: Any, status: int, code: str, before: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == f"https://provenance.dev/problems/{code}"
    assert size(client) == before, "a refused submission must append nothing"


def test_every_refusal_is_specific_and_appends_nothing(
    client: TestClient, chain: dict[str, Ed25519PrivateKey]
) -> None:
    farm, mill = chain["farm"], chain["mill"]
    origin = {"type": "origin", "items": [CHERRY], "place": {"country": "CO"}, "producer": "F",
              "date": "2026-07-14"}  # fmt: skip
    before = size(client)

    envelope = Envelope.from_json(sign_statement({"by": "farm", **origin}, [farm]))
    forged = Envelope(envelope.payload_type, envelope.payload,
                      (Signature(kid(farm), bytes(64)),)).to_json()  # fmt: skip
    refused(client, client.post("/api/v1/statements", content=forged), 403, "bad-signature", before)
    refused(
        client, post(client, "farm", generate_private_key(), origin), 403, "unknown-key", before
    )
    refused(client, post(client, "farm", farm, {**origin, "place": "Huila"}), 400,
            "invalid-statement", before)  # fmt: skip
    bad_gtin = {**origin, "items": [item("X", gtin="09506000134353")]}
    response = post(client, "farm", farm, bad_gtin)
    refused(client, response, 400, "invalid-statement", before)
    assert "check-digit" in response.json()["detail"]
    refused(
        client, post(client, "farm", farm, {"type": "teleport"}), 400, "invalid-statement", before
    )
    huge = {**origin, "note": "x" * 3000, "ref": "y" * 150}
    big = sign_statement({"by": "farm", **huge, "padding": ["z" * 1000] * 70}, [farm])
    refused(client, client.post("/api/v1/statements", content=big), 413, "body-too-large", before)
    over = {"envelopes": [json.loads(sign_statement({"by": "farm", **origin}, [farm]))] * 1001}
    response = client.post("/api/v1/statements/batch", content=json.dumps(over).encode())
    assert response.status_code == 413
    assert size(client) == before

    first = post(client, "farm", farm, origin).json()["index"]
    before = size(client)
    retraction = {"type": "retraction", "retracts": first, "reason": "not yours"}
    refused(client, post(client, "mill", mill, retraction), 403, "not-authorized", before)

    extra = generate_private_key()
    added = post(
        client, "farm", farm, {"type": "key.add", "party": "farm", "public_key": b64key(extra)}
    )
    assert added.status_code == 201
    revoke = client.post(f"/api/v1/parties/farm/keys/{kid(farm)}/revocation",
                         json={"reason": "lost laptop"}, headers=ADMIN)  # fmt: skip
    assert revoke.status_code == 200, revoke.text
    before = size(client)
    refused(client, post(client, "farm", farm, {**origin, "n": 2}), 403, "revoked-key", before)
    assert post(client, "farm", extra, {**origin, "n": 2}).status_code == 201

    client.post("/api/v1/parties/mill/suspension", json={"reason": "breach"}, headers=ADMIN)
    before = size(client)
    transformation = {"type": "transformation", "process": "x", "date": "2026-01-01",
                      "inputs": [{"item": CHERRY}], "outputs": [{"item": GREEN}]}  # fmt: skip
    refused(client, post(client, "mill", mill, transformation), 403, "suspended-party", before)


def test_admin_actions_need_the_token(client: TestClient) -> None:
    body = {"id": "x", "role": "supplier", "name": "X", "keys": [b64key(generate_private_key())]}
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        response = client.post("/api/v1/parties", json=body, headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
    response = client.post("/api/v1/parties", json={**body, "role": "wizard"}, headers=ADMIN)
    assert response.status_code == 422
    assert response.json()["type"].endswith("/invalid-request")


def test_schemas_are_published(client: TestClient) -> None:
    listing = client.get("/schemas").json()["schemas"]
    assert "/schemas/origin/v1.json" in listing
    origin = client.get("/schemas/origin/v1.json")
    assert origin.headers["content-type"].startswith("application/schema+json")
    assert origin.json()["$id"].endswith("/origin/v1.json")
    assert client.get("/schemas/teleport/v1.json").status_code == 404


def test_item_answers_carry_an_etag_until_the_log_grows(
    client: TestClient, chain: dict[str, Ed25519PrivateKey]
) -> None:
    path = "/api/v1/items/01/09506000134376/10/BAGS-7"
    first = client.get(path)
    etag = first.headers["etag"]
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert client.get(path).json() == first.json()
    recall = {"type": "recall", "items": [BAGS], "reason": "Seal defect"}
    assert post(client, "brand", chain["brand"], recall).status_code == 201
    changed = client.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert [r["recalled_item"] for r in changed.json()["recalls"]] == [BAGS]
