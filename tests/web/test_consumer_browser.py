"""A consumer's path, end to end in a real browser: the QR code on a bag of the demo coffee,
decoded by a real decoder (zxing-cpp), opened in headless Chromium at a phone's viewport against
the service under uvicorn; the page tells the story and the in-browser verifier checks every claim.
Then one stored byte of a claim is changed in the database, and that claim shows as not verified.

Screenshots go to ``test-artifacts/`` (one per test, full page).
"""

from __future__ import annotations

import sqlite3
import urllib.request
from io import BytesIO

import zxingcpp
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from api.demo import GTIN_BAG
from live_fixtures import ARTIFACTS, PHONE, LiveService

LOT_PATH = f"01/{GTIN_BAG}/10/R-2026-112"
ORIGIN_INDEX = 9  # the farm's origin statement in the demo log (after 1 + 5 registrations + 3)


def decode_qr(png: bytes) -> str:
    """The text of the one QR code in ``png``, read by zxing-cpp."""
    (found,) = zxingcpp.read_barcodes(Image.open(BytesIO(png)))
    assert found.format == zxingcpp.BarcodeFormat.QRCode
    text: str = found.text
    return text


def scanned_url(service: LiveService, path: str) -> str:
    with urllib.request.urlopen(f"{service.base}/qr/png/{path}") as response:
        return decode_qr(response.read())


def expect_all_verified(page: Page) -> int:
    panel = page.locator("#verification")
    expect(panel).to_have_attribute("data-state", "verified", timeout=15_000)
    claims = page.locator("[data-claim]")
    count = claims.count()
    assert count > 0
    for position in range(count):
        expect(claims.nth(position)).to_have_attribute("data-verified", "yes")
    return count


def test_scan_read_and_verify_on_a_phone(live_demo: LiveService, phone: Page) -> None:
    url = scanned_url(live_demo, LOT_PATH)
    assert url == f"{live_demo.base}/{LOT_PATH}"
    response = phone.goto(url)
    assert response is not None
    assert response.status == 200
    expect(phone.locator("h1")).to_have_text("Huila Washed, whole bean coffee")
    expect(phone.locator("#origin")).to_contain_text("Finca La Esperanza")
    expect(phone.locator("#origin")).to_contain_text("2026-07-14")
    timeline = phone.locator("#timeline li")
    assert timeline.count() >= 5
    expect(timeline.first).to_contain_text("Harvested")
    expect(phone.locator("#certifications")).to_contain_text("Fairtrade Coffee")
    expect(phone.locator("#footprint")).to_contain_text("ISO 14067")
    expect(phone.locator("#footprint tfoot")).to_contain_text("1.374")
    expect_all_verified(phone)
    expect(phone.locator(".verification-summary")).to_contain_text("claims on this page")
    # Mobile first: nothing is wider than the phone's screen.
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390


def test_a_recalled_lot_shows_its_banner_first(live_demo: LiveService, phone: Page) -> None:
    url = scanned_url(live_demo, f"01/{GTIN_BAG}/10/R-2026-113/21/000042")
    phone.goto(url)
    banner = phone.locator("[role=alert]").first
    expect(banner).to_contain_text("recalled")
    expect(banner).to_contain_text("Seal defect")
    box = banner.bounding_box()
    assert box is not None
    assert box["y"] < 400
    expect_all_verified(phone)


def test_a_changed_byte_is_marked_not_verified(live_demo: LiveService, phone: Page) -> None:
    with sqlite3.connect(live_demo.database) as db:
        (leaf,) = db.execute("SELECT leaf FROM log_entry WHERE idx = ?", (ORIGIN_INDEX,)).fetchone()
        at = leaf.index(b'"sig":"') + len(b'"sig":"') + 10  # a byte inside the signature
        changed = leaf[:at] + (b"A" if leaf[at : at + 1] != b"A" else b"B") + leaf[at + 1 :]
        db.execute("UPDATE log_entry SET leaf = ? WHERE idx = ?", (changed, ORIGIN_INDEX))
    # A page not viewed before the change (views are cached per log size, which did not change).
    phone.goto(scanned_url(live_demo, f"01/{GTIN_BAG}/10/R-2026-112/21/000007"))
    panel = phone.locator("#verification")
    expect(panel).to_have_attribute("data-state", "failed", timeout=15_000)
    tampered = phone.locator(f'[data-claim="{ORIGIN_INDEX}"]')
    assert tampered.count() >= 1
    for position in range(tampered.count()):
        expect(tampered.nth(position)).to_have_attribute("data-verified", "no")
    others = phone.locator(f'[data-claim]:not([data-claim="{ORIGIN_INDEX}"])')
    for position in range(others.count()):
        expect(others.nth(position)).to_have_attribute("data-verified", "yes")
    expect(phone.locator(".verification-summary")).to_contain_text("could not be verified")


def test_the_page_reads_fully_without_script(live_demo: LiveService, browser: Browser) -> None:
    context = browser.new_context(java_script_enabled=False, viewport=PHONE)
    try:
        page = context.new_page()
        page.goto(f"{live_demo.base}/{LOT_PATH}")
        expect(page.locator("#origin")).to_contain_text("Finca La Esperanza")
        expect(page.locator("#footprint")).to_contain_text("ISO 14067")
        expect(page.locator("#verification a[href='/checkpoint']")).to_be_visible()
        assert page.locator("[data-verified]").count() == 0
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "no-script.png"), full_page=True)
    finally:
        context.close()
