"""The public pages over HTTP: the item page at lot and serial level, the party, log, recall and
front pages, their JSON twins, languages, caching, security headers and escaping.

The service runs with the demo supply chain (coffee from a farm in Huila to a roaster's bags, with
a certification, a withdrawn one, footprint figures and a recall) on a real SQLite file; pages that
read the database are checked on PostgreSQL too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, tzinfo
from html import unescape
from pathlib import Path

import pytest
from fastapi import Response
from fastapi.testclient import TestClient

from api.app import create_app
from api.demo import GTIN_BAG
from api.settings import Settings
from factories import b64key
from provenance.keys import generate_private_key
from provenance.statements import sign_statement
from web.i18n import catalogs
from web.routes import pages
from web.templating import CONTENT_SECURITY_POLICY

ADMIN = {"Authorization": "Bearer pages-admin"}
LOT = f"/01/{GTIN_BAG}/10/R-2026-112"
RECALLED = f"/01/{GTIN_BAG}/10/R-2026-113"
HTML = {"Accept": "text/html,application/xhtml+xml"}


@pytest.fixture
def client(db_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        database_url=db_url, keys_dir=tmp_path / "keys", admin_token="pages-admin", demo=True
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def text_of(page: str) -> str:
    """The page's visible text, roughly: tags dropped, entities decoded, whitespace collapsed."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", page)))


def test_lot_page_tells_the_story_from_origin_to_shelf(client: TestClient) -> None:
    response = client.get(LOT, headers=HTML)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = text_of(response.text)
    for expected in [
        "Huila Washed, whole bean coffee",  # the product, from the brand's product statement
        "Bean & Co.",
        "Finca La Esperanza",  # origin: producer and place
        "Hand-picked ripe cherries",
        "2026-07-14",
        "Washed, fermented 36 h",  # a transformation with its inputs
        "Fairtrade Coffee",  # certification with issuer and validity
        "FairCert Audits",
        "2026-01-01 – 2027-12-31",
        "Shade-grown under native trees",  # benefits and risks
        "Contains caffeine",
        "ISO 14067",  # footprint with method
    ]:
        assert expected in page, expected
    assert page.index("Harvested") < page.index("Processed") < page.index("Received")
    assert "No recall reaches this item" in page  # the recall status is always stated


def test_footprint_total_rolls_up_the_green_coffee_share(client: TestClient) -> None:
    twin = client.get(LOT, params={"format": "json"}).json()
    footprint = twin["footprint"]
    share = 240 / 780  # kg of green coffee per bag: 240 kg roasted into 780 bags
    assert footprint["unit"] == "bag"
    assert footprint["total"]["kg_co2e"] == pytest.approx(0.42 + 3.1 * share)
    page = text_of(client.get(LOT, headers=HTML).text)
    assert "1.374" in page  # the rolled-up kg CO2e per bag, shown


def test_withdrawn_certification_is_marked_withdrawn(client: TestClient) -> None:
    twin = client.get(LOT, params={"format": "json"}).json()
    states = {c["covers"]: c["state"] for c in twin["certifications"]}
    assert states == {"finca-la-esperanza": "valid", "beneficio-huila": "withdrawn"}
    assert "withdrawn" in text_of(client.get(LOT, headers=HTML).text)


