"""The public pages: an item (product, lot or serial), a party, the log and the recall list.

Each page is a function of the log at its current size, so it carries an ETag naming that size
(and the language): a phone that scans the same code again gets 304 until the log grows, and the
server answers repeat views from a small cache of rendered pages. Every page has a JSON twin
(``Accept: application/json`` or ``?format=json``) built from the same data as the page.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import text

from provenance import queries
from provenance import reviews as review_store
from provenance.attestations import key_of
from provenance.evidence import build_evidence, evidence_json
from provenance.gs1.digital_link import DigitalLink
from provenance.ledger import Ledger
from provenance.story import Story, item_story, lots_of
from web.csrf import csrf_token, issued_now
from web.lru import LRU
from web.templating import language_of, render, wants_json
from web.twins import review_twin, story_twin, view_twin

router = APIRouter(include_in_schema=False)

RECENT_ENTRIES = 20


def _ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


@dataclass(frozen=True)
class CachedPage:
    """A rendered answer, kept with its gzip form so repeat views cost no compression."""

    status: int
    headers: dict[str, str]
    body: bytes
    gzipped: bytes

    @classmethod
    def of(cls, response: Response) -> CachedPage:
        headers = {k: v for k, v in response.headers.items() if k != "content-length"}
        body = bytes(response.body)
        return cls(response.status_code, headers, body, gzip.compress(body, 6))

    def answer(self, accept_encoding: str, extra: dict[str, str]) -> Response:
        if "gzip" in accept_encoding and len(self.gzipped) < len(self.body):
            headers = {**self.headers, **extra, "Content-Encoding": "gzip"}
            return Response(self.gzipped, status_code=self.status, headers=headers)
        return Response(self.body, status_code=self.status, headers={**self.headers, **extra})


PageKey = tuple[str, int, str, bool, str]
"""(page, log size, language, JSON twin, today's UTC date): everything a page is a function of."""


class PageCache(LRU[PageKey, CachedPage]):
    """Rendered answers keyed by :data:`PageKey`: the log only grows, so an answer for a size (on
    a given day) never changes, and old sizes simply age out."""

    def __init__(self, capacity: int = 512) -> None:
        super().__init__(capacity)
        self.seen = 0  # the largest log size a page was looked up at

    def at_size(self, size: int) -> None:
        """Note the log's size; a smaller one than seen before means the database is not the log
        these pages were built from (a restored backup, a lagging replica): forget them all."""
        if size < self.seen:
            self.clear()
        self.seen = size


def page_cache(request: Request) -> PageCache:
    """This app's page cache (one per worker process)."""
    cache: PageCache | None = getattr(request.app.state, "pages", None)
    if cache is None:
        cache = request.app.state.pages = PageCache()
    return cache


def _lookup(
    request: Request, page: str
) -> tuple[PageKey, dict[str, str], Response | CachedPage | None]:
    """The cache key and headers of ``page`` at the log's current size, and what can answer it
    without building: a 304 for a matching ETag, or the cached page (None: build it)."""
    size = _ledger(request).refresh()  # other workers' registry changes (a suspension) show at once
    page_cache(request).at_size(size)
    language, twin = language_of(request), wants_json(request)
    # A page says whether each certificate is valid today: the same log reads differently
    # tomorrow, when one expires, so the day is part of what a page is a function of.
    today = datetime.now(UTC).date().isoformat()
    tag = hashlib.sha256(f"{page}\0{language}\0{twin}\0{today}".encode()).hexdigest()[:16]
    etag = f'"{size}-{tag}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache", "Vary": "Accept, Accept-Language"}
    key = (page, size, language, twin, today)
    if etag in request.headers.get("if-none-match", ""):
        return key, headers, Response(status_code=304, headers=headers)
    headers["Vary"] = "Accept, Accept-Language, Accept-Encoding"
    return key, headers, page_cache(request).get(key)


def _answer(request: Request, key: PageKey, headers: dict[str, str], built: Response) -> Response:
    found = CachedPage.of(built)
    if found.status == 200:
        page_cache(request).put(key, found)
    return found.answer(request.headers.get("accept-encoding", ""), headers)


def cached_page(request: Request, page: str, build: Callable[[int], Response]) -> Response:
    """Answer ``page`` at the log's current size: 304 for a matching ETag, else from the cache,
    else ``build(size)`` (cached if it succeeded). Answers are gzipped for clients that accept it."""
    key, headers, found = _lookup(request, page)
    if isinstance(found, Response):
        return found
    if found is not None:
        return found.answer(request.headers.get("accept-encoding", ""), headers)
    return _answer(request, key, headers, build(key[1]))


async def cached_page_async(
    request: Request, page: str, build: Callable[[int], Response]
) -> Response:
    """:func:`cached_page` for an ``async`` route: a repeat view (one local read, then memory)
    is answered on the event loop; only a page to build goes to the thread pool."""
    key, headers, found = _lookup(request, page)
    if isinstance(found, Response):
        return found
    if found is not None:
        return found.answer(request.headers.get("accept-encoding", ""), headers)
    return _answer(request, key, headers, await run_in_threadpool(build, key[1]))


async def item_page(request: Request, link: DigitalLink) -> Response:
    """The page (or its JSON twin) for the item ``link`` names; 404 if nothing is recorded."""
    keys = queries.item_keys("https://id.gs1.org" + key_of(link))

    def build(size: int) -> Response:
        ledger = _ledger(request)
        with ledger.log.store.read() as reader:
            story = item_story(reader, keys, ledger.registry.parties, datetime.now(UTC).date())
            if story is None:
                raise HTTPException(status_code=404, detail=f"nothing is recorded about {keys.own}")
            community = _community(reader, keys)
            claims = list(story.claims) + community.claims
            evidence = build_evidence(
                reader, claims, request.app.state.keys.log_signer.verifier_key()
            )
        evidence["reviews"] = review_store.evidence_contents(community.reviews)
        settings = request.app.state.settings
        base = settings.base_url.rstrip("/")
        context = {
            **_item_context(story, base),
            "community": community,
            "names": {p.id: p.name for p in ledger.registry.parties.values()},
            "csrf": csrf_token(settings.secret_key, keys.own.lstrip("/"), issued),
            "log_size": size,
            "evidence": evidence_json(evidence),
        }
        twin = {
            **story_twin(story, base),
            "reviews": [review_twin(v) for v in community.reviews],
            "aggregates": {k: vars(a) for k, a in community.aggregates.items()},
            "evidence": evidence,
        }
        return render(request, "item.html", context, twin=twin)

    # The form's CSRF token is issued per hour: the hour is part of the cached page's identity.
    issued = issued_now()
    return await cached_page_async(request, f"item:{keys.own}:{issued}", build)


@dataclass
class Community:
    """An item's reviews (with those of the levels below it) and aggregates per level."""

    reviews: list[review_store.ReviewView]
    aggregates: dict[str, review_store.Aggregate]
    claims: list[int]


def _community(reader: Any, keys: queries.ItemKeys) -> Community:
    views = review_store.reviews(reader, items=review_store.items_under(reader, keys.own))
    aggregates = {keys.own: review_store.aggregate(views)}
    for level in keys.covered_by[1:]:
        aggregates[level] = review_store.aggregate(
            review_store.reviews(reader, items=review_store.items_under(reader, level))
        )
    claims = [v.index for v in views] + [a.index for v in views for a in v.answers]
    return Community(views[::-1], aggregates, claims)


def _item_context(story: Story, base: str) -> dict[str, Any]:
    return {
        "story": story,
        "item_url": base + story.item.own,
        "path": story.item.own.lstrip("/"),
    }


PartyId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]


