"""The live feed (``GET /api/v1/feed``), against the real service under uvicorn on SQLite and on
PostgreSQL: new entries arrive as events, filters hold, heartbeats come, a client that reconnects
with ``Last-Event-ID`` misses nothing and gets nothing twice, and with two workers an entry appended
through one reaches clients of the other. The streams are read over raw sockets, as a browser's
EventSource reads them (the last event id is tracked as the SSE spec says)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from conftest import new_postgres_schema
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from playwright.sync_api import Page, expect

from api.feed import Feed, FeedFilter, feed_entry
from api.settings import DEVELOPMENT_ADMIN_TOKEN, Settings
from live_fixtures import LiveService, free_port, start_service, stop_service
from provenance.bootstrap import OPERATOR_ID, open_ledger
from provenance.keyfiles import OperatorKeys
from provenance.keys import generate_private_key, public_key_bytes
from provenance.ledger import Ledger
from provenance.queries import item_keys
from provenance.statements import PARTY_REGISTER, sign_statement

GTIN = "09506000134383"
PRODUCT = f"/01/{GTIN}"
HEARTBEAT = 0.5
FEED_ENV = {"PROVENANCE_FEED_HEARTBEAT": str(HEARTBEAT)}
ADMIN = {"Authorization": f"Bearer {DEVELOPMENT_ADMIN_TOKEN}"}


# --- A client that reads the stream as EventSource does ----------------------------------------


class SseClient:
    """One ``GET /api/v1/feed`` over a raw socket (HTTP/1.0, so the body is the bare stream)."""

    def __init__(self, base: str, query: str = "", last_event_id: str | None = None) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        request = (
            f"GET /api/v1/feed{query} HTTP/1.0\r\nHost: {host}\r\nAccept: text/event-stream\r\n"
        )
        if last_event_id is not None:
            request += f"Last-Event-ID: {last_event_id}\r\n"
        self.sock.sendall((request + "\r\n").encode())
        self.buffer = b""
        self.last_id: str | None = None
        """What a browser would send as Last-Event-ID on reconnecting."""
        self.comments: list[str] = []
        self.retry: int | None = None
        self._id: str | None = None
        self._data: list[str] = []
        self._event = ""
        deadline = time.monotonic() + 10
        status = self._line(deadline)
        assert status is not None, "no answer"
        self.status = int(status.split()[1])
        self.headers: dict[str, str] = {}
        while line := self._line(deadline):
            name, _, value = line.partition(":")
            self.headers[name.lower()] = value.strip()

    @property
    def port(self) -> int:
        """The client's own port: the remote port of the server's end of the connection."""
        port: int = self.sock.getsockname()[1]
        return port

    def close(self) -> None:
        self.sock.close()

    def _line(self, deadline: float) -> str | None:
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                return None
            if not chunk:
                raise EOFError("the stream ended")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode().removesuffix("\r")

    def body(self) -> bytes:
        """The rest of a response that ends (an error)."""
        self.sock.settimeout(10)
        while chunk := self.sock.recv(65536):
            self.buffer += chunk
        return self.buffer

    def _frame(self, deadline: float) -> tuple[bool, dict[str, Any] | None]:
        """Read up to the end of one frame: (whether one ended, the entry event it held if any)."""
        while (line := self._line(deadline)) is not None:
            if line == "":  # dispatch: the id is taken even when there is no data (SSE spec)
                self.last_id = self._id
                data, event, self._data, self._event = self._data, self._event, [], ""
                if not data:
                    return True, None
                assert event == "entry", f"unexpected event {event!r}"
                found: dict[str, Any] = json.loads("\n".join(data))
                return True, found
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "id":
                self._id = value
            elif name == "data":
                self._data.append(value)
            elif name == "event":
                self._event = value
            elif name == "retry":
                self.retry = int(value)
        return False, None

    def next_event(self, timeout: float = 10.0) -> dict[str, Any] | None:
        """The data of the next ``entry`` event, or None if none comes within ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            ended, event = self._frame(deadline)
            if event is not None or not ended:
                return event

    def events(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The next ``count`` events; fails if they do not all come within ``timeout``."""
        deadline = time.monotonic() + timeout
        found: list[dict[str, Any]] = []
        while len(found) < count:
            event = self.next_event(max(0.0, deadline - time.monotonic()))
            assert event is not None, f"got {len(found)} events of {count}: {found}"
            found.append(event)
        return found

    def opened(self) -> SseClient:
        """Read the opening frame (the subscription is then in place) and return self."""
        ended, event = self._frame(time.monotonic() + 10)
        assert ended, "no opening frame"
        assert event is None
        assert self.retry is not None
        return self


@pytest.fixture
def streams() -> Iterator[Callable[..., SseClient]]:
    """Opens feed streams (waiting for each to start) and closes them after the test."""
    opened: list[SseClient] = []

    def open_stream(base: str, query: str = "", last_event_id: str | None = None) -> SseClient:
        client = SseClient(base, query, last_event_id)
        opened.append(client)
        assert client.status == 200, client.body()
        return client.opened()

    yield open_stream
    for client in opened:
        client.close()


# --- Appending through the API ------------------------------------------------------------------


def register(base: str, party: str | None = None) -> tuple[int, Ed25519PrivateKey]:
    """Register a supplier through the admin API; return the entry's index and its key."""
    key = generate_private_key()
    body = {
        "id": party or f"feed-{uuid.uuid4().hex[:12]}",
        "role": "supplier",
        "name": "A supplier",
        "keys": [base64.b64encode(public_key_bytes(key)).decode()],
    }
    answer = httpx.post(base + "/api/v1/parties", json=body, headers=ADMIN, timeout=30)
    assert answer.status_code == 201, answer.text
    index: int = answer.json()["receipt"]["index"]
    return index, key


def attest(base: str, key: Ed25519PrivateKey, party: str, body: dict[str, Any]) -> int:
    """Submit a signed attestation; return its index."""
    envelope = sign_statement({"by": party, "n": uuid.uuid4().hex, **body}, [key])
    answer = httpx.post(base + "/api/v1/statements", content=envelope, timeout=30)
    assert answer.status_code == 201, answer.text
    index: int = answer.json()["index"]
    return index


def origin(items: list[str]) -> dict[str, Any]:
    return {
        "type": "origin",
        "items": [f"https://id.gs1.org{i}" for i in items],
        "place": {"country": "CO", "region": "Huila"},
        "producer": "Finca",
        "date": "2026-07-14",
    }


# --- Services -----------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveService]:
    """The service under uvicorn (one worker, demo data, heartbeats every half second)."""
    env = dict(FEED_ENV)
    drop: Callable[[], None] | None = None
    if request.param == "postgresql":
        url, drop = new_postgres_schema(request.getfixturevalue("postgres_server"))
        env["PROVENANCE_DATABASE_URL"] = url
    started = start_service(tmp_path_factory.mktemp("feed"), extra_env=env)
    yield started
    stop_service(started)
    if drop is not None:
        drop()


@pytest.fixture(scope="module")
def supplier(service: LiveService) -> tuple[str, Ed25519PrivateKey]:
    """A supplier registered on the service, to sign attestations."""
    party = f"farm-{uuid.uuid4().hex[:8]}"
    return party, register(service.base, party)[1]


# --- Events -------------------------------------------------------------------------------------


def test_new_entries_arrive_as_events(
    service: LiveService, streams: Callable[..., SseClient]
) -> None:
    stream = streams(service.base)
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert stream.headers["cache-control"] == "no-cache"
    assert stream.retry == 2000
    first, _ = register(service.base)
    assert stream.last_id == str(first - 1), "the opening frame names where the stream starts"
    second, _ = register(service.base)
    events = stream.events(2)
    assert [e["index"] for e in events] == [first, second]
    assert all(e["kind"] == "party.register" and e["items"] == [] for e in events)
    assert all(abs(e["time"] - time.time() * 1000) < 60_000 for e in events)
    assert stream.last_id == str(second)
    assert stream.next_event(timeout=2 * HEARTBEAT) is None, "nothing more"


def test_item_filter_gives_what_is_said_about_the_item(
    service: LiveService,
    supplier: tuple[str, Ed25519PrivateKey],
    streams: Callable[..., SseClient],
) -> None:
    party, key = supplier
    lot = f"{PRODUCT}/10/FEED-{uuid.uuid4().hex[:6]}"
    stream = streams(service.base, f"?item={lot.lstrip('/')}")
    by_uri = streams(service.base, f"?item=https://id.gs1.org{lot}")
    said = [
        attest(service.base, key, party, origin([lot])),  # the lot itself
        attest(service.base, key, party, origin([lot + "/21/7"])),  # one of its serials
        attest(service.base, key, party, {"type": "product", "items": [
            "https://id.gs1.org" + PRODUCT], "name": "Beans"}),  # its product speaks for it
    ]  # fmt: skip
    attest(service.base, key, party, origin([f"{PRODUCT}/10/OTHER-{uuid.uuid4().hex[:6]}"]))
    register(service.base)
    last = attest(service.base, key, party, origin(["/01/09506000134352/10/X", lot]))
    for client in (stream, by_uri):
        events = client.events(4)
        assert [e["index"] for e in events] == [*said, last]
        assert events[0]["items"] == [lot]
        assert events[1]["items"] == [lot + "/21/7"]
        assert events[3]["items"] == sorted(["/01/09506000134352/10/X", lot])
        assert client.next_event(timeout=2 * HEARTBEAT) is None


def test_kind_filter_takes_a_kind_and_its_sub_kinds(
    service: LiveService,
    supplier: tuple[str, Ed25519PrivateKey],
    streams: Callable[..., SseClient],
) -> None:
    party, key = supplier
    parties = streams(service.base, "?kind=party")
    both = streams(service.base, "?kind=origin&kind=party.register")
    partial = streams(service.base, "?kind=part")  # a prefix of a word is not a kind
    registered, _ = register(service.base)
    attested = attest(service.base, key, party, origin([f"{PRODUCT}/10/K"]))
    assert [e["index"] for e in parties.events(1)] == [registered]
    assert [e["index"] for e in both.events(2)] == [registered, attested]
    for client in (parties, partial):
        assert client.next_event(timeout=2 * HEARTBEAT) is None


def test_heartbeats_come_and_move_a_filtered_streams_resume_point(
    service: LiveService, streams: Callable[..., SseClient]
) -> None:
    stream = streams(service.base, "?kind=no-such-kind")
    start = int(stream.last_id or "")
    passed_over, _ = register(service.base)
    assert stream.next_event(timeout=4 * HEARTBEAT) is None
    assert "heartbeat" in stream.comments
    # The entry did not match; a heartbeat told the client it need not look at it again.
    assert int(stream.last_id or "") == passed_over > start


def test_reconnecting_with_last_event_id_misses_nothing_and_repeats_nothing(
    service: LiveService, streams: Callable[..., SseClient]
) -> None:
    stream = streams(service.base)
    before = [register(service.base)[0] for _ in range(3)]
    assert [e["index"] for e in stream.events(3)] == before
    resume = stream.last_id
    assert resume == str(before[-1])
    stream.close()
    missed = [register(service.base)[0] for _ in range(4)]
    again = streams(service.base, last_event_id=resume)
    assert [e["index"] for e in again.events(4)] == missed
    live = [register(service.base)[0] for _ in range(2)]
    assert [e["index"] for e in again.events(2)] == live
    assert again.next_event(timeout=2 * HEARTBEAT) is None, "nothing twice"
    # Reconnecting with what the client had before it left replays exactly the same entries.
    replay = streams(service.base, "?since=0", last_event_id=resume)
    assert [e["index"] for e in replay.events(6)] == missed + live


def test_since_starts_after_an_index_for_clients_without_headers(
    service: LiveService, streams: Callable[..., SseClient]
) -> None:
    first, _ = register(service.base)
    second, _ = register(service.base)
    stream = streams(service.base, f"?since={first - 1}")
    assert [e["index"] for e in stream.events(2)] == [first, second]
    everything = streams(service.base, "?since=-1&kind=party.register")
    assert everything.events(1)[0]["index"] == 0, "from the first entry: the founding"


@pytest.mark.parametrize(
    ("query", "last_event_id", "says"),
    [
        ("", "abc", "is not a log index"),
        ("", "-2", "is not a log index"),
        ("", "007", "is not a log index"),
        ("", "99999999999", "past the log's last index"),
        ("?since=99999999999", None, "past the log's last index"),
        ("?item=01/12345678901234", None, "not a valid item path"),
        ("?kind=Not%20a%20kind", None, "is not an entry kind"),
    ],
)
def test_bad_resume_points_and_filters_are_refused(
    service: LiveService, query: str, last_event_id: str | None, says: str
) -> None:
    client = SseClient(service.base, query, last_event_id)
    try:
        assert client.status == 400
        assert client.headers["content-type"] == "application/problem+json"
        problem = json.loads(client.body())
        assert problem["status"] == 400
        assert says in problem["detail"]
    finally:
        client.close()


def test_the_live_script_announces_entries_about_the_item(
    service: LiveService, supplier: tuple[str, Ed25519PrivateKey], phone: Page
) -> None:
    party, key = supplier
    lot = f"{PRODUCT}/10/LIVE-{uuid.uuid4().hex[:6]}"
    phone.goto(service.base + "/")
    phone.evaluate(
        """lot => {
            const root = document.createElement("div");
            root.dataset.liveItem = lot;
            root.dataset.liveKind = "origin";
            const status = document.createElement("span");
            status.setAttribute("data-live-status", "");
            status.setAttribute("data-text-live", "Live");
            root.append(status);
            document.body.append(root);
            document.addEventListener("provenance:entry", e => {
                const seen = document.createElement("output");
                seen.className = "announced";
                seen.textContent = JSON.stringify(e.detail);
                root.append(seen);
            });
        }""",
        lot,
    )
    phone.add_script_tag(url="/static/live.js")
    status = phone.locator("[data-live-status]")
    expect(status).to_have_attribute("data-state", "live")
    expect(status).to_have_text("Live")
    register(service.base)  # not about the lot
    index = attest(service.base, key, party, origin([lot]))
    announced = phone.locator("output.announced")
    expect(announced).to_have_count(1)
    entry = json.loads(announced.text_content() or "")
    assert (entry["index"], entry["kind"], entry["items"]) == (index, "origin", [lot])
    assert abs(entry["time"] - time.time() * 1000) < 60_000


# --- Two workers --------------------------------------------------------------------------------


def start_workers(directory: Path, extra_env: dict[str, str], workers: int = 2) -> LiveService:
    """Start ``python -m api --workers N`` over ``directory`` and wait until it answers."""
    port = free_port()
    database = directory / "live.db"
    env = {
        **os.environ,
        "PROVENANCE_DATABASE_URL": f"sqlite:///{database}",
        "PROVENANCE_KEYS_DIR": str(directory / "keys"),
        **extra_env,
    }
    command = [sys.executable, "-m", "api", "--port", str(port), "--workers", str(workers)]
    command += ["--log-level", "warning"]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(base + "/", timeout=2):
                return LiveService(base, database, directory / "keys", process)
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"the service did not start:\n{process.communicate()[0]}")
            time.sleep(0.2)


