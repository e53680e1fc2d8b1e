"""Rendering pages: one Jinja2 environment, security headers, language and the JSON twin.

Autoescaping is on for every template, so whatever a supplier or a reviewer wrote is shown as text.
Every HTML response carries a strict Content-Security-Policy: scripts and styles only from this
host, never inline, no framing, forms only to this host. ``render`` answers the JSON twin instead
when the client asks for ``application/json`` (or ``?format=json``): the same context the template
saw, so the page and its twin cannot disagree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from provenance.attestations import item_key
from web.i18n import Translator, languages, negotiate
from web.static_files import static_url

TEMPLATES_DIR = Path(__file__).parent / "templates"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    # Same-origin: other sites learn nothing, and a form post carries its real Origin to check.
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}

environment = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)
environment.globals["static"] = static_url
environment.globals["languages"] = languages


def _when(time_ms: int) -> str:
    """A log time (milliseconds since the epoch) as a UTC date and minute."""
    return datetime.fromtimestamp(time_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _iso(time_ms: int) -> str:
    """A log time as an RFC 3339 instant, for ``<time datetime>``."""
    return datetime.fromtimestamp(time_ms / 1000, UTC).isoformat(timespec="seconds")


def _hri(key: str) -> str:
    """The GS1 human-readable interpretation of an item key: ``(01) 0950… (10) LOT``."""
    parts = key.strip("/").split("/")
    return " ".join(f"({parts[i]}) {unquote(parts[i + 1])}" for i in range(0, len(parts) - 1, 2))


def _number(value: float) -> str:
    """A figure with at most three significant decimals and no trailing zeros."""
    return f"{value:,.3f}".rstrip("0").rstrip(".") if value % 1 else f"{value:,.0f}"


environment.filters["when"] = _when
environment.filters["iso"] = _iso
environment.filters["hri"] = _hri
environment.filters["number"] = _number
environment.filters["key"] = item_key


def language_of(request: Request) -> str:
    """The language this request is answered in."""
    return negotiate(request.query_params.get("lang"), request.headers.get("accept-language"))


def wants_json(request: Request) -> bool:
    """True if the client asked for the JSON twin rather than the page."""
    if request.query_params.get("format") == "json":
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    twin: Any = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """Answer ``template`` rendered with ``context`` or, if asked for, the JSON twin ``twin``
    (the context itself when not given); both carry ``headers`` and vary on Accept."""
    extra = {"Vary": "Accept, Accept-Language", **(headers or {})}
    if wants_json(request):
        return JSONResponse(
            context if twin is None else twin, status_code=status_code, headers=extra
        )
    language = language_of(request)
    html = environment.get_template(template).render(
        **context, _=Translator(language), lang=language, request_path=request.url.path
    )
    return HTMLResponse(
        html,
        status_code=status_code,
        headers={**SECURITY_HEADERS, "Content-Language": language, **extra},
    )