@router.get("/parties/{party_id}")
def party_page(request: Request, party_id: PartyId) -> Response:
    """A party: who it is, its standing, its keys, its attestations and what was said about it."""

    def build(size: int) -> Response:
        ledger = _ledger(request)
        party = ledger.registry.parties.get(party_id)
        if party is None:
            raise HTTPException(status_code=404, detail=f"no party {party_id!r}")
        keys = sorted(
            (k for k in ledger.registry.keys.values() if k.party_id == party_id),
            key=lambda k: k.added_at,
        )
        with ledger.log.store.read() as reader:
            made = _indexes(
                reader, "party = :p AND subject IS NULL ORDER BY idx DESC LIMIT 50", party_id
            )
            about = _indexes(reader, "subject = :p ORDER BY idx", party_id)
            certified = [
                v
                for v in queries.statements(
                    reader, _indexes(reader, "type = 'certification'", None)
                )
                if v.body["subject"].get("party") == party_id
            ]
            recent = queries.statements(reader, made)[::-1]
            history = queries.statements(reader, about)
            responses = review_store.response_times(reader, party_id)
            hidden = review_store.hidden_by_moderator(reader).get(party_id, 0)
        twin = {
            "party": {
                "id": party.id, "name": party.name, "role": party.role, "country": party.country,
                "website": party.website, "gln": party.gln, "status": party.status,
                "status_reason": party.status_reason, "registered_at": party.registered_at,
            },
            "keys": [
                {"keyid": k.keyid, "added_at": k.added_at, "revoked_at": k.revoked_at,
                 "revoke_reason": k.revoke_reason}
                for k in keys
            ],
            "attestations": [view_twin(v) for v in recent],
            "certifications": [view_twin(v) for v in certified],
            "history": [view_twin(v) for v in history],
            "complaints": {"about_its_items": responses.complaints, "answered": responses.answered,
                           "median_wait_ms": responses.median_wait_ms},
            "reviews_hidden": hidden,
        }  # fmt: skip
        context = {
            "party": party,
            "keys": keys,
            "recent": recent,
            "certified": certified,
            "history": history,
            "responses": responses,
            "hidden": hidden,
        }
        return render(request, "party.html", context, twin=twin)

    return cached_page(request, "party:" + party_id, build)


