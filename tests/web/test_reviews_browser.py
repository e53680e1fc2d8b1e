"""Reviews in a real browser against the service under uvicorn: a review posted through the item
page's form appears on a second open page through the live feed and is marked as in the log by the
in-browser verifier; a complaint answered by the brand (a signed statement) changes status on the
open page without a reload. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from api.demo import GTIN_BAG
from live_fixtures import ARTIFACTS, PHONE, LiveService
from provenance.keys import load_private_key
from provenance.statements import sign_statement

LOT = f"/01/{GTIN_BAG}/10/R-2026-112"


@pytest.fixture
def second(browser: Browser) -> Iterator[Page]:
    """Another visitor's phone, with the same page open."""
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "reviews-second-visitor.png"), full_page=True)
    context.close()


def fill_review(page: Page, kind: str, stars: int, title: str, text: str) -> None:
    form = page.locator("form.review-form")
    form.get_by_label("What is it?").select_option(kind)
    form.locator(f"input[name=rating][value='{stars}']").check()
    form.get_by_label("Title").fill(title)
    form.get_by_label("Your review").fill(text)
    form.get_by_label("Name to show (optional)").fill("Ana")
    with page.expect_navigation():
        form.get_by_role("button", name="Post review").click()


def live(page: Page) -> None:
    expect(page.locator("[data-live-status]")).to_have_attribute(
        "data-state", "live", timeout=15_000
    )
    expect(page.locator("#verification")).to_have_attribute(
        "data-state", "verified", timeout=15_000
    )


def test_a_review_reaches_another_open_page_and_is_verified(
    live_demo: LiveService, phone: Page, second: Page
) -> None:
    second.goto(live_demo.base + LOT)
    live(second)
    phone.goto(live_demo.base + LOT)
    fill_review(phone, "experience", 5, "Lovely cup", "<b>Red fruit</b> and panela")
    index = phone.url.split("#review-")[1]
    mine = phone.locator(f"#review-{index}")
    expect(mine).to_contain_text("<b>Red fruit</b> and panela")  # shown as text, not markup
    expect(mine.locator("[data-claim]")).to_have_attribute("data-verified", "yes", timeout=15_000)
    arrived = second.locator(f"#review-{index}")
    expect(arrived).to_contain_text("Lovely cup", timeout=10_000)
    expect(arrived).to_contain_text("<b>Red fruit</b> and panela")
    assert arrived.locator("b").count() == 0
    expect(arrived.locator("[data-claim]")).to_have_attribute(
        "data-verified", "yes", timeout=15_000
    )


def test_a_complaint_answered_by_the_brand_changes_status_live(
    live_demo: LiveService, phone: Page, second: Page
) -> None:
    phone.goto(live_demo.base + LOT)
    fill_review(phone, "complaint", 2, "Seal split", "The bag's seal split on day two")
    index = int(phone.url.split("#review-")[1])
    expect(phone.locator(f"#review-{index} .status")).to_contain_text("Complaint open")
    second.goto(live_demo.base + LOT)
    live(second)
    brand = load_private_key(live_demo.keys_dir / "demo" / "bean-roasters.key")
    answer = {"type": "review.answer", "by": "bean-roasters", "review": index,
              "text": "Sorry! A new bag is on its way."}  # fmt: skip
    request = urllib.request.Request(
        live_demo.base + "/api/v1/statements", data=sign_statement(answer, [brand]), method="POST"
    )
    with urllib.request.urlopen(request) as response:
        assert json.loads(response.read())["index"] > index
    updated = second.locator(f"#review-{index}")
    expect(updated.locator(".status")).to_contain_text("Answered", timeout=10_000)
    expect(updated.locator(".answer")).to_contain_text("A new bag is on its way")
    for claim in updated.locator("[data-claim]").all():
        expect(claim).to_have_attribute("data-verified", "yes", timeout=15_000)
