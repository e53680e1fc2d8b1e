"""Label sheets: one label per serial of a lot, each with a code that decodes to exactly that
serial's URL, its GS1 human-readable text and the URL; A4 sheets of 21; escaped text, the strict
page headers, a JSON twin, and a 400 problem for every request a packaging line should not print.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, ConsoleMessage, expect
from qr_reading import decode_png, decode_svg

from api.app import create_app
from api.demo import GTIN_BAG
from api.settings import Settings
from live_fixtures import ARTIFACTS, LiveService
from web.routes.qr import LABELS_PER_SHEET, MAX_LABELS
from web.static_files import static_url
from web.templating import CONTENT_SECURITY_POLICY

BASE = "https://labels.example.org"
LOT = f"01/{GTIN_BAG}/10/R-2026-112"
HTML = {"Accept": "text/html"}
LABEL = re.compile(r'<article class="label">(.*?)</article>', re.DOTALL)
SVG = re.compile(r"<svg .*?</svg>", re.DOTALL)
HRI = re.compile(r'<p class="hri">(.*?)</p>', re.DOTALL)
URL = re.compile(r'<p class="url">(.*?)</p>')


def text_of(markup: str) -> str:
    return unescape(re.sub(r"<[^>]+>", "", markup))


def read_labels(html: str) -> list[tuple[str, str, str]]:
    """(code's text, human-readable text, printed URL) of each label on a sheet, in order."""
    found = []
    for label in LABEL.findall(html):
        (svg,) = SVG.findall(label)
        (hri,) = HRI.findall(label)
        (url,) = URL.findall(label)
        found.append((decode_svg(svg), text_of(hri), text_of(url)))
    return found


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    directory = tmp_path_factory.mktemp("labels")
    settings = Settings(
        database_url=f"sqlite:///{directory}/labels.db",
        keys_dir=directory / "keys",
        demo=True,
        base_url=BASE,
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_a_range_makes_one_label_per_serial_on_sheets_of_21(client: TestClient) -> None:
    response = client.get(f"/labels/{LOT}?from=1&count=24&width=6", headers=HTML)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    labels = read_labels(response.text)
    assert len(labels) == 24
    for number, (code, hri, url) in enumerate(labels, start=1):
        serial = f"{number:06d}"
        assert code == f"{BASE}/{LOT}/21/{serial}"
        assert hri == f"(01) {GTIN_BAG} (10) R-2026-112 (21) {serial}"
        assert url == code
    sheets = response.text.split('<section class="sheet"')[1:]
    assert [len(LABEL.findall(sheet)) for sheet in sheets] == [LABELS_PER_SHEET, 3]


def test_a_serial_list_keeps_its_order(client: TestClient) -> None:
    response = client.get(f"/labels/{LOT}?serials=B7,A%2F1,0003", headers=HTML)
    codes = [code for code, _, _ in read_labels(response.text)]
    assert codes == [f"{BASE}/{LOT}/21/B7", f"{BASE}/{LOT}/21/A%2F1", f"{BASE}/{LOT}/21/0003"]


def test_a_range_without_width_is_not_padded(client: TestClient) -> None:
    response = client.get(f"/labels/{LOT}?from=99&count=2", headers=HTML)
    codes = [code for code, _, _ in read_labels(response.text)]
    assert codes == [f"{BASE}/{LOT}/21/99", f"{BASE}/{LOT}/21/100"]


def test_markup_in_a_lot_is_shown_as_text(client: TestClient) -> None:
    # CSET 82 allows < > & ' " in a lot; the path carries them percent-encoded.
    response = client.get("/labels/01/09506000134376/10/%3Cb%3E%26%27%22?count=1", headers=HTML)
    assert response.status_code == 200
    html = response.text
    assert "<b>" not in html
    assert "(10) &lt;b&gt;&amp;&#39;&#34;" in html
    assert "<title>Labels for lot &lt;b&gt;&amp;&#39;&#34;" in html
    ((code, hri, _),) = read_labels(html)
    assert code == f"{BASE}/01/09506000134376/10/%3Cb%3E%26%27%22/21/1"
    assert hri == "(01) 09506000134376 (10) <b>&'\" (21) 1"


def test_the_sheet_has_the_strict_page_headers_and_no_inline_style(client: TestClient) -> None:
    response = client.get(f"/labels/{LOT}?count=2", headers=HTML)
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    html = response.text
    assert " style=" not in html
    assert "<style" not in html
    assert "<script" not in html
    assert f'<link rel="stylesheet" href="{static_url("labels.css")}">' in html
    css = client.get(static_url("labels.css"))
    assert css.status_code == 200
    assert "@media print" in css.text


def test_the_json_twin_links_each_code(client: TestClient) -> None:
    twin = client.get(f"/labels/{LOT}?serials=7,8", headers={"Accept": "application/json"}).json()
    assert twin["item"] == f"{BASE}/{LOT}"
    assert twin["hri"] == f"(01) {GTIN_BAG} (10) R-2026-112"
    assert twin["labels_per_sheet"] == LABELS_PER_SHEET
    assert [label["serial"] for label in twin["labels"]] == ["7", "8"]
    first = twin["labels"][0]
    assert first["url"] == f"{BASE}/{LOT}/21/7"
    assert first["hri"] == f"(01) {GTIN_BAG} (10) R-2026-112 (21) 7"
    assert decode_png(client.get(first["qr"]["png"]).content) == first["url"]
    assert decode_svg(client.get(first["qr"]["svg"]).text) == first["url"]


def test_the_sheet_speaks_spanish(client: TestClient) -> None:
    html = client.get(f"/labels/{LOT}?count=1&lang=es", headers=HTML).text
    assert "Etiquetas del lote R-2026-112" in html
    assert "Hoja 1 de 1" in html


@pytest.mark.parametrize(
    ("path", "query"),
    [
        (LOT, ""),
        (LOT, "?serials=1&count=2"),
        (LOT, "?serials=1&from=2"),
        (LOT, f"?count={MAX_LABELS + 1}"),
        (LOT, "?serials=" + ",".join(map(str, range(MAX_LABELS + 1)))),
        (LOT, "?serials=1,,2"),
        (LOT, "?serials=1,2,1"),
        (LOT, "?serials=A%20B"),
        (LOT, "?serials=" + "9" * 21),
        (LOT, "?from=1&count=1&width=20&serials=1"),
        (f"01/{GTIN_BAG}", "?count=1"),
        (f"{LOT}/21/1", "?count=1"),
        (f"01/{GTIN_BAG[:-1]}0/10/X", "?count=1"),
    ],
    ids=[
        "no serials",
        "list and range",
        "list with from",
        "too many in a range",
        "too many in a list",
        "empty serial",
        "repeated serial",
        "space in serial",
        "serial too long",
        "range and list",
        "a product, not a lot",
        "a serial, not a lot",
        "bad check digit",
    ],
)
def test_requests_a_packaging_line_should_not_print_are_400(
    client: TestClient, path: str, query: str
) -> None:
    response = client.get(f"/labels/{path}{query}")
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("query", ["?count=0", "?count=1&from=-1", "?count=1&width=21"])
def test_out_of_range_numbers_are_422(client: TestClient, query: str) -> None:
    assert client.get(f"/labels/{LOT}{query}").status_code == 422


def test_a_full_sheet_prints_and_every_code_scans_in_chromium(
    live_demo: LiveService, browser: Browser
) -> None:
    context = browser.new_context(viewport={"width": 1000, "height": 900}, device_scale_factor=3)
    page = context.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # A CSP violation (an inline style, say) is an error here. Chromium also asks for a
        # /favicon.ico, which this service does not have.
        if message.type in ("error", "warning") and not message.location["url"].endswith(
            "/favicon.ico"
        ):
            problems.append(f"{message.type}: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    try:
        response = page.goto(f"{live_demo.base}/labels/{LOT}?from=1&count={LABELS_PER_SHEET + 1}")
        assert response is not None
        assert response.status == 200
        codes = page.locator(".label .qr")
        assert codes.count() == LABELS_PER_SHEET + 1
        for position in range(LABELS_PER_SHEET + 1):
            shot = codes.nth(position).screenshot()
            assert decode_png(shot) == f"{live_demo.base}/{LOT}/21/{position + 1}"
        page.emulate_media(media="print")
        expect(page.locator("header.site")).to_be_hidden()
        expect(page.locator(".labels-intro")).to_be_hidden()
        pdf = page.pdf(prefer_css_page_size=True)
    finally:
        context.close()
    assert problems == []
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 2
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "label-sheet.pdf").write_bytes(pdf)
