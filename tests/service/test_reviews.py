"""Reviews over HTTP, on the demo supply chain and both databases: posting, reading with aggregates,
answers by the brand, moderation, erasure, complaint status, verified holders, and every abuse
refusal, each of which must append nothing; after erasure and moderation the log still verifies.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from api.app import create_app
from api.demo import GTIN_BAG
from api.routes.reviews import ReviewPosted
from api.settings import Settings
from factories import b64key
from provenance.cli import main
from provenance.keys import generate_private_key, load_private_key
from provenance.statements import sign_statement
from web.csrf import csrf_token

ADMIN = {"Authorization": "Bearer reviews-admin"}
LOT = f"01/{GTIN_BAG}/10/R-2026-112"
SERIAL = f"{LOT}/21/000123"


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=db_url, keys_dir=tmp_path / "keys", admin_token="reviews-admin", demo=True,
        review_burst_per_client=1000, review_burst_per_item=1000,
    )  # fmt: skip


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def review(**fields: Any) -> dict[str, Any]:
    return {"item": LOT, "kind": "experience", "rating": 4, "title": "Good", "text": "Nice cup.",
            **fields}  # fmt: skip


def size(client: TestClient) -> int:
    return int(client.get("/").json()["size"])


def post(client: TestClient, **fields: Any) -> dict[str, Any]:
    response = client.post("/api/v1/reviews", json=review(**fields))
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def brand_key(settings: Settings) -> Ed25519PrivateKey:
    return load_private_key(settings.keys_dir / "demo" / "bean-roasters.key")


def signed(client: TestClient, by: str, key: Ed25519PrivateKey, body: dict[str, Any]) -> Any:
    return client.post("/api/v1/statements", content=sign_statement({"by": by, **body}, [key]))


def moderator(client: TestClient) -> Ed25519PrivateKey:
    key = generate_private_key()
    party = {"id": "mods", "role": "moderator", "name": "Moderation team", "keys": [b64key(key)]}
    assert client.post("/api/v1/parties", json=party, headers=ADMIN).status_code == 201
    return key


def test_a_review_is_a_commitment_in_the_log_and_content_beside_it(client: TestClient) -> None:
    before = size(client)
    posted = post(client, text="Red fruit and panela, as promised.", name="Ana")
    assert size(client) == before + 1
    statement = client.get(f"/api/v1/statements/{posted['index']}").json()["statement"]
    assert set(statement) == {"type", "by", "items", "commitment"}  # no personal data in the log
    assert statement["by"] == "operator"
    shown = client.get(f"/api/v1/reviews/{posted['index']}").json()
    assert shown["text"] == "Red fruit and panela, as promised."
    assert shown["name"] == "Ana"
    salt = base64.b64decode(shown["salt"])
    digest = hashlib.sha256(salt + shown["content"].encode()).digest()
    assert base64.b64encode(digest).decode() == statement["commitment"]
    assert [c["index"] for c in shown["evidence"]["claims"]] == [posted["index"]]


def test_the_posted_answer_is_what_its_documented_model_writes(client: TestClient) -> None:
    # The route writes its answer directly; it must be byte for byte the ReviewPosted model's.
    answer = client.post("/api/v1/reviews", json={
        "item": LOT, "kind": "question", "title": "Ñandú?", "text": "Quoted \"words\" and ünïcode",
    })  # fmt: skip
    assert answer.status_code == 201, answer.text
    assert answer.headers["content-type"] == "application/json"
    model = ReviewPosted.model_validate_json(answer.content)
    assert model.model_dump_json().encode() == answer.content
    assert model.receipt.index == model.index


def test_aggregates_per_item_lot_and_product(client: TestClient) -> None:
    post(client, rating=5, text="Great")
    post(client, rating=3, text="Fine")
    post(
        client, item=SERIAL, rating=1, text="Bag arrived torn open", kind="complaint", title="Torn"
    )
    post(client, kind="suggestion", rating=None, text="Sell a 1 kg bag", title="Bigger bag")
    listed = client.get("/api/v1/reviews", params={"item": LOT}).json()
    lot = listed["aggregates"][f"/{LOT}"]
    assert lot["ratings"] == {"1": 1, "2": 0, "3": 1, "4": 0, "5": 1}
    assert lot["average"] == 3.0
    assert lot["count"] == 4
    assert ["torn", 1] in lot["complaint_terms"] or ["bag", 1] in lot["complaint_terms"]
    assert len(lot["suggestions"]) == 1
    assert listed["aggregates"][f"/01/{GTIN_BAG}"]["count"] == 4
    serial = client.get("/api/v1/reviews", params={"item": SERIAL}).json()
    assert serial["aggregates"][f"/{SERIAL}"]["count"] == 1


def test_the_brand_answers_and_the_author_resolves_a_complaint(
    client: TestClient, settings: Settings
) -> None:
    posted = post(client, kind="complaint", rating=2, text="Stale after a week", title="Stale")
    index = posted["index"]
    assert client.get(f"/api/v1/reviews/{index}").json()["status"] == "open"
    answer = {"type": "review.answer", "review": index, "text": "Sorry: a new bag is on its way."}
    answered = signed(client, "bean-roasters", brand_key(settings), answer)
    assert answered.status_code == 201, answered.text
    shown = client.get(f"/api/v1/reviews/{index}").json()
    assert shown["status"] == "answered"
    assert shown["answers"][0]["by"] == "bean-roasters"
    assert shown["first_answer_ms"] >= 0
    token = {"Authorization": f"Bearer {posted['author_token']}"}
    resolved = client.post(
        f"/api/v1/reviews/{index}/status", json={"status": "resolved"}, headers=token
    )
    assert resolved.status_code == 200, resolved.text
    assert client.get(f"/api/v1/reviews/{index}").json()["status"] == "resolved"
    stranger = client.post(f"/api/v1/reviews/{index}/status", json={"status": "escalated"},
                           headers={"Authorization": "Bearer not-the-author"})  # fmt: skip
    assert stranger.status_code == 401


def test_only_a_brand_or_supplier_answers_and_only_a_review(
    client: TestClient, settings: Settings
) -> None:
    index = post(client)["index"]
    before = size(client)
    by_moderator = signed(client, "mods", moderator(client),
                          {"type": "review.answer", "review": index, "text": "x"})  # fmt: skip
    assert by_moderator.status_code == 403
    not_a_review = signed(client, "bean-roasters", brand_key(settings),
                          {"type": "review.answer", "review": 3, "text": "x"})  # fmt: skip
    assert not_a_review.status_code == 400
    assert size(client) == before + 1  # only the moderator's registration


def test_moderation_hides_with_a_public_reason_and_count(client: TestClient, tmp_path: Path,
                                                          settings: Settings) -> None:  # fmt: skip
    index = post(client, text="Buy cheap watches at example.com")["index"]
    key = moderator(client)
    hidden = signed(client, "mods", key, {"type": "review.hide", "review": index, "reason": "spam"})
    assert hidden.status_code == 201, hidden.text
    shown = client.get(f"/api/v1/reviews/{index}").json()
    assert shown["hidden"] == "spam"
    assert shown["hidden_by"] == "mods"
    assert shown["text"] is None
    assert shown["content"] is None
    assert (
        client.get("/api/v1/reviews", params={"item": LOT}).json()["aggregates"][f"/{LOT}"][
            "hidden"
        ]
        == 1
    )
    wrong = signed(
        client, "mods", key, {"type": "review.hide", "review": index, "reason": "dislike"}
    )
    assert wrong.status_code == 400
    brand_hides = signed(client, "bean-roasters", brand_key(settings),
                         {"type": "review.hide", "review": index, "reason": "spam"})  # fmt: skip
    assert brand_hides.status_code == 403  # a brand cannot make a review disappear
    assert verify(settings) == 0


def verify(settings: Settings) -> int:
    return main(["--database", settings.database_url, "--keys-dir", str(settings.keys_dir),
                 "verify", "--quiet", "--workers", "1"])  # fmt: skip


def test_erasure_keeps_the_commitment_and_the_log_verifies(
    client: TestClient, settings: Settings
) -> None:
    posted = post(client, text="My phone is 555-0100, call me", contact="ana@example.org")
    index = posted["index"]
    commitment = client.get(f"/api/v1/statements/{index}").json()["statement"]["commitment"]
    erased = client.post(f"/api/v1/reviews/{index}/erasure", json={},
                         headers={"Authorization": f"Bearer {posted['author_token']}"})  # fmt: skip
    assert erased.status_code == 200, erased.text
    shown = client.get(f"/api/v1/reviews/{index}").json()
    assert shown["erased"] == "author-request"
    assert shown["text"] is None
    assert shown["salt"] is None
    assert client.get(f"/api/v1/statements/{index}").json()["statement"]["commitment"] == commitment
    again = client.post(f"/api/v1/reviews/{index}/erasure", json={"reason": "legal"}, headers=ADMIN)
    assert again.status_code == 409
    assert verify(settings) == 0


def test_a_legal_erasure_is_the_operators(client: TestClient) -> None:
    posted = post(client)
    token = {"Authorization": f"Bearer {posted['author_token']}"}
    index = posted["index"]
    assert (
        client.post(
            f"/api/v1/reviews/{index}/erasure", json={"reason": "legal"}, headers=token
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"/api/v1/reviews/{index}/erasure", json={"reason": "legal"}, headers=ADMIN
        ).status_code
        == 200
    )
    assert client.post("/api/v1/reviews/1/erasure", json={}, headers=ADMIN).status_code == 404


def test_a_holder_code_marks_a_verified_holder_once(client: TestClient) -> None:
    added = client.post("/api/v1/holder-codes", json={"item": SERIAL, "codes": ["K7Q-2MX9", "ZZZ-0000"]},
                        headers=ADMIN)  # fmt: skip
    assert added.json() == {"item": f"/{SERIAL}", "added": 2}
    first = post(client, item=SERIAL, holder_code="k7q2mx9", text="Mine, from the shop")
    assert client.get(f"/api/v1/reviews/{first['index']}").json()["holder"] is True
    before = size(client)
    reused = client.post(
        "/api/v1/reviews", json=review(item=SERIAL, holder_code="K7Q-2MX9", text="Again")
    )
    assert reused.status_code == 409
    assert "already used" in reused.json()["detail"]
    elsewhere = client.post(
        "/api/v1/reviews", json=review(item=f"{LOT}/21/999", holder_code="ZZZ-0000")
    )
    assert elsewhere.status_code == 400
    assert size(client) == before
    assert (
        client.post("/api/v1/holder-codes", json={"item": SERIAL, "codes": ["x"]}).status_code
        == 401
    )


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"text": "x" * 4001}, 422),
        ({"title": ""}, 422),
        ({"rating": 6}, 422),
        ({"kind": "rant"}, 422),
        ({"rating": None}, 400),  # an experience needs its stars
        ({"item": f"01/{GTIN_BAG}/10/NEVER-MADE"}, 404),
        ({"item": "01/12345/10/X"}, 400),
        ({"text": "Bell \x07 in the text"}, 400),
    ],
)
def test_bad_reviews_are_refused_and_append_nothing(
    client: TestClient, fields: dict[str, Any], status: int
) -> None:
    before = size(client)
    response = client.post("/api/v1/reviews", json=review(**fields))
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert size(client) == before


def test_an_oversized_body_is_refused(client: TestClient) -> None:
    before = size(client)
    response = client.post("/api/v1/reviews", content=b'{"text": "' + b"x" * 2_000_000 + b'"}',
                           headers={"Content-Type": "application/json"})  # fmt: skip
    assert response.status_code == 413
    assert size(client) == before


def test_a_duplicate_review_is_refused(client: TestClient) -> None:
    post(client, text="Exactly this text.")
    before = size(client)
    again = client.post("/api/v1/reviews", json=review(text="exactly   THIS text!"))
    assert again.status_code == 409
    assert size(client) == before


def test_script_in_a_review_is_stored_as_text(client: TestClient) -> None:
    evil = '<script>alert("x")</script>'
    index = post(client, text=evil, title=evil, name=evil)["index"]
    assert client.get(f"/api/v1/reviews/{index}").json()["text"] == evil


def test_rate_limits_answer_429_with_retry_after(db_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=db_url, keys_dir=tmp_path / "keys", demo=True,
                        review_burst_per_client=2, reviews_per_minute_per_client=1,
                        review_burst_per_item=1000)  # fmt: skip
    with TestClient(create_app(settings)) as client:
        post(client, text="one")
        post(client, text="two")
        before = size(client)
        third = client.post("/api/v1/reviews", json=review(text="three"))
        assert third.status_code == 429
        assert int(third.headers["retry-after"]) >= 1
        assert "from your address" in third.json()["detail"]
        assert size(client) == before
    settings = Settings(database_url=db_url, keys_dir=tmp_path / "keys", demo=True,
                        review_burst_per_client=1000, review_burst_per_item=1,
                        reviews_per_minute_per_item=1)  # fmt: skip
    with TestClient(create_app(settings)) as client:
        post(client, item=SERIAL, text="first about this serial")
        limited = client.post("/api/v1/reviews", json=review(item=SERIAL, text="second"))
        assert limited.status_code == 429
        assert "about this item" in limited.json()["detail"]


def test_the_form_needs_its_csrf_token_and_an_empty_honeypot(
    client: TestClient, settings: Settings
) -> None:
    token = csrf_token(settings.secret_key, LOT)
    form = {"item": LOT, "kind": "experience", "rating": "5", "title": "Lovely",
            "text": "Would buy again", "csrf": token, "website": ""}  # fmt: skip
    before = size(client)
    forged = client.post(
        "/reviews/form", data={**form, "csrf": "1.deadbeef"}, follow_redirects=False
    )
    assert forged.status_code == 403
    cross = client.post("/reviews/form", data=form, headers={"Origin": "https://evil.example"},
                        follow_redirects=False)  # fmt: skip
    assert cross.status_code == 403
    bot = client.post(
        "/reviews/form", data={**form, "website": "http://spam"}, follow_redirects=False
    )
    assert bot.status_code == 400
    assert size(client) == before
    ok = client.post("/reviews/form", data=form, follow_redirects=False)
    assert ok.status_code == 303, ok.text
    assert ok.headers["location"].startswith(f"/{LOT}?posted=")
    assert size(client) == before + 1


def test_party_pages_show_response_times_and_hidden_counts(
    client: TestClient, settings: Settings
) -> None:
    complaint = post(client, kind="complaint", rating=1, title="Late", text="Arrived a week late")
    post(client, kind="complaint", rating=2, title="Dusty", text="Beans dusty")
    answer = {"type": "review.answer", "review": complaint["index"], "text": "We are sorry."}
    assert signed(client, "bean-roasters", brand_key(settings), answer).status_code == 201
    brand = client.get("/parties/bean-roasters", params={"format": "json"}).json()
    assert brand["complaints"]["about_its_items"] == 2
    assert brand["complaints"]["answered"] == 1
    assert brand["complaints"]["median_wait_ms"] >= 0
    key = moderator(client)
    spam = post(client, text="Cheap pills here")["index"]
    assert (
        signed(
            client, "mods", key, {"type": "review.hide", "review": spam, "reason": "spam"}
        ).status_code
        == 201
    )
    assert client.get("/parties/mods", params={"format": "json"}).json()["reviews_hidden"] == 1
    page = client.get("/parties/mods", headers={"Accept": "text/html"}).text
    assert "Reviews hidden by this moderator: 1" in page
