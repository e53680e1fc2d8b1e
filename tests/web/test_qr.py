"""QR codes of items: every PNG and SVG decodes, with a real decoder, to exactly the item's URL
under the configured base URL; the symbol is the one the ``qrcode`` package makes; responses are
cacheable, revalidate with their ETag, answer HEAD, and refuse a malformed path with a problem.
"""

from __future__ import annotations

import hashlib
import random
import string
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from xml.etree import ElementTree

import pytest
import qrcode
from fastapi.testclient import TestClient
from PIL import Image
from playwright.sync_api import Browser
from qr_reading import decode, decode_png, decode_svg, svg_modules

from api.app import create_app
from api.demo import GTIN_BAG
from api.settings import Settings
from live_fixtures import LiveService
from web.qr import ERROR_CORRECTION, QUIET_ZONE, item_url, modules, render

BASE = "https://provenance.example.org"
SVG = "{http://www.w3.org/2000/svg}"

# (path asked for, canonical path the code must hold)
CASES = {
    "gtin": (f"01/{GTIN_BAG}", f"01/{GTIN_BAG}"),
    "lot": (f"01/{GTIN_BAG}/10/R-2026-112", f"01/{GTIN_BAG}/10/R-2026-112"),
    "serial": (f"01/{GTIN_BAG}/10/R-2026-112/21/000001", f"01/{GTIN_BAG}/10/R-2026-112/21/000001"),
    "slash in lot": (f"01/{GTIN_BAG}/10/A%2FB/21/7", f"01/{GTIN_BAG}/10/A%2FB/21/7"),
    "percent in lot": (f"01/{GTIN_BAG}/10/100%25", f"01/{GTIN_BAG}/10/100%25"),
    "all of CSET 82's punctuation": (
        f"01/{GTIN_BAG}/10/%21%22%25%26%27%28%29%2A%2B%2C-.%2F%3A%3B%3C%3D%3E%3F_",
        f"01/{GTIN_BAG}/10/%21%22%25%26%27%28%29%2A%2B%2C-.%2F%3A%3B%3C%3D%3E%3F_",
    ),
    "non-canonical escapes": (f"01/{GTIN_BAG}/10/a%2fb%2D1", f"01/{GTIN_BAG}/10/a%2Fb-1"),
    "product variant": (f"01/{GTIN_BAG}/22/V2/10/L1", f"01/{GTIN_BAG}/22/V2/10/L1"),
    "unrecorded product": ("01/04006381333931/21/ABC", "01/04006381333931/21/ABC"),
    "location": ("414/9506000134376", "414/9506000134376"),
}
MALFORMED = {
    "check digit": f"01/{GTIN_BAG[:-1]}7",
    "qualifiers out of order": f"01/{GTIN_BAG}/21/7/10/X",
    "space in lot": f"01/{GTIN_BAG}/10/A%20B",
    "no primary key": "10/R-2026-112",
    "segments before the key": f"shop/01/{GTIN_BAG}",
    "empty lot": f"01/{GTIN_BAG}/10/",
    "short GTIN": "01/12345",
    "unknown AI": f"01/{GTIN_BAG}/99999/X",
}


def make_client(tmp_path: Path, base_url: str, *, demo: bool) -> TestClient:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/qr.db",
        keys_dir=tmp_path / "keys",
        demo=demo,
        base_url=base_url,
    )
    return TestClient(create_app(settings))


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with make_client(tmp_path_factory.mktemp("qr"), BASE, demo=True) as test_client:
        yield test_client


