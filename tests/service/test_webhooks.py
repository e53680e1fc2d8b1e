"""Webhooks over HTTP, end to end: parties register (signed, or by the operator), complaints about
their items reach a real receiver on 127.0.0.1 signed with the operator's key as the log publishes
it, failures are retried with backoff (and Retry-After), a 410 ends it, a restart resumes, two
workers send each delivery once, and every refusal is a problem+json."""

from __future__ import annotations

import base64
import itertools
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from api.webhooks import Dispatcher, accept_url
from factories import GTIN, b64key, governance, item, kid, review, submit
from provenance import webhook_queue as queue
from provenance.bootstrap import open_ledger
from provenance.keyfiles import OperatorKeys
from provenance.keys import generate_private_key
from provenance.ledger import Ledger
from provenance.statements import sign_statement
from provenance.store.sql import SqlStore
from provenance.webhook_queue import InvalidWebhookURLError
from provenance.webhook_signature import (
    REGISTER,
    REMOVE,
    sign_request,
    verify_delivery,
)

ADMIN = {"Authorization": "Bearer test-admin-token"}
LOT = f"/01/{GTIN}/10/LOT-1"
SERIAL = f"{LOT}/21/S-1"
FAST = {"webhook_backoff": 0.2, "webhook_poll": 0.05, "webhook_timeout": 5.0,
        "webhook_max_attempts": 4}  # fmt: skip


# --- A receiver ----------------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that records each POST and answers as told per path: the
    planned answers in turn, the last one over and over (200 when nothing is planned)."""

    server: ThreadingHTTPServer
    received: list[Received] = field(default_factory=list)
    plans: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def plan(self, path: str, *answers: int | tuple[int, dict[str, str]]) -> str:
        self.plans[path] = [a if isinstance(a, tuple) else (a, {}) for a in answers]
        return self.url(path)

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def answer(self, path: str) -> tuple[int, dict[str, str]]:
        with self.lock:
            plan = self.plans.get(path, [])
            if len(plan) > 1:
                return plan.pop(0)
            return plan[0] if plan else (200, {})


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with receiver.lock:
                receiver.received.append(
                    Received(self.path, dict(self.headers.items()), body, time.monotonic())
                )
            status, headers = receiver.answer(self.path)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    recorder = Receiver(server)
    server.RequestHandlerClass = _handler(recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield recorder
    server.shutdown()
    server.server_close()
    thread.join()


def wait_for(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


# --- The service ---------------------------------------------------------------------------------


def settings_for(db_url: str, tmp_path: Path, **extra: Any) -> Settings:
    return Settings(database_url=db_url, keys_dir=tmp_path / "keys",
                    admin_token="test-admin-token", **{**FAST, **extra})  # fmt: skip


@pytest.fixture
def client(db_url: str, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(db_url, tmp_path))) as test_client:
        yield test_client


def ledger_of(client: TestClient) -> Ledger:
    ledger: Ledger = client.app.state.ledger  # type: ignore[attr-defined]
    return ledger


def keys_of(client: TestClient) -> OperatorKeys:
    keys: OperatorKeys = client.app.state.keys  # type: ignore[attr-defined]
    return keys


def register_party(client: TestClient, party: str, role: str = "supplier") -> Ed25519PrivateKey:
    key = generate_private_key()
    body = {"id": party, "role": role, "name": party.title(), "keys": [b64key(key)]}
    assert client.post("/api/v1/parties", json=body, headers=ADMIN).status_code == 201
    return key


def attest(client: TestClient, party: str, key: Ed25519PrivateKey, body: dict[str, Any]) -> None:
    response = client.post(
        "/api/v1/statements", content=sign_statement({"by": party, **body}, [key])
    )
    assert response.status_code == 201, response.text


@pytest.fixture
def chain(client: TestClient) -> dict[str, Ed25519PrivateKey]:
    """farm attested LOT-1, brand named its product, bystander attested another product."""
    keys = {
        "farm": register_party(client, "farm"),
        "brand": register_party(client, "brand", "brand"),
        "bystander": register_party(client, "bystander"),
    }
    origin = {"place": {"country": "CO"}, "producer": "Farm", "date": "2026-07-14"}
    attest(client, "farm", keys["farm"], {"type": "origin", "items": [item("LOT-1")], **origin})
    attest(client, "brand", keys["brand"], {"type": "product", "name": "Coffee",
                                           "items": [f"https://id.gs1.org/01/{GTIN}"]})  # fmt: skip
    attest(client, "bystander", keys["bystander"],
           {"type": "origin", "items": [item("LOT-1", gtin="09506000134369")], **origin})  # fmt: skip
    return keys


def signed_hook(client: TestClient, party: str, key: Ed25519PrivateKey, url: str) -> Any:
    data = sign_request([key], party, REGISTER, {"url": url, "events": ["complaint"]})
    return client.post(f"/api/v1/parties/{party}/webhooks", content=data)


def admin_hook(client: TestClient, party: str, url: str) -> Any:
    return client.post(f"/api/v1/parties/{party}/webhooks", json={"url": url}, headers=ADMIN)


def complain(client: TestClient, key: str = SERIAL, **fields: Any) -> int:
    return review(ledger_of(client), keys_of(client), key, **fields)


def log_of(client: TestClient, party: str, hook_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/parties/{party}/webhooks/{hook_id}/deliveries")
    assert response.status_code == 200, response.text
    deliveries: list[dict[str, Any]] = response.json()["deliveries"]
    return deliveries


def settled(client: TestClient, party: str, hook_id: str, count: int = 1) -> list[dict[str, Any]]:
    """The webhook's delivery log once ``count`` deliveries are no longer pending."""
    found: list[dict[str, Any]] = []

    def done() -> bool:
        found[:] = log_of(client, party, hook_id)
        return len(found) == count and all(d["status"] != "pending" for d in found)

    wait_for(done)
    return found


