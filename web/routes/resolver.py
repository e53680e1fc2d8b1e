"""The GS1-conformant resolver: Digital Link URIs (``/01/…``, ``/00/…``, ``/414/…``) answered at the
root of the service, and the resolver description file at ``/.well-known/gs1resolver``.

A request is parsed and fully validated (400, problem+json, naming the broken rule), checked
against the ledger (404 if nothing is recorded that speaks for the item), then answered:

- ``?linkType=all`` (or ``linkset``), or an ``Accept`` that prefers ``application/linkset+json``:
  the RFC 9264 linkset of the item and of every level above it;
- ``?linkType=<link type>``: 307 to that link, the rest of the query string passed on (404 if the
  item offers no such link);
- otherwise the default link: for a trade item, the page itself (``web.routes.pages.item_page``,
  which also answers its JSON twin); for other keys, 307 to it.

Every answer for a known item carries ``Link: <…?linkType=linkset>; rel="linkset"``, redirects too.
GET, HEAD and OPTIONS are answered; CORS is the application's middleware. The model (link types,
targets, linkset) is :mod:`web.resolver`; this module only reads requests and writes responses.

The path is read from the raw request path, not the decoded one, so that a lot holding ``/`` or
``%`` (sent as ``%2F``, ``%25``) reaches the Digital Link parser as sent.
"""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import Scope

from provenance import queries
from provenance.gs1.compression import decompress_digital_link, encodes_primary_key
from provenance.gs1.digital_link import DigitalLink, DigitalLinkError, parse_digital_link
from provenance.ledger import Ledger

# Names, not the module: ``web`` binds ``resolver`` to this routes module (web/__init__.py).
from web.resolver import (
    LINKSET_REQUESTS,
    PAGE_LINK_TYPE,
    PRIMARY_KEYS,
    Item,
    default_link_type,
    description,
    item_at,
    link_header,
    linkset,
    linkset_media_type,
    offered,
    passed_on_query,
    prefers_linkset,
    requested_link_type,
    with_query,
)
from web.routes import pages

router = APIRouter(include_in_schema=False)

METHODS = ["GET", "HEAD", "OPTIONS"]


def _base(request: Request) -> str:
    base: str = request.app.state.settings.base_url
    return base.removesuffix("/")


def _raw_query(request: Request) -> str:
    query: bytes = request.scope.get("query_string", b"")
    return query.decode("latin-1")


def _request_link(request: Request, base: str) -> DigitalLink:
    """Parse the request's path and query as a Digital Link on this host; DigitalLinkError if it
    is malformed or does not start at the root with its primary key. One trailing slash is
    tolerated."""
    raw_path: bytes = request.scope.get("raw_path") or request.scope["path"].encode()
    path = raw_path.decode("latin-1")
    if len(path) > 1 and path.endswith("/"):
        path = path[:-1]
    query = _raw_query(request)
    parts = urlsplit(base)
    origin = f"{parts.scheme}://{parts.netloc}"
    link = _parse(origin + path + (f"?{query}" if query else ""))
    if link.stem != origin:
        raise DigitalLinkError(
            "uri-stem",
            f"the path must start with its primary key, not {link.stem[len(origin) :]!r}",
        )
    return link


@functools.lru_cache(maxsize=4096)
def _parse(uri: str) -> DigitalLink:
    # A full GS1 parse takes about 100 µs; the same few codes are scanned again and again.
    return parse_digital_link(uri, permit_zero_suppressed_gtin=True)


def _headers_only(request: Request, response: Response) -> Response:
    """``response`` as HEAD answers it: the same status and headers (Content-Length included),
    no body."""
    if request.method != "HEAD":
        return response
    head = Response(status_code=response.status_code)
    head.raw_headers = list(response.raw_headers)
    return head


def _with_headers(response: Response, headers: dict[str, str]) -> Response:
    """``response`` (the page's) with the resolver's headers added; a Link it has is kept."""
    for name, value in headers.items():
        existing = response.headers.get(name) if name == "Link" else None
        response.headers[name] = f"{existing}, {value}" if existing else value
    return response


async def resolve(request: Request) -> Response:
    """Answer a Digital Link URI as a GS1-conformant resolver (see the module docstring).

    ``async``: a scanned code's repeat view is answered from memory on the event loop; what
    needs the database (an item not seen before, a page to build) goes to the thread pool."""
    base = _base(request)
    link = _request_link(request, base)
    item = item_at(base, link)
    await _require_known(request, item)
    return _headers_only(request, await _answer(request, link, item))