@pytest.mark.parametrize(("path", "canonical"), CASES.values(), ids=CASES.keys())
def test_png_decodes_to_exactly_the_items_url(
    client: TestClient, path: str, canonical: str
) -> None:
    response = client.get(f"/qr/png/{path}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert decode_png(response.content) == f"{BASE}/{canonical}"


@pytest.mark.parametrize(("path", "canonical"), CASES.values(), ids=CASES.keys())
def test_svg_draws_the_same_symbol_and_decodes(
    client: TestClient, path: str, canonical: str
) -> None:
    response = client.get(f"/qr/svg/{path}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/svg+xml"
    svg = response.text
    assert svg_modules(svg) == modules(f"{BASE}/{canonical}")
    assert decode_svg(svg) == f"{BASE}/{canonical}"


def test_svg_is_sized_and_holds_nothing_but_two_paths(client: TestClient) -> None:
    response = client.get(f"/qr/svg/01/{GTIN_BAG}/10/R-2026-112?size=300")
    count = len(modules(f"{BASE}/01/{GTIN_BAG}/10/R-2026-112"))
    root = ElementTree.fromstring(response.text)
    assert root.tag == f"{SVG}svg"
    assert root.attrib == {
        "width": "300",
        "height": "300",
        "viewBox": f"0 0 {count} {count}",
        "shape-rendering": "crispEdges",
        "role": "img",
        "aria-label": f"{BASE}/01/{GTIN_BAG}/10/R-2026-112",
    }
    # No script, no style, no link: it can be inlined under the pages' strict CSP.
    assert [(child.tag, sorted(child.attrib)) for child in root] == [
        (f"{SVG}path", ["d", "fill"]),
        (f"{SVG}path", ["d", "fill", "stroke"]),
    ]
    assert response.headers["content-security-policy"] == "default-src 'none'"


def test_symbol_is_the_one_qrcode_makes() -> None:
    # Lengths 18 to 270 reach versions 2 to 13 (version information appears from 7), and each of
    # the eight masks is the best for some of these texts.
    generator = random.Random(18004)
    alphabet = string.ascii_letters + string.digits + "-._~%/:"
    texts = [f"{BASE}/{path}" for _, path in CASES.values()]
    texts += [
        "https://x.example/" + "".join(generator.choices(alphabet, k=length))
        for length in range(0, 253, 6)
    ]
    versions = set()
    for text in texts:
        symbol = qrcode.QRCode(error_correction=ERROR_CORRECTION, border=QUIET_ZONE)
        symbol.add_data(text)
        symbol.make()
        versions.add(symbol.version)
        expected = tuple("".join("1" if m else "0" for m in row) for row in symbol.get_matrix())
        assert modules(text) == expected, text
    assert versions >= set(range(2, 14))


def test_level_q_and_a_quiet_zone_of_four_modules(client: TestClient) -> None:
    url = f"{BASE}/01/{GTIN_BAG}/10/R-2026-112"
    count = len(modules(url))
    scale = 512 // count
    image = Image.open(BytesIO(client.get(f"/qr/png/01/{GTIN_BAG}/10/R-2026-112").content))
    assert image.size == (512, 512)
    assert decode(image).ec_level == "Q"
    # Light all round, at least four modules deep, and the finder pattern starts right after.
    margin = (512 - count * scale) // 2 + QUIET_ZONE * scale
    gray = image.convert("L")
    for band in (
        (0, 0, 512, margin),
        (0, 512 - margin, 512, 512),
        (0, 0, margin, 512),
        (512 - margin, 0, 512, 512),
    ):
        assert gray.crop(band).getextrema() == (255, 255)
    assert gray.getpixel((margin, margin)) == 0


@pytest.mark.parametrize("size", [64, 100, 333, 2048])
def test_png_size_is_the_side_in_pixels(client: TestClient, size: int) -> None:
    response = client.get(f"/qr/png/01/{GTIN_BAG}/10/R-2026-112/21/000001?size={size}")
    image = Image.open(BytesIO(response.content))
    assert image.size == (size, size)
    assert image.mode == "1"
    assert decode(image).text == f"{BASE}/01/{GTIN_BAG}/10/R-2026-112/21/000001"


def test_a_long_url_at_the_smallest_size_keeps_one_pixel_a_module(client: TestClient) -> None:
    path = CASES["all of CSET 82's punctuation"][1] + "/21/" + "%21" * 20
    count = len(modules(f"{BASE}/{path}"))
    assert count > 64
    image = Image.open(BytesIO(client.get(f"/qr/png/{path}?size=64").content))
    assert image.size == (count, count)
    assert decode(image).text == f"{BASE}/{path}"


@pytest.mark.parametrize("size", ["63", "2049", "big", "1e3", "-100", "9" * 5000])
def test_size_out_of_bounds_is_refused(client: TestClient, size: str) -> None:
    response = client.get(f"/qr/png/01/{GTIN_BAG}?size={size}")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_caching_headers_and_a_strong_etag(client: TestClient) -> None:
    for kind in ("png", "svg"):
        response = client.get(f"/qr/{kind}/01/{GTIN_BAG}")
        assert response.headers["cache-control"] == "public, max-age=86400"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["etag"] == f'"{hashlib.sha256(response.content).hexdigest()}"'


@pytest.mark.parametrize("if_none_match", ["{etag}", "W/{etag}", '"other", {etag}', "*"], ids=str)
def test_a_matching_if_none_match_is_answered_304(client: TestClient, if_none_match: str) -> None:
    path = f"/qr/png/01/{GTIN_BAG}/10/R-2026-112"
    etag = client.get(path).headers["etag"]
    response = client.get(path, headers={"If-None-Match": if_none_match.format(etag=etag)})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag
    assert response.headers["cache-control"] == "public, max-age=86400"


def test_another_etag_gets_the_image(client: TestClient) -> None:
    path = f"/qr/png/01/{GTIN_BAG}/10/R-2026-112"
    response = client.get(path, headers={"If-None-Match": '"not-it"'})
    assert response.status_code == 200
    assert decode_png(response.content) == f"{BASE}/01/{GTIN_BAG}/10/R-2026-112"
    assert client.get(path + "?size=256").headers["etag"] != response.headers["etag"]


@pytest.mark.parametrize("kind", ["png", "svg"])
def test_head_answers_the_headers_of_get(client: TestClient, kind: str) -> None:
    path = f"/qr/{kind}/01/{GTIN_BAG}/10/R-2026-112"
    got, head = client.get(path), client.head(path)
    assert head.status_code == 200
    assert head.content == b""
    for name in ("etag", "content-type", "content-length", "cache-control"):
        assert head.headers[name] == got.headers[name]


@pytest.mark.parametrize("kind", ["png", "svg"])
@pytest.mark.parametrize("path", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_path_is_a_400_problem(client: TestClient, kind: str, path: str) -> None:
    response = client.get(f"/qr/{kind}/{path}")
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 400
    assert problem["detail"]


def test_the_base_url_setting_is_the_codes_stem(tmp_path: Path) -> None:
    with make_client(tmp_path, "https://labels.example.org/dl/", demo=False) as other:
        response = other.get(f"/qr/png/01/{GTIN_BAG}/10/A%2FB")
    assert decode_png(response.content) == f"https://labels.example.org/dl/01/{GTIN_BAG}/10/A%2FB"


def test_a_repeat_render_is_a_cache_hit(client: TestClient) -> None:
    path = f"01/{GTIN_BAG}/10/CACHE-1"
    client.get(f"/qr/png/{path}")
    before = render.cache_info().hits
    client.get(f"/qr/png/{path}")
    assert render.cache_info().hits == before + 1
    url = item_url(BASE, path)
    assert render(url, "png") is render(url, "png")


def test_chromium_renders_the_svg_to_a_code_that_decodes(
    live_demo: LiveService, browser: Browser
) -> None:
    path = CASES["all of CSET 82's punctuation"][1]
    page = browser.new_page(viewport={"width": 600, "height": 600})
    try:
        response = page.goto(f"{live_demo.base}/qr/svg/{path}?size=400")
        assert response is not None
        assert response.status == 200
        shot = page.locator("svg").screenshot()
    finally:
        page.close()
    assert decode_png(shot) == f"{live_demo.base}/{path}"