def operator_public_key(client: TestClient) -> bytes:
    """The operator's key as the log publishes it, which is what a receiver trusts."""
    (key,) = client.get("/api/v1/parties/operator").json()["keys"]
    return base64.b64decode(key["public_key"])


# --- Delivering ----------------------------------------------------------------------------------


def test_a_complaint_reaches_each_party_concerned_signed_by_the_operator(
    client: TestClient, chain: dict[str, Ed25519PrivateKey], receiver: Receiver
) -> None:
    farm = signed_hook(client, "farm", chain["farm"], receiver.url("/farm"))
    assert farm.status_code == 201, farm.text
    created = farm.json()
    assert created["created_by"] == f"key:{kid(chain['farm'])}"
    assert created["url"] == receiver.url("/farm")
    signing = created["signing"]
    public_key = operator_public_key(client)
    assert signing["public_key"] == base64.b64encode(public_key).decode()
    assert signing["keys_url"].endswith("/api/v1/parties/operator")
    brand = admin_hook(client, "brand", receiver.url("/brand"))
    assert brand.status_code == 201
    assert brand.json()["created_by"] == "admin"
    bystander = signed_hook(client, "bystander", chain["bystander"], receiver.url("/bystander"))
    assert bystander.status_code == 201

    complain(client, LOT, kind="experience", rating=5)
    index = complain(client, SERIAL, title="Torn bag", text="The bag arrived torn.", rating=2)
    farm_log = settled(client, "farm", created["id"])
    settled(client, "brand", brand.json()["id"])
    (to_farm,) = receiver.at("/farm")
    (to_brand,) = receiver.at("/brand")
    assert receiver.at("/bystander") == []

    for received, party in ((to_farm, "farm"), (to_brand, "brand")):
        verify_delivery(received.headers, received.body, public_key, signing["tolerance_s"])
        assert received.headers["Provenance-Event"] == "complaint"
        assert received.headers["Content-Type"] == "application/json"
        body = received.json
        assert received.headers["Provenance-Delivery"] == body["delivery"]
        assert body == {
            "event": "complaint", "delivery": body["delivery"], "party": party, "review": index,
            "item": SERIAL, "title": "Torn bag", "text": "The bag arrived torn.", "rating": 2,
            "holder": False, "withheld": None, "time": body["time"],
            "url": f"http://127.0.0.1:8000{SERIAL}#review-{index}",
        }  # fmt: skip
    (entry,) = farm_log
    assert entry["id"] == to_farm.json["delivery"]
    assert (entry["status"], entry["attempts"], entry["last_status_code"]) == ("delivered", 1, 200)
    assert entry["review"] == index
    assert entry["item"] == SERIAL
    assert entry["delivered"] is not None
    assert entry["next_attempt"] is None


