"""The public web: consumer pages, the GS1 Digital Link resolver, QR codes and labels.

``install(app)`` mounts the static assets and includes the web routers. Pages are rendered on the
server with Jinja2 (autoescaped) and every one has a JSON twin; the only script is the small
in-browser verifier under ``static/``, served from this host, so the Content-Security-Policy can
forbid inline and third-party script outright.
"""

from __future__ import annotations

from fastapi import FastAPI

from web.routes import pages, qr
from web.routes import resolver as resolver_routes
from web.static_files import mount_static


def install(app: FastAPI) -> None:
    """Add the web's static files and routers to ``app``; the resolver's catch-all paths go last."""
    mount_static(app)
    app.include_router(qr.router)
    app.include_router(pages.router)
    app.include_router(resolver_routes.router)


def install_last(app: FastAPI) -> None:
    """Add the routes that must come after every other: compressed Digital Link URIs are one
    path segment at the root, where the service's own one-segment pages also live."""
    app.include_router(resolver_routes.compressed_router)
