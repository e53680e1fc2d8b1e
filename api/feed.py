"""The live feed: new log entries pushed to connected clients as Server-Sent Events.

One :class:`Feed` per worker process watches the log: it looks at the log's size every
``feed_poll`` seconds (which is how it sees what other workers and machines append) and at once
when this process commits (the ledger's ``on_commit``). It reads each new batch of entries once
(index, time, kind, and the items the ``item_ref`` projection says each names), encodes each as an
SSE frame once, and hands the frames to every subscriber whose filter they match. A subscriber that
falls ``feed_backlog`` events behind is dropped: its client reconnects with ``Last-Event-ID`` and
catches up from the log, so being dropped loses nothing.

A stream (:class:`EventStream`) first catches up from the log, page by page, from just after the
client's resume point up to the index where its subscription took over; from there on the feed
gives it everything. Every frame carries its log index as its SSE ``id``, and a stream never sends
an index at or below one it has already dealt with, so a client misses nothing and gets nothing
twice however often it reconnects.

The poller runs only while someone listens: the first subscriber starts it, and it stops when the
last one leaves. This module reads the log; it never writes to it, and it never decides what an
entry means beyond its kind and the items the projection names.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from fastapi import Request
from sqlalchemy import text
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from provenance.entry import MAGIC
from provenance.errors import StoreError
from provenance.ledger import Ledger
from provenance.queries import ItemKeys
from provenance.store.sql import Reader, blob

logger = logging.getLogger(__name__)

PAGE = 500
"""How many entries one read of the log takes, when catching up and when polling."""

RETRY_MS = 2000
"""How long a client waits before reconnecting (SSE ``retry``)."""

ERROR_PAUSE = 1.0
"""Seconds the poller waits after a failed read of the log before it tries again."""

_HEADER_BYTES = 64  # magic, index and time fit in 13 + 1 + 19 + 1 + 19 bytes
_ENTRIES = text(
    f"SELECT idx, kind, substr(leaf, 1, {_HEADER_BYTES}) FROM log_entry"
    " WHERE idx >= :a AND idx < :b ORDER BY idx"
)
_ITEMS = text("SELECT idx, item FROM item_ref WHERE idx >= :a AND idx < :b ORDER BY idx, item")


# --- What the feed says about an entry ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """A log entry as the feed announces it, with its SSE frame encoded once for every client."""

    index: int
    time_ms: int
    kind: str
    items: tuple[str, ...]
    frame: bytes


def feed_entry(index: int, time_ms: int, kind: str, items: Sequence[str]) -> FeedEntry:
    """Return the feed entry of an entry, with its ``entry`` event frame."""
    data = json.dumps(
        {"index": index, "time": time_ms, "kind": kind, "items": list(items)},
        separators=(",", ":"),
    )
    frame = f"id: {index}\nevent: entry\ndata: {data}\n\n".encode()
    return FeedEntry(index, time_ms, kind, tuple(items), frame)


def read_entries(reader: Reader, start: int, end: int) -> list[FeedEntry]:
    """Return the feed entries of the log's entries with ``start <= index < end``, in order.

    Only the head of each leaf is read (its time is in the header line): payloads may be large.
    """
    bounds = {"a": start, "b": end}
    items: dict[int, list[str]] = {}
    for index, item in reader.connection.execute(_ITEMS, bounds):
        named = items.setdefault(int(index), [])
        if not named or named[-1] != item:  # one item may be named in several roles
            named.append(str(item))
    entries = []
    for index, kind, head in reader.connection.execute(_ENTRIES, bounds):
        parts = blob(head).split(b" ", 3)
        if len(parts) < 4 or parts[0] != MAGIC or parts[1] != b"%d" % index:
            raise StoreError(f"entry {index} does not start with its header")
        if not parts[2].isdigit():
            raise StoreError(f"entry {index} has no valid time")
        entries.append(feed_entry(int(index), int(parts[2]), str(kind), items.get(int(index), [])))
    return entries


@dataclass(frozen=True)
class FeedFilter:
    """Which entries a client wants: kinds (a kind and its sub-kinds: ``review`` matches
    ``review`` and ``review.answer``) and an item (entries naming it, a level above it that speaks
    for it, or anything below it: a lot's serials). Empty means everything."""

    kinds: tuple[str, ...] = ()
    item: ItemKeys | None = None
    _sub_kinds: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_sub_kinds", tuple(k + "." for k in self.kinds))

    @property
    def everything(self) -> bool:
        """Whether every entry matches."""
        return not self.kinds and self.item is None

    def matches(self, entry: FeedEntry) -> bool:
        """Return whether ``entry`` is one this filter lets through."""
        if (
            self.kinds
            and entry.kind not in self.kinds
            and not entry.kind.startswith(self._sub_kinds)
        ):
            return False
        if self.item is None:
            return True
        below = self.item.own + "/"
        return any(i in self.item.covered_by or i.startswith(below) for i in entry.items)


# --- The broadcaster ----------------------------------------------------------------------------


class Subscriber:
    """One stream's place in the feed: the matching entries waiting to be sent, and how far the
    feed has offered it entries."""

    __slots__ = ("closed", "filter", "heartbeat", "pending", "ready", "seen")

    def __init__(self, feed_filter: FeedFilter, seen: int) -> None:
        self.filter = feed_filter
        self.pending: list[FeedEntry] = []
        self.seen = seen
        """The last index the feed has offered (matching or not): every match up to it is in
        ``pending`` or was taken from it."""
        self.heartbeat = False
        self.closed = False
        self.ready = asyncio.Event()

    def close(self) -> None:
        """End the stream: it stops at its next wake-up."""
        self.closed = True
        self.pending = []
        self.ready.set()


class Feed:
    """The feed of one worker process over ``ledger``'s log; see the module's docstring."""

    def __init__(self, ledger: Ledger, *, poll: float, heartbeat: float, backlog: int) -> None:
        self.ledger = ledger
        self.poll = poll
        self.heartbeat = heartbeat
        self.backlog = backlog
        self._subscribers: set[Subscriber] = set()
        self._position: int | None = None
        """The next index to publish while the poller runs; None when it does not."""
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        ledger.on_commit.append(self._committed)

    @property
    def subscribers(self) -> int:
        """How many streams are connected."""
        return len(self._subscribers)

    async def read(self, start: int, end: int) -> list[FeedEntry]:
        """Return the feed entries in [start, end) that the log holds (read in a thread)."""
        return await asyncio.to_thread(self._read, start, end)

    async def size(self) -> int:
        """Return the log's size (read in a thread)."""
        return await asyncio.to_thread(self.ledger.log.size)

    def _read(self, start: int, end: int) -> list[FeedEntry]:
        with self.ledger.log.store.read() as reader:
            return read_entries(reader, start, end)

    def _read_new(self, start: int) -> list[FeedEntry]:
        with self.ledger.log.store.read() as reader:
            size = reader.size()
            if size <= start:
                return []
            return read_entries(reader, start, min(size, start + PAGE))

    async def subscribe(self, feed_filter: FeedFilter) -> tuple[Subscriber, int]:
        """Register a subscriber; return it and the index from which the feed will give it every
        matching entry (what comes before is the caller's to read from the log)."""
        if self._position is None:
            size = await self.size()
            if self._position is None:  # nobody started the poller while we read
                self._start(size)
        assert self._position is not None
        subscriber = Subscriber(feed_filter, self._position - 1)
        self._subscribers.add(subscriber)
        return subscriber, self._position

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Forget ``subscriber``; the poller stops with the last one."""
        self._subscribers.discard(subscriber)
        if not self._subscribers:
            self._wake.set()

    def close(self) -> None:
        """End every stream (the server is stopping); clients reconnect elsewhere and resume."""
        for subscriber in list(self._subscribers):
            subscriber.close()
        self._subscribers.clear()
        self._wake.set()

    def _start(self, size: int) -> None:
        self._position = size
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._task = self._loop.create_task(self._run(), name="feed-poller")
        _close_on_exit(self)

    def _committed(self, size: int) -> None:
        """Called in the committing thread after this process appended: poll now."""
        loop, position = self._loop, self._position
        if loop is None or position is None or size <= position:
            return
        with contextlib.suppress(RuntimeError):  # the loop has closed
            loop.call_soon_threadsafe(self._wake.set)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_beat = loop.time() + self.heartbeat
        try:
            while self._subscribers:
                try:
                    async with asyncio.timeout(max(0.0, min(self.poll, next_beat - loop.time()))):
                        await self._wake.wait()
                except TimeoutError:
                    pass
                self._wake.clear()
                if not self._subscribers:
                    break
                if loop.time() >= next_beat:
                    next_beat = loop.time() + self.heartbeat
                    self._beat()
                position = self._position
                assert position is not None
                try:
                    entries = await asyncio.to_thread(self._read_new, position)
                except Exception:  # the database is away: say so, and try again in a while
                    logger.exception("the live feed could not read the log")
                    await asyncio.sleep(ERROR_PAUSE)
                    continue
                if entries:
                    self._publish(entries)
                    if len(entries) == PAGE:
                        self._wake.set()  # more to read: no need to wait
        finally:
            self._position = None
            self._task = None

    def _publish(self, entries: list[FeedEntry]) -> None:
        last = entries[-1].index
        self._position = last + 1
        for subscriber in list(self._subscribers):
            subscriber.seen = last
            matched = (
                entries
                if subscriber.filter.everything
                else [e for e in entries if subscriber.filter.matches(e)]
            )
            if not matched:
                continue
            if len(subscriber.pending) + len(matched) > self.backlog:
                self._subscribers.discard(subscriber)
                subscriber.close()
                continue
            subscriber.pending.extend(matched)
            subscriber.ready.set()

    def _beat(self) -> None:
        for subscriber in self._subscribers:
            subscriber.heartbeat = True
            subscriber.ready.set()


def get_feed(request: Request) -> Feed:
    """Return the app's feed, made on first use for the ledger its lifespan opened."""
    state = request.app.state
    ledger: Ledger = state.ledger
    feed: Feed | None = getattr(state, "feed", None)
    if feed is None or feed.ledger is not ledger:
        settings = state.settings
        feed = Feed(
            ledger,
            poll=settings.feed_poll,
            heartbeat=settings.feed_heartbeat,
            backlog=settings.feed_backlog,
        )
        state.feed = feed
    return feed


# --- Ending streams when the server stops -------------------------------------------------------

_feeds: weakref.WeakSet[Feed] = weakref.WeakSet()


class _CloseFeeds:
    """A signal handler that calls the server's own, then ends every feed's streams."""

    def __init__(self, previous: Callable[[int, FrameType | None], Any]) -> None:
        self.previous = previous

    def __call__(self, number: int, frame: FrameType | None) -> None:
        self.previous(number, frame)
        for feed in list(_feeds):
            loop = feed._loop
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(feed.close)


def _close_on_exit(feed: Feed) -> None:
    """End ``feed``'s streams as soon as the process is told to stop.

    Uvicorn waits for open responses to finish before it shuts down, and a stream never finishes
    by itself: without this a restart would wait on every connected client. The server's own
    SIGTERM/SIGINT handler is kept and called first; where there is none (not the main thread, or
    a default handler) nothing is installed.
    """
    _feeds.add(feed)
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(signum)
        if callable(previous) and not isinstance(previous, _CloseFeeds):
            signal.signal(signum, _CloseFeeds(previous))


# --- The stream ---------------------------------------------------------------------------------


class EventStream(Response):
    """A ``text/event-stream`` response that follows the feed from just after ``after`` (or, when
    it is None, from the feed's current end) until the client leaves or the feed drops it."""

    media_type = "text/event-stream"

    def __init__(self, feed: Feed, feed_filter: FeedFilter, after: int | None) -> None:
        self.status_code = 200
        self.background = None
        self.feed = feed
        self.filter = feed_filter
        self.after = after
        # No content-length: the body never ends by itself. No buffering by proxies (nginx).
        self.init_headers({"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        subscriber, live_from = await self.feed.subscribe(self.filter)
        watcher = asyncio.get_running_loop().create_task(_watch_disconnect(receive, subscriber))
        try:
            await self._stream(send, subscriber, live_from)
        finally:
            self.feed.unsubscribe(subscriber)
            watcher.cancel()

    async def _stream(self, send: Send, subscriber: Subscriber, live_from: int) -> None:
        after = live_from - 1 if self.after is None else self.after
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        # The opening frame sets the client's last event id, so that even a client that saw no
        # event yet resumes from where it started.
        await _body(send, b"retry: %d\nid: %d\n\n" % (RETRY_MS, after))
        last = after  # the last index this stream has dealt with: sent, or passed over
        told = after  # the last id the client has been given
        while last + 1 < live_from and not subscriber.closed:  # catch up from the log
            entries = await self.feed.read(last + 1, min(live_from, last + 1 + PAGE))
            if not entries:
                break
            last = entries[-1].index
            matched = [e for e in entries if self.filter.matches(e)]
            if matched:
                told = matched[-1].index
                await _body(send, b"".join(e.frame for e in matched))
        while True:
            await subscriber.ready.wait()
            subscriber.ready.clear()
            if subscriber.closed:
                break
            pending, subscriber.pending = subscriber.pending, []
            fresh = [e for e in pending if e.index > last]
            parts = [e.frame for e in fresh]
            if fresh:
                told = last = fresh[-1].index
            last = max(last, subscriber.seen)
            if subscriber.heartbeat:
                subscriber.heartbeat = False
                # A filtered stream also tells how far it has looked, so that a reconnect does not
                # scan again what matched nothing.
                moved = b"id: %d\n" % last if last > told else b""
                told = last
                parts.append(b": heartbeat\n" + moved + b"\n")
            if parts:
                await _body(send, b"".join(parts))
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        if self.background is not None:
            await self.background()


async def _body(send: Send, chunk: bytes) -> None:
    await send({"type": "http.response.body", "body": chunk, "more_body": True})


async def _watch_disconnect(receive: Receive, subscriber: Subscriber) -> None:
    """Close the subscriber when the client goes away: a stream that waits learns it no other way."""
    while (await receive())["type"] != "http.disconnect":
        pass
    subscriber.close()