def _indexes(reader: Any, where: str, party: str | None) -> list[int]:
    rows = reader.connection.execute(
        text(f"SELECT idx FROM statement WHERE {where}"), {"p": party} if party else {}
    ).all()
    return [int(r[0]) for r in rows]


@router.get("/log")
def log_page(request: Request) -> Response:
    """The log: its latest checkpoint, its verifier key, recent entries and how to check it."""

    def build(size: int) -> Response:
        ledger = _ledger(request)
        start = max(0, size - RECENT_ENTRIES)
        with ledger.log.store.read() as reader:
            views = {v.index: v for v in queries.statements(reader, list(range(start, size)))}
            kinds = reader.connection.execute(
                text("SELECT idx, kind FROM log_entry WHERE idx >= :s ORDER BY idx DESC"),
                {"s": start},
            ).all()
        entries = [(int(i), str(k), views.get(int(i))) for i, k in kinds]
        keys = request.app.state.keys
        twin = {
            "origin": ledger.log.origin,
            "size": size,
            "checkpoint": ledger.log.latest_checkpoint(),
            "verifier_key": keys.log_signer.verifier_key(),
            "recent": [{"index": i, "kind": k} for i, k, _ in entries],
        }
        context = {**twin, "entries": entries}
        return render(request, "log.html", context, twin=twin)

    return cached_page(request, "log", build)


@router.get("/recalls")
def recalls_page(request: Request) -> Response:
    """Every recall in force, newest first, with the lots it names."""

    def build(size: int) -> Response:
        ledger = _ledger(request)
        with ledger.log.store.read() as reader:
            views = queries.statements(
                reader, _indexes(reader, "type = 'recall' ORDER BY idx DESC", None)
            )
        active = sorted((v for v in views if v.status != "retracted"), key=lambda v: -v.index)
        items = {v.index: [queries.item_keys(uri).own for uri in v.body["items"]] for v in active}
        parties = {p: ledger.registry.parties.get(p) for p in {v.by for v in active}}
        twin = {"recalls": [{**view_twin(v), "item_paths": items[v.index]} for v in active]}
        context = {"recalls": active, "items": items, "parties": parties}
        return render(request, "recalls.html", context, twin=twin)

    return cached_page(request, "recalls", build)


def home_page(request: Request) -> Response:
    """The front page for people: what this is, and the products it knows."""

    def build(size: int) -> Response:
        ledger = _ledger(request)
        with ledger.log.store.read() as reader:
            rows = reader.connection.execute(
                text(
                    "SELECT r.item, MAX(r.idx) FROM item_ref r JOIN statement s ON s.idx = r.idx"
                    " WHERE s.type = 'product' GROUP BY r.item ORDER BY MAX(r.idx) DESC LIMIT 50"
                )
            ).all()
            products = queries.statements(reader, [int(r[1]) for r in rows])
            lots: dict[str, list[str]] = {}
            for view in products:
                for uri in view.body["items"]:
                    own = queries.item_keys(uri).own
                    lots[own] = lots_of(reader, own)
        twin = {
            "size": size,
            "products": [{**view_twin(v), "lots": lots} for v in products],
        }
        return render(request, "home.html", {"products": products, "lots": lots}, twin=twin)

    return cached_page(request, "home", build)
