"""Compressed Digital Link URIs at the resolver (GS1-Conformant Resolver standard: "SHALL be able
to decompress a URI ... and expose the uncompressed URI in the Link response header with a rel
value of owl:sameAs"): a compressed URI is answered exactly as its uncompressed form is.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.demo import GTIN_BAG
from api.settings import Settings
from provenance.gs1.compression import compress_digital_link, starts_with_primary_key

BASE = "http://127.0.0.1:8000"
LOT = f"/01/{GTIN_BAG}/10/R-2026-112"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    directory = tmp_path_factory.mktemp("compressed")
    settings = Settings(database_url=f"sqlite:///{directory / 'x.db'}", keys_dir=directory / "keys",
                        demo=True, base_url=BASE)  # fmt: skip
    with TestClient(create_app(settings), base_url=BASE) as test_client:
        yield test_client


def compressed_path(uri: str) -> str:
    return urlsplit(compress_digital_link(uri)).path


def test_a_compressed_uri_gets_the_page_and_names_its_uncompressed_form(client: TestClient) -> None:
    path = compressed_path(BASE + LOT)
    assert path.count("/") == 1
    response = client.get(path, headers={"Accept": "text/html"}, follow_redirects=False)
    assert response.status_code == 200
    assert "Huila Washed" in response.text
    assert f'<{BASE}{LOT}>; rel="owl:sameAs"' in response.headers["link"]
    assert 'rel="linkset"' in response.headers["link"]


def test_a_compressed_uri_gives_the_same_linkset(client: TestClient) -> None:
    path = compressed_path(BASE + LOT)
    compressed = client.get(path, params={"linkType": "linkset"}).json()
    plain = client.get(LOT, params={"linkType": "linkset"}).json()
    assert compressed == plain


def test_a_compressed_uri_redirects_to_a_requested_link_type(client: TestClient) -> None:
    path = compressed_path(BASE + LOT)
    response = client.get(path, params={"linkType": "gs1:traceability", "src": "qr"},
                          follow_redirects=False)  # fmt: skip
    assert response.status_code == 307
    assert response.headers["location"].startswith(f"{BASE}/api/v1/items{LOT}/lineage")
    assert "src=qr" in response.headers["location"]


def test_an_unknown_compressed_item_is_404(client: TestClient) -> None:
    path = compressed_path(f"{BASE}/01/{GTIN_BAG}/10/NEVER-MADE")
    assert client.get(path).status_code == 404


def test_one_segment_pages_keep_their_paths(client: TestClient) -> None:
    for path in ("/log", "/recalls", "/checkpoint"):
        assert client.get(path, headers={"Accept": "text/html"}).status_code == 200, path
    assert client.get("/no-such-page").status_code == 404


def test_a_compressed_uri_that_does_not_decode_is_400(client: TestClient) -> None:
    path = compressed_path(BASE + LOT)
    broken = client.get(path[:-3], headers={"Accept": "application/json"})
    assert broken.status_code == 400
    assert broken.headers["content-type"] == "application/problem+json"
    assert "compressed" in broken.json()["detail"] or "compressed" in broken.json()["type"]


def test_a_compressed_uri_whose_qualifier_comes_first_is_resolved(client: TestClient) -> None:
    # GS1's toolkit sorts AIs by number when it compresses: 254 (a GLN extension) precedes 414.
    path = compressed_path(f"{BASE}/414/9520123456788/254/32a")
    assert path.count("/") == 1
    assert not starts_with_primary_key(path[1:]), "the case this test is about"
    answer = client.get(path, headers={"Accept": "application/json"})
    assert answer.status_code == 404
    assert "nothing is recorded about /414/9520123456788" in answer.json()["detail"]