def worker_of(service: LiveService, client_port: int) -> int:
    """The pid of the worker process that holds the server's end of a client's connection."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[2].rsplit(":", 1)[1], 16) == client_port:
                inodes.add(f"socket:[{fields[9]}]")
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            if f"\nPPid:\t{service.process.pid}\n" not in status:
                continue
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                    return int(pid)
        except OSError:
            continue
    raise AssertionError(f"no worker holds the connection from port {client_port}")


@pytest.fixture(params=["sqlite", "postgresql"])
def two_workers(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[LiveService, str]]:
    """The service with 2 workers, and its database URL."""
    env = dict(FEED_ENV)
    drop: Callable[[], None] | None = None
    url = f"sqlite:///{tmp_path / 'live.db'}"
    if request.param == "postgresql":
        url, drop = new_postgres_schema(request.getfixturevalue("postgres_server"))
    env["PROVENANCE_DATABASE_URL"] = url
    started = start_workers(tmp_path, env)
    try:
        yield started, url
    finally:
        if started.process.poll() is None:
            stop_service(started)
        elif started.process.stdout:
            started.process.stdout.close()
        if drop is not None:
            drop()


def test_entries_appended_elsewhere_reach_the_clients_of_every_worker(
    two_workers: tuple[LiveService, str], streams: Callable[..., SseClient]
) -> None:
    service, url = two_workers
    # The kernel hands each connection to whichever worker accepts first (often one worker
    # takes them all): open a few, then append from a third process, the test itself, so every
    # client's worker learns of the entries only by watching the database, never by committing
    # them itself. One more entry goes through the service, through whichever worker it reaches.
    clients = [streams(service.base) for _ in range(6)]
    workers = {worker_of(service, client.port) for client in clients}
    assert workers  # each client is served by a worker of this service
    ledger, keys = open_ledger(Settings(database_url=url, keys_dir=service.keys_dir).core())
    try:
        appended = [_register(ledger, keys) for _ in range(2)]
    finally:
        ledger.close()
        ledger.log.store.close()
    appended.append(register(service.base)[0])
    for client in clients:
        assert [e["index"] for e in client.events(3)] == appended
    # Stopping the service ends the open streams at once instead of waiting on them.
    started = time.monotonic()
    service.process.terminate()
    service.process.wait(timeout=15)
    assert time.monotonic() - started < 10
    with pytest.raises(EOFError):
        clients[0].next_event(timeout=5)


# --- The broadcaster, in process ----------------------------------------------------------------


def test_filters_match_kinds_with_their_sub_kinds_and_items_with_their_levels() -> None:
    review = feed_entry(5, 0, "review.answer", ["/01/09506000134383/10/L1/21/9"])
    assert FeedFilter().matches(review)
    assert FeedFilter(("review",)).matches(review)
    assert not FeedFilter(("review.hide",)).matches(review)
    assert not FeedFilter(("rev",)).matches(review)
    assert FeedFilter(item=item_keys("01/09506000134383/10/L1")).matches(review)
    assert FeedFilter(item=item_keys("01/09506000134383")).matches(review)
    assert not FeedFilter(item=item_keys("01/09506000134383/10/L")).matches(review)
    product = feed_entry(6, 0, "product", ["/01/09506000134383"])
    assert FeedFilter(item=item_keys("01/09506000134383/10/L1/21/9")).matches(product)
    assert not FeedFilter(("review",), item_keys("01/09506000134383/10/L1")).matches(product)
    assert review.frame == (
        b'id: 5\nevent: entry\ndata: {"index":5,"time":0,"kind":"review.answer",'
        b'"items":["/01/09506000134383/10/L1/21/9"]}\n\n'
    )


def run_apart(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``scenario`` in an event loop of its own thread (the browser's loop may hold this one)."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, scenario()).result()


async def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


def _register(ledger: Ledger, keys: OperatorKeys) -> int:
    body = {
        "type": PARTY_REGISTER,
        "by": OPERATOR_ID,
        "party": {"id": f"p-{uuid.uuid4().hex[:8]}", "role": "supplier", "name": "P"},
        "keys": [base64.b64encode(public_key_bytes(generate_private_key())).decode()],
    }
    (receipt,) = ledger.commit([ledger.prepare(sign_statement(body, [keys.operator_key]))])
    assert not isinstance(receipt, Exception)
    return receipt.index


def test_a_subscriber_that_falls_behind_is_dropped(ledger: Ledger) -> None:
    async def scenario() -> None:
        feed = Feed(ledger, poll=0.01, heartbeat=60, backlog=3)
        slow, start = await feed.subscribe(FeedFilter())
        keen, _ = await feed.subscribe(FeedFilter())
        await asyncio.to_thread(ledger.log.append, [("note", b"one"), ("note", b"two")])
        await _until(lambda: len(keen.pending) == 2)
        assert [e.index for e in keen.pending] == [start, start + 1]
        keen.pending = []
        await asyncio.to_thread(ledger.log.append, [("note", b"three"), ("note", b"four")])
        await _until(lambda: slow.closed)
        assert feed.subscribers == 1, "the slow one is gone, the keen one stays"
        assert not keen.closed
        assert [e.index for e in keen.pending] == [start + 2, start + 3]
        feed.unsubscribe(keen)

    run_apart(scenario)


def test_what_this_process_commits_wakes_the_feed_without_waiting_for_a_poll(
    ledger: Ledger, operator_keys: OperatorKeys
) -> None:
    async def scenario() -> None:
        feed = Feed(ledger, poll=3600, heartbeat=3600, backlog=10)
        subscriber, _ = await feed.subscribe(FeedFilter(("party",)))
        started = time.monotonic()
        index = await asyncio.to_thread(_register, ledger, operator_keys)
        await _until(lambda: bool(subscriber.pending), timeout=2)
        assert time.monotonic() - started < 2
        (entry,) = subscriber.pending
        assert (entry.index, entry.kind, entry.items) == (index, "party.register", ())
        feed.close()
        assert subscriber.closed

    run_apart(scenario)