KNOWN_ITEMS_CACHED = 100_000


async def _require_known(request: Request, item: Item) -> None:
    """404 unless the ledger records something that speaks for ``item``. An item once known
    stays known (the log only grows), so each worker asks the database once per item."""
    known: set[str] = request.app.state.__dict__.setdefault("resolver_known", set())
    if item.keys.own in known:
        return
    if not await run_in_threadpool(_is_known, request.app.state.ledger, item.keys):
        raise HTTPException(status_code=404, detail=f"nothing is recorded about {item.keys.own}")
    if len(known) < KNOWN_ITEMS_CACHED:
        known.add(item.keys.own)


def _is_known(ledger: Ledger, keys: queries.ItemKeys) -> bool:
    with ledger.log.store.read() as reader:
        return queries.item_known(reader, keys)


async def _answer(request: Request, link: DigitalLink, item: Item) -> Response:
    # The CORS middleware answers preflights and requests that carry an Origin; these two also
    # tell clients that check without one (GS1's conformance suite does) that any origin may read.
    headers = {
        "Link": link_header(item),
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Methods": ", ".join(METHODS),
    }
    if request.method == "OPTIONS":
        return Response(status_code=204, headers={"Allow": ", ".join(METHODS), **headers})
    name = request.query_params.get("linkType", "")
    accept = request.headers.get("accept")
    if name in LINKSET_REQUESTS or (not name and prefers_linkset(accept)):
        return JSONResponse(
            linkset(item),
            media_type=linkset_media_type(accept),
            headers={**headers, "Vary": "Accept"},
        )
    if name:
        link_type = requested_link_type(item, name)
        if link_type is None:
            names = ", ".join(t.curie for t in offered(item))
            raise HTTPException(
                status_code=404,
                detail=f"{item.keys.own} offers no link of type {name!r} (it offers {names})",
            )
    else:
        link_type = default_link_type(item)
        if link_type.curie == PAGE_LINK_TYPE:
            # The page varies on Accept (and Accept-Language) itself.
            return _with_headers(await pages.item_page(request, link), headers)
        headers["Vary"] = "Accept"
    passed_on = passed_on_query(_raw_query(request))
    location = with_query(link_type.target(item), passed_on)
    return Response(status_code=307, headers={"Location": location, **headers})


for _key in PRIMARY_KEYS:
    router.add_api_route(f"/{_key}/{{rest:path}}", resolve, methods=METHODS)


@router.api_route("/.well-known/gs1resolver", methods=["GET", "HEAD"])
def resolver_description(request: Request) -> Response:
    """The resolver description file (GS1-Conformant Resolver standard)."""
    return _headers_only(request, JSONResponse(description(_base(request))))


# --- Compressed Digital Link URIs (registered last) -----------------------------------------------


class _CompressedRoute(APIRoute):
    """``/{segment}`` only when ``segment`` looks like a compressed Digital Link (it holds a primary
    key: :func:`~provenance.gs1.compression.encodes_primary_key`). Its router is included after
    every other (``web.install_last``), so ``/log`` and the other one-segment paths are never
    taken from their own routes."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is Match.NONE:
            return match, child
        segment = str(child.get("path_params", {}).get("segment", ""))
        if not encodes_primary_key(segment):
            return Match.NONE, {}
        return match, child


async def resolve_compressed(request: Request, segment: str) -> Response:
    """Answer a compressed Digital Link URI (``/AQnYUc1gmg``) as its uncompressed URI is answered,
    adding ``Link: <uncompressed URI>; rel="owl:sameAs"`` (GS1-Conformant Resolver standard). A
    segment that starts like one but does not decompress is a 400 naming the broken rule."""
    base = _base(request)
    parts = urlsplit(base)
    origin = f"{parts.scheme}://{parts.netloc}"
    uncompressed = decompress_digital_link(f"{origin}/{segment}")
    link = _parse(uncompressed)
    query = _raw_query(request)
    if query:
        # The request's own query (linkType, passed-on pairs) goes with the decompressed data.
        link = _parse(uncompressed + ("&" if "?" in uncompressed else "?") + query)
    item = item_at(base, link)
    await _require_known(request, item)
    response = await _answer(request, link, item)
    _with_headers(response, {"Link": f'<{uncompressed}>; rel="owl:sameAs"'})
    return _headers_only(request, response)


compressed_router = APIRouter(include_in_schema=False)
compressed_router.routes.append(
    _CompressedRoute("/{segment}", resolve_compressed, methods=METHODS, include_in_schema=False)
)
