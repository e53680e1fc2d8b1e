"""The in-browser verifier (web/static/verify.js) in headless Chromium, on a page served with the
site's strict Content-Security-Policy from 127.0.0.1 (WebCrypto needs a secure context).

The page follows the DOM contract the item page uses; its evidence is built from a real ledger.
Every tamper of ``evidence_cases.TAMPERS`` must be caught by the script with the same rule the
Python reference verifier names, and no failure of the script may leave a claim marked verified.
"""

from __future__ import annotations

import html
import http.server
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Error, Page

from evidence_cases import TAMPERS, Scenario, Tamper, sqlite_scenario
from factories import attestation, register, submit
from provenance.bootstrap import founding_statement
from provenance.evidence import build_evidence, evidence_json, verify_evidence
from provenance.keyfiles import init_keys
from provenance.ledger import Ledger
from provenance.log import Log
from provenance.store.sql import SqlStore
from web.static_files import STATIC_DIR
from web.templating import CONTENT_SECURITY_POLICY

TEXTS = {
    "verified": "Verified",
    "failed": "Not verified",
    "checking": "Checking",
    "summary-ok": "All {total} claims verified",
    "summary-failed": "{n} of {total} claims verified, {failed} not",
    "summary-error": "The evidence could not be checked",
    "unsupported": "This browser cannot check signatures",
}
NOT_CHECKED = "Not checked yet"


class _Handler(http.server.SimpleHTTPRequestHandler):
    def end_headers(self) -> None:
        self.send_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Site:
    """A directory served over HTTP on 127.0.0.1, with a copy of the verifier script."""

    root: Path
    base: str
    pages: int = 0

    def publish(self, evidence: dict[str, Any] | None, claims: list[int]) -> str:
        """Write a page showing ``claims`` with ``evidence`` (None: no evidence element); return
        its URL."""
        self.pages += 1
        name = f"page-{self.pages}.html"
        (self.root / name).write_text(page_html(evidence, claims), "utf-8")
        return f"{self.base}/{name}"


