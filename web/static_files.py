"""Static assets (CSS, the verifier script) served with long-lived caching.

Each asset's URL carries a hash of its content (``/static/app.css?v=<hash>``), so a page can let
browsers keep it for a year and a new release still reaches them at once.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

STATIC_DIR = Path(__file__).parent / "static"


class _CachedStatic(StaticFiles):
    """StaticFiles that marks versioned URLs immutable and forbids sniffing."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        versioned = b"v=" in scope.get("query_string", b"")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                cache_control = "public, max-age=31536000, immutable" if versioned else "no-cache"
                headers.append((b"cache-control", cache_control.encode()))
                headers.append((b"x-content-type-options", b"nosniff"))
                message = {**message, "headers": headers}
            await send(message)

        await super().__call__(scope, receive, send_with_headers)


def mount_static(app: FastAPI) -> None:
    """Serve ``web/static`` under ``/static``."""
    app.mount("/static", _CachedStatic(directory=STATIC_DIR), name="static")


@cache
def static_url(name: str) -> str:
    """The versioned URL of the asset ``name``: its content hash busts caches on change."""
    digest = hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]
    return f"/static/{name}?v={digest}"
