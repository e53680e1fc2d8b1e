"""Errors as people see them: a readable page, in their language, with the right status.

The API answers errors as problem+json (``api/errors.py``); a person who opened a page in a browser
gets this page instead, with the same status code (never 200 for an error) and the same detail.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import Request
from fastapi.responses import Response

from web.templating import render

MACHINE_PREFIXES = (
    "/api/",
    "/epcis/",
    "/schemas/",
    "/checkpoint",
    "/docs",
    "/openapi.json",
    "/qr/",
)
TITLES = {400: "Bad request", 404: "Not found", 405: "Method not allowed", 429: "Too many requests"}


def wants_page(request: Request) -> bool:
    """True if a person's browser asked for this (HTML first in Accept) on a page path."""
    if request.url.path.startswith(MACHINE_PREFIXES) or request.query_params.get("format"):
        return False
    accept = request.headers.get("accept", "")
    return accept.startswith("text/html") or "application/xhtml+xml" in accept


def error_page(
    request: Request, status: int, detail: str, headers: Mapping[str, str] | None = None
) -> Response:
    """The error page for ``status`` with ``detail``."""
    title = TITLES.get(status, "Error")
    return render(
        request,
        "error.html",
        {"title": f"{status} · {title}", "detail": detail},
        status_code=status,
        headers=dict(headers or {}),
    )