def page_html(evidence: dict[str, Any] | None, claims: list[int]) -> str:
    """A page with the item page's DOM contract."""
    texts = " ".join(f'data-text-{k}="{html.escape(v)}"' for k, v in TEXTS.items())
    items = "\n".join(
        f'<li data-claim="{i}">Claim {i} <span class="claim-check">{NOT_CHECKED}'
        f' <a href="/api/v1/log/entries/{i}">proof</a></span></li>'
        for i in claims
    )
    data = (
        ""
        if evidence is None
        else f'<script type="application/json" id="evidence">{evidence_json(evidence)}</script>'
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>claims</title>
<script src="verify.js" defer></script></head>
<body>
<section id="verification" {texts}><p class="verification-summary">{NOT_CHECKED}</p></section>
<ul>
{items}
</ul>
{data}
</body></html>
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("site")
    shutil.copy(STATIC_DIR / "verify.js", root / "verify.js")
    (root / "favicon.ico").write_bytes(b"")  # Chromium asks for one; a 404 would log an error

    def handler(*args: Any) -> _Handler:
        return _Handler(*args, directory=str(root))

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Site(root, f"http://127.0.0.1:{server.server_address[1]}")
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return sqlite_scenario(tmp_path_factory.mktemp("scenario"))


@pytest.fixture(scope="module")
def tab(browser: Browser) -> Iterator[Page]:
    """One page for the module's checks: each navigation starts the script afresh."""
    context = browser.new_context()
    yield context.new_page()
    context.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A context of its own, for tests that change what the page's scripts see."""
    opened = browser.new_context()
    yield opened
    opened.close()


@dataclass
class Checked:
    """What the script decided, and what the page now shows."""

    outcome: dict[str, Any]
    panel: dict[str, str | None]
    claims: dict[int, dict[str, Any]]


def check(page: Page, url: str) -> Checked:
    """Open ``url``, wait for the verifier, and read back its outcome and the marked page."""
    problems: list[str] = []

    def on_error(error: Error) -> None:
        problems.append(str(error))

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    page.on("pageerror", on_error)
    page.on("console", on_console)
    try:
        page.goto(url)
        outcome = page.evaluate("window.provenanceVerifier.done")
        checked = Checked(outcome, _panel(page), _claims(page))
    finally:
        page.remove_listener("pageerror", on_error)
        page.remove_listener("console", on_console)
    assert not problems, f"errors on the page (a CSP violation?): {problems}"
    return checked


def _panel(page: Page) -> dict[str, str | None]:
    panel = page.locator("#verification")
    return {
        "state": panel.get_attribute("data-state"),
        "rule": panel.get_attribute("data-rule"),
        "summary": page.locator(".verification-summary").text_content(),
    }


def _claims(page: Page) -> dict[int, dict[str, Any]]:
    claims: list[dict[str, Any]] = page.eval_on_selector_all(
        "[data-claim]",
        """elements => elements.map(e => {
            const check = e.querySelector('.claim-check');
            return {index: e.dataset.claim, verified: e.dataset.verified ?? null,
                    rule: e.dataset.rule ?? null, signer: e.dataset.signer ?? null,
                    text: check.firstChild.textContent.trim(), title: check.getAttribute('title'),
                    links: Array.from(check.querySelectorAll('a'), a => a.getAttribute('href'))};
        })""",
    )
    return {int(str(c.pop("index"))): c for c in claims}


def by_name(scenario: Scenario, outcome: dict[str, Any]) -> dict[str, str | None]:
    """The script's result for each scenario claim, in bundle order, named."""
    results = outcome["results"]
    return {
        name: None if r["verified"] else r["rule"]
        for name, r in zip(scenario.claims, results, strict=True)
    }


# --- Verified and not ---------------------------------------------------------------------------


def test_the_claims_of_a_real_ledger_are_verified_in_the_browser(
    site: Site, tab: Page, scenario: Scenario
) -> None:
    good = [name for name, rule in scenario.expected.items() if rule is None]
    indexes = [scenario.claims[name] for name in good]
    claims = [c for c in scenario.evidence["claims"] if c["index"] in indexes]
    evidence = dict(scenario.evidence, claims=claims)

    checked = check(tab, site.publish(evidence, indexes))

    assert checked.panel == {"state": "verified", "rule": None, "summary": "All 6 claims verified"}
    assert checked.outcome["state"] == "verified"
    for name in good:
        claim = checked.claims[scenario.claims[name]]
        party = "bob" if name.startswith("bob") else "operator" if name == "review" else "alice"
        assert claim == {
            "verified": "yes",
            "rule": None,
            "signer": party,
            "text": "Verified",
            "title": None,
            "links": [f"/api/v1/log/entries/{scenario.claims[name]}"],  # kept for further checks
        }, name


def test_claims_the_ledger_would_have_refused_are_marked_not_verified(
    site: Site, tab: Page, scenario: Scenario
) -> None:
    checked = check(tab, site.publish(scenario.evidence, list(scenario.claims.values())))

    assert by_name(scenario, checked.outcome) == scenario.expected
    assert checked.panel["state"] == "failed"
    assert checked.panel["summary"] == "6 of 9 claims verified, 3 not"
    for name, rule in scenario.expected.items():
        claim = checked.claims[scenario.claims[name]]
        if rule is None:
            assert claim["verified"] == "yes"
            continue
        assert claim["verified"] == "no"
        assert claim["rule"] == rule
        assert claim["text"] == "Not verified"
        assert str(claim["title"]).startswith(f"{rule}: ")
        assert claim["links"] == [f"/api/v1/log/entries/{scenario.claims[name]}"]


@pytest.mark.parametrize("tamper", TAMPERS, ids=lambda t: t.name)
def test_each_tamper_is_caught_by_the_same_rule_as_in_python(
    site: Site, tab: Page, scenario: Scenario, tamper: Tamper
) -> None:
    evidence = tamper.apply(scenario)
    shown = list(scenario.claims.values())

    checked = check(tab, site.publish(evidence, shown))

    if tamper.where == "panel":
        assert checked.outcome["rule"] == tamper.rule
        assert checked.panel["rule"] == tamper.rule
        assert checked.panel["state"] == ("error" if tamper.rule == "evidence" else "failed")
        assert {c["verified"] for c in checked.claims.values()} == {"no"}
        assert {c["rule"] for c in checked.claims.values()} == {tamper.rule}
        return
    expected = tamper.expected(scenario)
    assert by_name(scenario, checked.outcome) == expected
    python = verify_evidence(evidence)
    assert [c.rule for c in python.claims] == list(expected.values())
    listed = {c["index"] for c in evidence["claims"]}
    for name, rule in expected.items():
        claim = checked.claims[scenario.claims[name]]
        # A claim whose index was altered no longer has evidence on the page at all.
        want = rule if scenario.claims[name] in listed else "no-evidence"
        assert (claim["verified"], claim["rule"]) == (
            ("yes", None) if want is None else ("no", want)
        )
    assert checked.panel["state"] == "failed"


def test_a_claim_without_evidence_is_not_verified(
    site: Site, tab: Page, scenario: Scenario
) -> None:
    alice = scenario.claims["alice"]

    checked = check(tab, site.publish(scenario.evidence, [alice, 999]))

    assert checked.claims[alice]["verified"] == "yes"
    assert checked.claims[999]["verified"] == "no"
    assert checked.claims[999]["rule"] == "no-evidence"
    assert checked.panel["summary"] == "1 of 2 claims verified, 1 not"


def test_a_changed_stored_byte_is_caught_in_the_browser(
    site: Site, tab: Page, tmp_path: Path
) -> None:
    keys, _ = init_keys(tmp_path / "keys", "test.example/log")
    store = SqlStore.open(f"sqlite:///{tmp_path / 'ledger.db'}")
    ledger = Ledger(Log(store, keys.log_signer))
    try:
        ledger.commit([ledger.prepare(founding_statement(keys))])
        alice = register(ledger, keys, "alice")
        first, second = (submit(ledger, attestation("alice", alice)).index for _ in range(2))
        with store.write() as txn:
            leaf = txn.leaf(first)
            assert leaf is not None
            position = leaf.index(b'"payload":"') + 30  # a byte of the statement's base64
            changed = leaf[:position] + bytes([leaf[position] ^ 1]) + leaf[position + 1 :]
            txn.connection.exec_driver_sql(
                "UPDATE log_entry SET leaf = ? WHERE idx = ?", (changed, first)
            )
        with store.read() as reader:
            evidence = build_evidence(reader, [first, second], keys.log_signer.verifier_key())
    finally:
        ledger.close()
        store.close()

    checked = check(tab, site.publish(evidence, [first, second]))

    assert (checked.claims[first]["verified"], checked.claims[first]["rule"]) == (
        "no",
        "proof-root",
    )
    assert checked.claims[second]["verified"] == "yes"
    assert checked.panel["summary"] == "1 of 2 claims verified, 1 not"


# --- When the script cannot do its job ----------------------------------------------------------

FAIL_MIDWAY = """
const digest = crypto.subtle.digest.bind(crypto.subtle);
let calls = 0;
crypto.subtle.digest = (...args) =>
  ++calls > 20 ? Promise.reject(new Error("the disk is on fire")) : digest(...args);
"""

NO_ED25519 = """
const importKey = crypto.subtle.importKey.bind(crypto.subtle);
crypto.subtle.importKey = (format, key, algorithm, ...rest) =>
  algorithm && algorithm.name === "Ed25519"
    ? Promise.reject(new DOMException("no Ed25519 here", "NotSupportedError"))
    : importKey(format, key, algorithm, ...rest);
"""


def test_a_script_failure_midway_leaves_no_claim_marked_verified(
    site: Site, context: BrowserContext, scenario: Scenario
) -> None:
    context.add_init_script(FAIL_MIDWAY)

    checked = check(
        context.new_page(), site.publish(scenario.evidence, list(scenario.claims.values()))
    )

    assert checked.outcome["rule"] == "internal"
    assert "the disk is on fire" in checked.outcome["message"]
    assert checked.panel["state"] == "error"
    assert checked.panel["summary"] == TEXTS["summary-error"]
    assert {c["verified"] for c in checked.claims.values()} == {"no"}
    assert {c["rule"] for c in checked.claims.values()} == {"internal"}


def test_without_ed25519_the_page_says_so_and_claims_are_left_unchecked(
    site: Site, context: BrowserContext, scenario: Scenario
) -> None:
    context.add_init_script(NO_ED25519)

    checked = check(
        context.new_page(), site.publish(scenario.evidence, list(scenario.claims.values()))
    )

    assert checked.panel == {"state": "unsupported", "rule": None, "summary": TEXTS["unsupported"]}
    for claim in checked.claims.values():
        assert claim["verified"] is None
        assert claim["text"] == NOT_CHECKED


def test_a_page_without_evidence_is_an_error_not_a_pass(
    site: Site, tab: Page, scenario: Scenario
) -> None:
    checked = check(tab, site.publish(None, [scenario.claims["alice"]]))

    assert (checked.panel["state"], checked.panel["rule"]) == ("error", "evidence")
    assert checked.claims[scenario.claims["alice"]]["verified"] == "no"


def test_with_scripting_off_the_page_reads_and_links_to_the_proofs(
    site: Site, browser: Browser, scenario: Scenario
) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(site.publish(scenario.evidence, [scenario.claims["alice"]]))
        claim = page.locator(f'[data-claim="{scenario.claims["alice"]}"]')
        assert claim.get_attribute("data-verified") is None
        assert claim.locator(".claim-check").text_content() == f"{NOT_CHECKED} proof"
        link = claim.get_by_role("link", name="proof")
        assert link.get_attribute("href") == f"/api/v1/log/entries/{scenario.claims['alice']}"
        assert page.locator("#verification").get_attribute("data-state") is None
    finally:
        context.close()