def test_a_certificate_expires_on_the_page_without_anything_appended(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages are cached per log size, but validity is judged against today: the day after a
    certificate's valid_until, the same log must read "expired", under a new ETag."""
    before = client.get(LOT, params={"format": "json"})
    assert {c["state"] for c in before.json()["certifications"]} == {"valid", "withdrawn"}

    class Later(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> Later:
            return cls(2028, 1, 1, tzinfo=tz)

    monkeypatch.setattr(pages, "datetime", Later)
    after = client.get(LOT, params={"format": "json"})
    states = {c["covers"]: c["state"] for c in after.json()["certifications"]}
    assert states == {"finca-la-esperanza": "expired", "beneficio-huila": "withdrawn"}
    assert after.headers["etag"] != before.headers["etag"]
    stale = client.get(LOT, params={"format": "json"},
                       headers={"If-None-Match": before.headers["etag"]})  # fmt: skip
    assert stale.status_code == 200, "yesterday's ETag must not get a 304"


def test_a_recalled_lot_and_its_serials_carry_a_banner(client: TestClient) -> None:
    for path in (RECALLED, RECALLED + "/21/000017"):
        response = client.get(path, headers=HTML)
        assert response.status_code == 200
        banner = re.search(r'<section class="banner alert" role="alert" id="recall">(.*?)</section>',
                           response.text, re.S)  # fmt: skip
        assert banner, path
        assert "Seal defect" in banner.group(1)


def test_every_claim_carries_its_signer_time_and_a_link_to_its_proof(client: TestClient) -> None:
    response = client.get(LOT, headers=HTML)
    twin = client.get(LOT, params={"format": "json"}).json()
    shown = {int(i) for i in re.findall(r'data-claim="(\d+)"', response.text)}
    assert shown == {int(i) for i in twin["claims"]}
    for index in shown:
        assert f'href="/api/v1/log/entries/{index}"' in response.text, index
    evidence = re.search(
        r'<script type="application/json" id="evidence">(.*?)</script>', response.text, re.S
    )
    assert evidence is not None
    bundle = json.loads(evidence.group(1))
    assert sorted(c["index"] for c in bundle["claims"]) == sorted(shown)


def test_pages_send_a_strict_csp_and_no_inline_script(client: TestClient) -> None:
    for path in (LOT, "/parties/bean-roasters", "/log", "/recalls", "/"):
        response = client.get(path, headers=HTML)
        assert response.status_code == 200, path
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "script-src 'self'" in CONTENT_SECURITY_POLICY
        assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
        assert response.headers["x-content-type-options"] == "nosniff"
        for script in re.findall(r"<script([^>]*)>(.*?)</script>", response.text, re.S):
            attributes, body = script
            assert 'type="application/json"' in attributes or (
                "src=" in attributes and not body.strip()
            ), script
        assert " style=" not in response.text
        assert "<style" not in response.text
        assert not re.search(r"\son[a-z]+=", response.text)  # no inline event handlers


def test_no_request_leaves_the_host(client: TestClient) -> None:
    page = client.get(LOT, headers=HTML).text
    for url in re.findall(r'(?:src|href)="([^"]+)"', page):
        if url.startswith(("http://", "https://", "//")):
            assert url.startswith("http://127.0.0.1:8000/"), url  # only links to itself
    for url in re.findall(r'src="([^"]+)"', page):
        assert url.startswith("/"), url


def test_page_weight_stays_under_100_kb(client: TestClient) -> None:
    page = client.get(LOT, headers=HTML)
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
    total = len(page.content) + sum(len(client.get(a).content) for a in assets)
    assert {a.split("?")[0] for a in assets} == {
        "/static/app.css",
        "/static/verify.js",
        "/static/live.js",
        "/static/reviews.js",
    }
    assert total < 100 * 1024, total


def test_repeat_views_get_304_until_the_log_grows(client: TestClient) -> None:
    first = client.get(LOT, headers=HTML)
    etag = first.headers["etag"]
    again = client.get(LOT, headers={**HTML, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    key = generate_private_key()
    newcomer = {"id": "newcomer", "role": "supplier", "name": "N", "keys": [b64key(key)]}
    assert client.post("/api/v1/parties", headers=ADMIN, json=newcomer).status_code == 201
    grown = client.get(LOT, headers={**HTML, "If-None-Match": etag})
    assert grown.status_code == 200
    assert grown.headers["etag"] != etag


def test_language_follows_accept_language_and_the_switch(client: TestClient) -> None:
    spanish = client.get(LOT, headers={**HTML, "Accept-Language": "es-CO,es;q=0.9,en;q=0.5"})
    assert spanish.headers["content-language"] == "es"
    assert '<html lang="es">' in spanish.text
    assert "Del origen a la tienda" in spanish.text
    switched = client.get(LOT, params={"lang": "en"}, headers={**HTML, "Accept-Language": "es"})
    assert switched.headers["content-language"] == "en"
    assert "From origin to shelf" in switched.text
    assert 'hreflang="es"' in switched.text  # the visible switch
    unknown = client.get(LOT, headers={**HTML, "Accept-Language": "tlh, fr;q=0.1"})
    assert unknown.headers["content-language"] == "en"


def test_every_catalog_has_every_message() -> None:
    english = set(catalogs()["en"])
    for language, catalog in catalogs().items():
        assert set(catalog) == english, language
        assert all(value.strip() for value in catalog.values()), language


def test_twins_answer_json_for_each_page(client: TestClient) -> None:
    for path in (LOT, "/parties/finca-la-esperanza", "/log", "/recalls"):
        response = client.get(path, headers={"Accept": "application/json"})
        assert response.status_code == 200, path
        assert response.headers["content-type"] == "application/json"
        assert "vary" in response.headers
    party = client.get("/parties/finca-la-esperanza?format=json").json()
    assert party["party"]["name"] == "Finca La Esperanza"
    assert [c["statement"]["standard"] for c in party["certifications"]] == ["Fairtrade Coffee"]
    recalls = client.get("/recalls?format=json").json()["recalls"]
    assert [r["item_paths"] for r in recalls] == [[RECALLED]]


def test_party_page_shows_status_keys_and_history(client: TestClient) -> None:
    client.post("/api/v1/parties/andes-export/suspension", headers=ADMIN,
                json={"reason": "shipped undeclared goods"})  # fmt: skip
    page = text_of(client.get("/parties/andes-export", headers=HTML).text)
    assert "Andes Export S.A.S. is suspended from the network" in page
    assert "shipped undeclared goods" in page
    assert "Signing keys" in page
    lot_page = text_of(client.get(LOT, headers=HTML).text)
    assert "Andes Export S.A.S. is suspended from the network" in lot_page
    assert "shipped undeclared goods" in lot_page


def test_log_page_shows_the_checkpoint_and_how_to_verify(client: TestClient) -> None:
    page = client.get("/log", headers=HTML).text
    checkpoint = client.get("/checkpoint").text
    assert checkpoint.split("\n")[0] in page
    assert "provenance verify" in page
    assert client.get("/api/v1/log/key").text.strip().split("+")[0] in page


def test_front_page_for_browsers_json_for_machines(client: TestClient) -> None:
    page = client.get("/", headers=HTML)
    assert page.headers["content-type"].startswith("text/html")
    assert "Huila Washed, whole bean coffee" in page.text
    assert LOT in page.text
    assert client.get("/").json()["size"] > 1


def test_errors_are_readable_pages_for_people_and_never_200(client: TestClient) -> None:
    missing = client.get("/parties/nobody", headers=HTML)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "no party" in missing.text
    assert "content-security-policy" in missing.headers
    unknown_item = client.get(f"/01/{GTIN_BAG}/10/NEVER-MADE", headers=HTML)
    assert unknown_item.status_code == 404
    malformed = client.get(f"/01/{GTIN_BAG[:-1]}0/10/X", headers=HTML)  # wrong check digit
    assert malformed.status_code == 400
    assert malformed.headers["content-type"].startswith("text/html")
    assert "check digit" in malformed.text
    as_api = client.get("/parties/nobody", headers={"Accept": "application/json"})
    assert as_api.status_code == 404
    assert as_api.headers["content-type"] == "application/problem+json"


def test_whatever_suppliers_write_is_shown_as_text(client: TestClient) -> None:
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    key = generate_private_key()
    registered = client.post("/api/v1/parties", headers=ADMIN, json={
        "id": "evil-farm", "role": "supplier", "name": evil, "country": "CO",
        "keys": [b64key(key)],
    })  # fmt: skip
    assert registered.status_code == 201, registered.text
    lot = "<b>'\"&x</b>"  # GS1 AI 10 allows < > ' " & in a lot number
    uri = f"https://id.gs1.org/01/{GTIN_BAG}/10/%3Cb%3E'%22%26x%3C%2Fb%3E"
    statement = {"by": "evil-farm", "type": "origin", "items": [uri],
                 "place": {"country": "CO", "region": evil}, "producer": evil,
                 "date": "2026-07-01", "method": evil}  # fmt: skip
    posted = client.post("/api/v1/statements", content=sign_statement(statement, [key]))
    assert posted.status_code == 201, posted.text
    path = f"/01/{GTIN_BAG}/10/%3Cb%3E'%22%26x%3C%2Fb%3E"
    page = client.get(path, headers=HTML)
    assert page.status_code == 200
    assert "<script>alert" not in page.text
    assert "<img src=x" not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
    assert "<b>'" not in page.text
    assert "&lt;b&gt;" in page.text
    assert lot in text_of(page.text)
    party = client.get("/parties/evil-farm", headers=HTML).text
    assert "<script>alert" not in party
    assert "&lt;script&gt;" in party


def test_pages_are_forgotten_when_the_log_is_smaller_than_seen() -> None:
    # A restored backup or a lagging replica is not the log the pages were built from.
    cache = pages.PageCache()
    built = pages.CachedPage.of(Response(b"page at 9", media_type="text/html"))
    cache.at_size(9)
    cache.put(("/01/x", 9, "en", False, "2026-11-22"), built)
    cache.at_size(10)
    assert cache.get(("/01/x", 9, "en", False, "2026-11-22")) is built, "a growing log keeps them"
    cache.at_size(4)
    assert cache.get(("/01/x", 9, "en", False, "2026-11-22")) is None