def test_failures_are_retried_with_growing_waits_until_delivered(
    client: TestClient, chain: dict[str, Ed25519PrivateKey], receiver: Receiver
) -> None:
    url = receiver.plan("/flaky", 500, 503, 200)
    hook_id = admin_hook(client, "farm", url).json()["id"]
    complain(client)
    (entry,) = settled(client, "farm", hook_id)
    assert (entry["status"], entry["attempts"], entry["last_status_code"]) == ("delivered", 3, 200)
    attempts = receiver.at("/flaky")
    assert len(attempts) == 3
    assert len({a.json["delivery"] for a in attempts}) == 1, "one delivery, tried three times"
    waits = [later.at - earlier.at for earlier, later in itertools.pairwise(attempts)]
    assert waits[0] >= 0.2 * 0.9, waits  # the backoff...
    assert waits[1] >= 0.4 * 0.9, waits  # ...doubled


def test_retry_after_is_honoured(
    client: TestClient, chain: dict[str, Ed25519PrivateKey], receiver: Receiver
) -> None:
    url = receiver.plan("/busy", (429, {"Retry-After": "1"}), 200)
    hook_id = admin_hook(client, "farm", url).json()["id"]
    complain(client)
    (entry,) = settled(client, "farm", hook_id)
    assert entry["status"] == "delivered"
    assert entry["attempts"] == 2
    first, second = receiver.at("/busy")
    assert second.at - first.at >= 0.95


def test_a_410_fails_for_good_and_endless_5xx_gives_up(
    client: TestClient, chain: dict[str, Ed25519PrivateKey], receiver: Receiver
) -> None:
    gone = admin_hook(client, "farm", receiver.plan("/gone", 410)).json()["id"]
    broken = admin_hook(client, "brand", receiver.plan("/broken", 500)).json()["id"]
    complain(client)
    (entry,) = settled(client, "farm", gone)
    assert (entry["status"], entry["attempts"], entry["last_status_code"]) == ("failed", 1, 410)
    assert entry["last_error"] == "HTTP 410: not retried"
    (entry,) = settled(client, "brand", broken)
    assert (entry["status"], entry["attempts"]) == ("failed", 4)
    assert entry["last_error"] == "HTTP 500: gave up after 4 attempts"
    assert len(receiver.at("/gone")) == 1
    assert len(receiver.at("/broken")) == 4


def test_an_unreachable_receiver_is_retried(
    client: TestClient, chain: dict[str, Ed25519PrivateKey], receiver: Receiver
) -> None:
    port = receiver.server.server_address[1]
    receiver.server.shutdown()
    receiver.server.server_close()
    hook_id = admin_hook(client, "farm", f"http://127.0.0.1:{port}/down").json()["id"]
    complain(client)
    (entry,) = settled(client, "farm", hook_id)
    assert (entry["status"], entry["attempts"], entry["last_status_code"]) == ("failed", 4, None)
    assert "ConnectError" in entry["last_error"]
    assert "gave up after 4" in entry["last_error"]


