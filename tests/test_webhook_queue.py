"""The webhook queue on both databases: complaints become deliveries exactly once, however many
dispatchers race; a claimed delivery is nobody else's until its lease runs out; the retry policy
and the URL rules, as tables."""

from __future__ import annotations

import json
import threading
from collections import Counter

import pytest
from sqlalchemy import select

from factories import GTIN, item, register, review, submit
from provenance import webhook_queue as queue
from provenance.keyfiles import OperatorKeys
from provenance.ledger import Ledger
from provenance.reviews import erase
from provenance.statements import sign_statement
from provenance.store.schema import WEBHOOK_CURSOR, WEBHOOK_DELIVERY
from provenance.store.sql import SqlStore
from provenance.webhook_queue import (
    Attempt,
    InvalidWebhookURLError,
    Outcome,
    RetryPolicy,
    WebhookConflictError,
    WebhookError,
    judge,
)

LOT = f"/01/{GTIN}/10/LOT-1"
NOW = 1_800_000_000_000
LEASE = 60_000


@pytest.fixture
def brand(ledger: Ledger, operator_keys: OperatorKeys) -> Ledger:
    """brand named the product of LOT-1 and LOT-2; farm attested LOT-2 only."""
    key = register(ledger, operator_keys, "brand", "brand")
    farm = register(ledger, operator_keys, "farm")
    product = {"type": "product", "by": "brand", "name": "Coffee",
               "items": [f"https://id.gs1.org/01/{GTIN}"]}  # fmt: skip
    submit(ledger, sign_statement(product, [key]))
    origin = {"type": "origin", "by": "farm", "items": [item("LOT-2")],
              "place": {"country": "CO"}, "producer": "Farm", "date": "2026-07-14"}  # fmt: skip
    submit(ledger, sign_statement(origin, [farm]))
    return ledger


def hook(ledger: Ledger, party: str, url: str = "https://brand.example/h") -> queue.WebhookView:
    return queue.register(ledger.log.store, party, url, ["complaint"], "admin", NOW)


def all_deliveries(store: SqlStore) -> list[queue.DeliveryView]:
    with store.read() as reader:
        rows = reader.connection.execute(select(WEBHOOK_DELIVERY)).mappings()
        return [queue.DeliveryView.of(r) for r in rows]


# --- Dispatching ---------------------------------------------------------------------------------


def test_each_complaint_becomes_one_delivery_per_webhook_of_each_party_concerned(
    brand: Ledger, operator_keys: OperatorKeys
) -> None:
    store = brand.log.store
    early = review(brand, operator_keys, LOT)  # before any webhook: owed to nobody
    brand_hooks = [hook(brand, "brand"), hook(brand, "brand", "https://brand.example/other")]
    farm_hook = hook(brand, "farm", "https://farm.example/h")
    about_lot_1 = review(brand, operator_keys, f"{LOT}/21/S-1")
    about_lot_2 = review(brand, operator_keys, f"/01/{GTIN}/10/LOT-2")
    review(brand, operator_keys, LOT, kind="experience", rating=4)
    review(brand, operator_keys, LOT, kind="question")

    assert queue.dispatch(store, NOW) == 5
    owed = Counter((d.webhook_id, d.review) for d in all_deliveries(store))
    assert owed == Counter(
        [(h.id, about_lot_1) for h in brand_hooks]
        + [(h.id, about_lot_2) for h in brand_hooks]
        + [(farm_hook.id, about_lot_2)]
    )
    assert early < brand_hooks[0].since_index
    assert all(d.status == "pending" and d.attempts == 0 for d in all_deliveries(store))
    assert {d.item for d in all_deliveries(store)} == {f"{LOT}/21/S-1", f"/01/{GTIN}/10/LOT-2"}
    assert queue.dispatch(store, NOW) == 0, "the cursor moved past them"
    with store.read() as reader:
        position = reader.connection.execute(select(WEBHOOK_CURSOR.c.position)).scalar()
        assert position == reader.size()


def test_dispatch_goes_page_by_page(brand: Ledger, operator_keys: OperatorKeys) -> None:
    hook(brand, "brand")
    for _ in range(5):
        review(brand, operator_keys, LOT)
    assert [queue.dispatch(brand.log.store, NOW, page=2) for _ in range(4)] == [2, 2, 1, 0]


def cursor(store: SqlStore) -> int:
    with store.read() as reader:
        return int(reader.connection.execute(select(WEBHOOK_CURSOR.c.position)).scalar_one())