def test_complaints_appended_elsewhere_are_delivered_after_a_restart(
    db_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    """A complaint appended by another process while no worker runs, and a delivery left pending
    by a worker that stopped, are both sent by the next worker to start."""
    settings = settings_for(db_url, tmp_path, webhook_backoff=0.5)
    url = receiver.plan("/restart", 500)
    with TestClient(create_app(settings)) as first:
        farm = register_party(first, "farm")
        attest(first, "farm", farm, {"type": "origin", "items": [item("LOT-1")],
               "place": {"country": "CO"}, "producer": "Farm", "date": "2026-07-14"})  # fmt: skip
        hook_id = admin_hook(first, "farm", url).json()["id"]
        complain(first)
        wait_for(lambda: len(receiver.at("/restart")) >= 1)
    (pending,) = log_of_store(settings, hook_id)
    assert pending.status == "pending"
    assert pending.attempts >= 1

    other, keys = open_ledger(settings.core())  # another process, no dispatcher
    try:
        later = review(other, keys, LOT)
    finally:
        other.close()
        other.log.store.close()
    receiver.plan("/restart", 200)
    with TestClient(create_app(settings)) as second:
        log = settled(second, "farm", hook_id, count=2)
    assert {d["status"] for d in log} == {"delivered"}
    assert later in {d["review"] for d in log}


def log_of_store(settings: Settings, hook_id: str) -> list[queue.DeliveryView]:
    store = SqlStore.open(settings.database_url)
    try:
        with store.read() as reader:
            return queue.deliveries(reader, hook_id)
    finally:
        store.close()


def test_two_workers_send_each_delivery_once(
    ledger: Ledger, operator_keys: OperatorKeys, db_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    """Two dispatchers over one database (as two worker processes would have), racing: every
    complaint is delivered to every webhook concerned exactly once."""
    farm = generate_private_key()
    submit(ledger, governance(operator_keys, "party.register", keys=[b64key(farm)],
                              party={"id": "farm", "role": "supplier", "name": "Farm"}))  # fmt: skip
    submit(ledger, sign_statement({"type": "origin", "by": "farm", "items": [item("LOT-1")],
                                   "place": {"country": "CO"}, "producer": "Farm",
                                   "date": "2026-07-14"}, [farm]))  # fmt: skip
    for path in ("/one", "/two"):
        queue.register(ledger.log.store, "farm", receiver.url(path), ["complaint"], "admin", 0)
    settings = settings_for(db_url, tmp_path)
    workers = [Dispatcher(SqlStore.open(db_url), operator_keys.operator_key, settings)
               for _ in range(2)]  # fmt: skip
    stop = threading.Event()
    failures: list[BaseException] = []

    def work(dispatcher: Dispatcher) -> None:
        while not stop.is_set():
            try:
                dispatcher.run_once()
            except BaseException as e:  # pragma: no cover - reported below
                failures.append(e)
                return

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    complaints = [review(ledger, operator_keys, SERIAL) for _ in range(8)]
    wait_for(lambda: len(receiver.received) >= 16)
    time.sleep(0.3)  # long enough for a duplicate to show, were there one
    stop.set()
    for thread in threads:
        thread.join()
    for worker in workers:
        worker.stop()
        worker.store.close()
    assert not failures
    sent = Counter((r.path, r.json["review"]) for r in receiver.received)
    assert sent == Counter({(p, i): 1 for p in ("/one", "/two") for i in complaints})
    assert len({r.json["delivery"] for r in receiver.received}) == 16


# --- Registering, listing, removing --------------------------------------------------------------


def test_listing_shows_origins_publicly_and_full_urls_to_the_operator(
    client: TestClient, chain: dict[str, Ed25519PrivateKey]
) -> None:
    admin_hook(client, "brand", "http://127.0.0.1:9/secret-token-path")
    admin_hook(client, "brand", "http://127.0.0.1:9/")
    public = client.get("/api/v1/parties/brand/webhooks").json()
    assert [h["url"] for h in public] == ["http://127.0.0.1:9/…", "http://127.0.0.1:9/"]
    full = client.get("/api/v1/parties/brand/webhooks", headers=ADMIN).json()
    assert full[0]["url"] == "http://127.0.0.1:9/secret-token-path"
    wrong = client.get("/api/v1/parties/brand/webhooks", headers={"Authorization": "Bearer x"})
    assert wrong.status_code == 401
    assert client.get("/api/v1/parties/farm/webhooks").json() == []
    assert client.get("/api/v1/parties/nobody/webhooks").status_code == 404


def test_a_webhook_may_be_removed_from_another_origin(client: TestClient) -> None:
    """A party's own dashboard, on its own origin, removes a webhook with a signed DELETE: the
    browser's preflight must allow it (the signature, not the origin, authorizes it)."""
    preflight = client.options(
        "/api/v1/parties/brand/webhooks/wh_0123456789abcdef",
        headers={"Origin": "https://dashboard.example", "Access-Control-Request-Method": "DELETE",
                 "Access-Control-Request-Headers": "Content-Type"},
    )  # fmt: skip
    assert preflight.status_code == 200
    allowed = {m.strip() for m in preflight.headers["access-control-allow-methods"].split(",")}
    assert "DELETE" in allowed
    assert preflight.headers["access-control-allow-origin"] == "*"


def test_a_party_removes_its_webhook_with_a_signed_request(
    client: TestClient, chain: dict[str, Ed25519PrivateKey], receiver: Receiver
) -> None:
    brand = chain["brand"]
    hook_id = signed_hook(client, "brand", brand, receiver.plan("/x", 500)).json()["id"]
    other_id = admin_hook(client, "brand", receiver.url("/y")).json()["id"]
    path = f"/api/v1/parties/brand/webhooks/{hook_id}"

    def removal(key: Ed25519PrivateKey, webhook: str, party: str = "brand") -> bytes:
        return sign_request([key], party, REMOVE, {"webhook": webhook})

    refused = [
        client.request("DELETE", path, content=removal(brand, other_id)),
        client.request("DELETE", path, content=removal(chain["farm"], hook_id)),
        client.request("DELETE", path, content=removal(chain["farm"], hook_id, "farm")),
        client.request("DELETE", path),
    ]
    assert [r.status_code for r in refused] == [401, 401, 401, 400]
    assert all(r.headers["content-type"] == "application/problem+json" for r in refused)
    removed = client.request("DELETE", path, content=removal(brand, hook_id))
    assert removed.status_code == 200, removed.text
    assert removed.json()["removed"] is not None
    assert [h["id"] for h in client.get("/api/v1/parties/brand/webhooks").json()] == [other_id]
    assert log_of(client, "brand", hook_id) == [], "its log stays readable"
    assert client.request("DELETE", f"/api/v1/parties/farm/webhooks/{other_id}",
                          headers=ADMIN).status_code == 404  # fmt: skip
    gone = client.request("DELETE", f"/api/v1/parties/brand/webhooks/{other_id}", headers=ADMIN)
    assert gone.status_code == 200
    assert (
        client.get("/api/v1/parties/brand/webhooks/wh_0123456789abcdef/deliveries").status_code
        == 404
    )


def test_registration_refusals_are_problems(
    client: TestClient, chain: dict[str, Ed25519PrivateKey], receiver: Receiver
) -> None:
    farm, url = chain["farm"], receiver.url("/r")
    endpoint = "/api/v1/parties/farm/webhooks"

    def post(data: bytes) -> Any:
        return client.post(endpoint, content=data)

    cases = {
        "not an envelope": (post(b"{}"), 400),
        "another party's key": (post(sign_request([chain["brand"]], "farm", REGISTER,
                                                  {"url": url})), 401),
        "stale": (post(sign_request([farm], "farm", REGISTER, {"url": url},
                                    now=time.time() - 600)), 401),
        "signed for removal": (post(sign_request([farm], "farm", REMOVE, {"url": url})), 401),
        "not a URL": (post(sign_request([farm], "farm", REGISTER, {"url": "ftp://x/"})), 422),
        "no URL": (post(sign_request([farm], "farm", REGISTER, {"events": ["complaint"]})), 422),
        "unknown event": (post(sign_request([farm], "farm", REGISTER,
                                            {"url": url, "events": ["recall"]})), 422),
        "unknown party": (client.post("/api/v1/parties/nobody/webhooks", content=b"{}"), 404),
        "wrong admin token": (client.post(endpoint, json={"url": url},
                                          headers={"Authorization": "Bearer x"}), 401),
        "admin, bad body": (client.post(endpoint, content=b"[", headers=ADMIN), 422),
    }  # fmt: skip
    for name, (response, status) in cases.items():
        assert response.status_code == status, (name, response.text)
        assert response.headers["content-type"] == "application/problem+json", name
    assert post(sign_request([farm], "farm", REGISTER, {"url": url})).status_code == 201
    again = post(sign_request([farm], "farm", REGISTER, {"url": url}))
    assert again.status_code == 409
    assert "already" in again.json()["detail"]

    new_key = generate_private_key()
    key_add = {"type": "key.add", "by": "farm", "party": "farm", "public_key": b64key(new_key)}
    assert client.post("/api/v1/statements", content=sign_statement(key_add, [farm])).is_success
    revocation = f"/api/v1/parties/farm/keys/{kid(farm)}/revocation"
    assert client.post(revocation, json={"reason": "lost"}, headers=ADMIN).is_success
    revoked = post(sign_request([farm], "farm", REGISTER, {"url": receiver.url("/other")}))
    assert revoked.status_code == 403
    assert revoked.json()["type"].endswith("/revoked-key")
    assert (
        post(sign_request([new_key], "farm", REGISTER, {"url": receiver.url("/o")})).status_code
        == 201
    )
    client.post("/api/v1/parties/farm/suspension", json={"reason": "audit"}, headers=ADMIN)
    suspended = post(sign_request([new_key], "farm", REGISTER, {"url": receiver.url("/p")}))
    assert suspended.status_code == 403
    assert suspended.json()["type"].endswith("/suspended-party")


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("http://brand.example/hooks", "must be https"),
        ("https://127.0.0.1/hooks", "private address"),
        ("https://localhost/hooks", "private address"),
        ("https://10.0.0.8/hooks", "private address"),
        ("https://[::1]/hooks", "private address"),
        ("https://name-that-does-not-resolve.invalid/", "does not resolve"),
    ],
)
def test_production_wants_https_to_public_addresses(url: str, match: str, tmp_path: Path) -> None:
    production = Settings(environment="production", admin_token="a-real-token",
                          secret_key="a-real-secret", keys_dir=tmp_path)  # fmt: skip
    assert production.webhook_allow_private_urls is False
    with pytest.raises(InvalidWebhookURLError, match=match):
        accept_url(url, production)