def test_the_cursor_moves_for_complaints_or_a_long_lag_only(
    brand: Ledger, operator_keys: OperatorKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queue, "CURSOR_SLACK", 4)
    store = brand.log.store
    hook(brand, "brand")
    queue.dispatch(store, NOW)  # the fixture's entries are a lag of 5
    with store.read() as reader:
        assert cursor(store) == reader.size()
    caught_up = cursor(store)
    for _ in range(3):
        review(brand, operator_keys, LOT, kind="question")
    assert queue.dispatch(store, NOW) == 0
    assert cursor(store) == caught_up, "a lag of 3 without complaints writes nothing"
    review(brand, operator_keys, LOT, kind="question")
    queue.dispatch(store, NOW)
    assert cursor(store) == caught_up + 4
    complaint = review(brand, operator_keys, LOT)
    assert queue.dispatch(store, NOW) == 1
    assert cursor(store) == complaint + 1


def test_racing_dispatchers_create_each_delivery_once(
    brand: Ledger, operator_keys: OperatorKeys, db_url: str
) -> None:
    hook(brand, "brand")
    hook(brand, "brand", "https://brand.example/second")
    stores = [SqlStore.open(db_url) for _ in range(4)]
    stop = threading.Event()
    created: list[int] = []
    errors: list[BaseException] = []

    def race(store: SqlStore) -> None:
        while not stop.is_set():
            try:
                created.append(queue.dispatch(store, NOW, page=3))
            except BaseException as e:  # pragma: no cover - reported below
                errors.append(e)
                return

    threads = [threading.Thread(target=race, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    complaints = [review(brand, operator_keys, LOT) for _ in range(12)]
    stop.set()
    for thread in threads:
        thread.join()
    created.append(queue.dispatch(brand.log.store, NOW))
    for store in stores:
        store.close()
    assert not errors
    owed = Counter((d.webhook_id, d.review) for d in all_deliveries(brand.log.store))
    assert sorted({r for _, r in owed}) == complaints
    assert set(owed.values()) == {1}
    assert len(owed) == 24
    assert sum(created) == 24


def test_a_removed_webhook_gets_nothing_new_and_its_pending_deliveries_fail(
    brand: Ledger, operator_keys: OperatorKeys
) -> None:
    store = brand.log.store
    first = hook(brand, "brand")
    review(brand, operator_keys, LOT)
    queue.dispatch(store, NOW)
    removed = queue.remove(store, first.id, NOW + 5)
    assert removed is not None
    assert removed.removed_ms == NOW + 5
    assert queue.remove(store, first.id, NOW + 9) == removed, "removing twice changes nothing"
    review(brand, operator_keys, LOT)
    assert queue.dispatch(store, NOW) == 0
    (delivery,) = all_deliveries(store)
    assert (delivery.status, delivery.last_error) == ("failed", "webhook removed")
    with store.read() as reader:
        assert queue.webhooks(reader, "brand") == []
        assert queue.webhook(reader, first.id) == removed
    assert queue.remove(store, "wh_0000000000000000", NOW) is None


def test_registration_limits(brand: Ledger) -> None:
    store = brand.log.store
    hook(brand, "brand")
    with pytest.raises(WebhookConflictError, match="has this URL already"):
        hook(brand, "brand")
    hook(brand, "farm")  # another party may use the same URL
    for n in range(queue.MAX_WEBHOOKS - 1):
        hook(brand, "brand", f"https://brand.example/{n}")
    with pytest.raises(WebhookConflictError, match="at most"):
        hook(brand, "brand", "https://brand.example/one-too-many")
    with pytest.raises(WebhookError, match="events must be"):
        queue.register(store, "brand", "https://b.example/", ["recall"], "admin", NOW)
    with pytest.raises(WebhookError, match="events must be"):
        queue.register(store, "brand", "https://b.example/", [], "admin", NOW)


# --- Claiming ------------------------------------------------------------------------------------


@pytest.fixture
def owed(brand: Ledger, operator_keys: OperatorKeys) -> SqlStore:
    """Six pending deliveries to brand."""
    hook(brand, "brand")
    for _ in range(6):
        review(brand, operator_keys, LOT)
    assert queue.dispatch(brand.log.store, NOW) == 6
    return brand.log.store


def test_a_claimed_delivery_is_nobody_elses_until_its_lease_runs_out(owed: SqlStore) -> None:
    first = queue.claim(owed, NOW, LEASE, 4)
    second = queue.claim(owed, NOW, LEASE, 4)
    assert len(first) == 4
    assert len(second) == 2
    assert not {c.id for c in first} & {c.id for c in second}
    assert queue.claim(owed, NOW + LEASE - 1, LEASE, 10) == []
    assert all(c.attempts == 1 and c.party_id == "brand" for c in first + second)

    taken_over = queue.claim(owed, NOW + LEASE, LEASE, 10)
    assert {c.id for c in taken_over} == {c.id for c in first + second}
    assert all(c.attempts == 2 for c in taken_over), "an attempt that never reported counts"
    delivered = Outcome("delivered", None, 200, None)
    assert not queue.record(owed, first[0], delivered, NOW), "the first claim was lost"
    later = next(c for c in taken_over if c.id == first[0].id)
    assert queue.record(owed, later, delivered, NOW + LEASE + 7)
    with owed.read() as reader:
        (hook_id,) = {c.webhook_id for c in first}
        (done,) = queue.deliveries(reader, hook_id, status="delivered")
    assert (done.attempts, done.last_status, done.delivered_ms) == (2, 200, NOW + LEASE + 7)
    assert done.next_attempt_ms is None


def test_concurrent_claimers_take_different_deliveries(owed: SqlStore, db_url: str) -> None:
    stores = [SqlStore.open(db_url) for _ in range(3)]
    claimed: list[queue.Claim] = []
    lock = threading.Lock()

    def take(store: SqlStore) -> None:
        for _ in range(4):
            got = queue.claim(store, NOW, LEASE, 1)
            with lock:
                claimed.extend(got)

    threads = [threading.Thread(target=take, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()
    assert len(claimed) == 6
    assert len({c.id for c in claimed}) == 6


def test_a_retry_waits_until_it_is_due(owed: SqlStore) -> None:
    (claimed,) = queue.claim(owed, NOW, LEASE, 1)
    later = Outcome("pending", NOW + 2000, 500, "HTTP 500")
    assert queue.record(owed, claimed, later, NOW)
    assert claimed.id not in {c.id for c in queue.claim(owed, NOW + 1999, LEASE, 10)}
    assert [c.id for c in queue.claim(owed, NOW + 2000, LEASE, 10)] == [claimed.id]


# --- What is sent --------------------------------------------------------------------------------


def test_the_payload_is_read_when_sent_and_erased_text_is_withheld(
    brand: Ledger, operator_keys: OperatorKeys
) -> None:
    store = brand.log.store
    hook(brand, "brand")
    index = review(brand, operator_keys, f"{LOT}/21/S-1", title="Torn", text="Torn bag", rating=2)
    queue.dispatch(store, NOW)
    (claimed,) = queue.claim(store, NOW, LEASE, 1)
    with store.read() as reader:
        body = json.loads(queue.payload(reader, claimed, "https://ledger.example/"))
    assert body == {
        "event": "complaint", "delivery": claimed.id, "party": "brand", "review": index,
        "item": f"{LOT}/21/S-1", "title": "Torn", "text": "Torn bag", "rating": 2,
        "holder": False, "withheld": None, "time": body["time"],
        "url": f"https://ledger.example{LOT}/21/S-1#review-{index}",
    }  # fmt: skip
    assert body["time"].endswith("Z")
    assert body["time"].startswith("20")
    with store.write() as txn:
        erase(txn, index, NOW)
    with store.read() as reader:
        body = json.loads(queue.payload(reader, claimed, "https://ledger.example"))
    assert (body["title"], body["text"], body["rating"], body["withheld"]) == (
        None, None, None, "erased",
    )  # fmt: skip


# --- The retry policy ----------------------------------------------------------------------------

POLICY = RetryPolicy(max_attempts=5, backoff_s=1.0, backoff_max_s=5.0)


@pytest.mark.parametrize(
    ("attempt", "attempts", "expected"),
    [
        (Attempt(200), 1, Outcome("delivered", None, 200, None)),
        (Attempt(204), 5, Outcome("delivered", None, 204, None)),
        (Attempt(500), 1, Outcome("pending", NOW + 1000, 500, "HTTP 500")),
        (Attempt(502), 2, Outcome("pending", NOW + 2000, 502, "HTTP 502")),
        (Attempt(503), 3, Outcome("pending", NOW + 4000, 503, "HTTP 503")),
        (Attempt(500), 4, Outcome("pending", NOW + 5000, 500, "HTTP 500")),  # capped
        (Attempt(500), 5, Outcome("failed", None, 500, "HTTP 500: gave up after 5 attempts")),
        (Attempt(408), 1, Outcome("pending", NOW + 1000, 408, "HTTP 408")),
        (Attempt(429), 1, Outcome("pending", NOW + 1000, 429, "HTTP 429")),
        (Attempt(429, retry_after_s=30), 1, Outcome("pending", NOW + 30_000, 429, "HTTP 429")),
        (Attempt(503, retry_after_s=0.5), 2, Outcome("pending", NOW + 2000, 503, "HTTP 503")),
        (Attempt(503, retry_after_s=10**9), 1,
         Outcome("pending", NOW + 86_400_000, 503, "HTTP 503")),
        (Attempt(500, retry_after_s=30), 1, Outcome("pending", NOW + 1000, 500, "HTTP 500")),
        (Attempt(410), 1, Outcome("failed", None, 410, "HTTP 410: not retried")),
        (Attempt(400), 1, Outcome("failed", None, 400, "HTTP 400: not retried")),
        (Attempt(404), 1, Outcome("failed", None, 404, "HTTP 404: not retried")),
        (Attempt(302), 1,
         Outcome("failed", None, 302, "HTTP 302 (redirects are not followed): not retried")),
        (Attempt(error="timed out"), 1, Outcome("pending", NOW + 1000, None, "timed out")),
        (Attempt(error="ConnectError"), 5,
         Outcome("failed", None, None, "ConnectError: gave up after 5 attempts")),
        (Attempt(error="private address", permanent=True), 1,
         Outcome("failed", None, None, "private address: not retried")),
    ],
)  # fmt: skip
def test_the_retry_policy(attempt: Attempt, attempts: int, expected: Outcome) -> None:
    assert judge(attempt, attempts, POLICY, NOW) == expected


def test_backoff_doubles_from_the_base_and_stays_under_the_cap() -> None:
    policy = RetryPolicy(max_attempts=100, backoff_s=0.5, backoff_max_s=3600)
    assert [policy.delay_s(n) for n in range(1, 6)] == [0.5, 1, 2, 4, 8]
    assert policy.delay_s(10_000) == 3600


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("120", 120.0),
        (" 7 ", 7.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 60.0),
        ("Wed, 21 Oct 2015 07:26:00 GMT", 0.0),
        ("soon", None),
        ("-5", None),
    ],
)
def test_retry_after_reads_seconds_or_a_date(value: str | None, expected: float | None) -> None:
    now = 1445412420.0  # Wed, 21 Oct 2015 07:27:00 GMT
    assert queue.retry_after_seconds(value, now) == expected


# --- URLs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "require_https", "host"),
    [
        ("https://brand.example/hooks?x=1", True, "brand.example"),
        ("http://127.0.0.1:8080/h", False, "127.0.0.1"),
        ("https://[2001:db8::1]:8443/", True, "2001:db8::1"),
        ("HTTPS://Brand.Example/", True, "brand.example"),
    ],
)
def test_acceptable_urls_give_their_host(url: str, require_https: bool, host: str) -> None:
    assert queue.check_url(url, require_https=require_https) == host


@pytest.mark.parametrize(
    ("url", "require_https", "match"),
    [
        ("http://brand.example/", True, "must be https"),
        ("ftp://brand.example/", False, "must be http or https"),
        ("file:///etc/passwd", False, "must be http or https"),
        ("brand.example/hooks", False, "must be http or https"),
        ("https:///path", True, "no host"),
        ("https://user:pw@brand.example/", True, "user name or password"),
        ("https://brand.example/#frag", True, "fragment"),
        ("https://brand.example:99999/", True, "not a URL"),
        ("https://[::1/", True, "not a URL"),
        ("https://brand.example/a b", True, "spaces or control"),
        ("https://brand.example/\n", True, "spaces or control"),
        ("https://brand.example/" + "a" * 2000, True, "at most 2000"),
    ],
)
def test_unacceptable_urls_are_refused_naming_the_rule(
    url: str, require_https: bool, match: str
) -> None:
    with pytest.raises(InvalidWebhookURLError, match=match):
        queue.check_url(url, require_https=require_https)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # shared address space
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:93.184.216.34", True),
        ("not an address", False),
    ],
)
def test_only_public_addresses_are_public(address: str, public: bool) -> None:
    assert queue.is_public_address(address) is public