def test_development_allows_loopback(tmp_path: Path) -> None:
    development = Settings(keys_dir=tmp_path)
    assert development.webhook_allow_private_urls is True
    assert accept_url("http://127.0.0.1:9/h", development) == "http://127.0.0.1:9/h"


def test_a_name_rebound_to_a_private_address_reaches_nothing(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the name resolves to a public address when it is checked and to the
    receiver on 127.0.0.1 when a second lookup is made. The connection goes to the address that
    was checked, never to a second answer; and a name that now leads to a private address is
    refused for good, before anything is sent."""
    port = receiver.server.server_address[1]
    answers = {"rebound.example": ["192.88.99.1", "127.0.0.1"], "private.example": ["127.0.0.1"]}
    real = socket.getaddrinfo

    def getaddrinfo(host: str, *args: Any, **kwargs: Any) -> Any:
        if host not in answers:
            return real(host, *args, **kwargs)
        address = answers[host][0]
        if len(answers[host]) > 1:
            answers[host].pop(0)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    settings = Settings(keys_dir=tmp_path, webhook_allow_private_urls=False, webhook_timeout=0.5)
    dispatcher = Dispatcher(SqlStore.open(f"sqlite:///{tmp_path}/l.db"), generate_private_key(),
                            settings)  # fmt: skip

    def claim(url: str) -> queue.Claim:
        return queue.Claim(id="dl_1", webhook_id="wh_1", party_id="brand", url=url,
                           webhook_removed=False, event="complaint", review=1, item="01/x",
                           attempts=1, token="t")  # fmt: skip

    try:
        rebound = dispatcher.send(claim(f"http://rebound.example:{port}/r"), b"{}")
        private = dispatcher.send(claim(f"http://private.example:{port}/p"), b"{}")
    finally:
        dispatcher.client.close()
    assert receiver.received == [], "nothing may reach the private address"
    assert rebound.status_code is None
    assert rebound.error is not None
    assert not rebound.permanent, "the public address may answer later"
    assert private.permanent
    assert "private address" in (private.error or "")
