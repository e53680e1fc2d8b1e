"""Errors as RFC 9457 problem details, mapped in this one place.

A core error knows its ``code`` and HTTP ``status``; this module turns it into
``application/problem+json`` with a stable ``type`` URI per code. Request validation errors and
HTTP errors get the same shape, so every error a client sees reads the same way.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from provenance.errors import LogIntegrityError, ProvenanceError
from web.errors import error_page, wants_page

PROBLEM_BASE = "https://provenance.dev/problems/"
PROBLEM_JSON = "application/problem+json"


HTTP_CODES = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "body-too-large",
    429: "too-many-requests",
}


def problem(status: int, code: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    """Return a problem+json response."""
    body = {"type": PROBLEM_BASE + code, "title": title, "status": status, "detail": detail}
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


async def _provenance_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ProvenanceError)
    if wants_page(request):
        return error_page(request, error.status, str(error))
    extra: dict[str, Any] = {}
    if isinstance(error, LogIntegrityError):
        extra = {"index": error.index, "part": error.what}
    title = type(error).__name__.removesuffix("Error").replace("_", " ")
    return problem(error.status, error.code, title, str(error), **extra)


async def _validation_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    issues = [
        {"location": list(e.get("loc", ())), "message": e.get("msg", "")} for e in error.errors()
    ]
    detail = "; ".join(f"{'.'.join(map(str, i['location']))}: {i['message']}" for i in issues)
    return problem(422, "invalid-request", "Invalid request", detail, errors=issues)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    if wants_page(request):
        return error_page(request, error.status_code, str(error.detail), error.headers)
    code = HTTP_CODES.get(error.status_code, "http-error")
    response = problem(error.status_code, code, str(error.detail), str(error.detail))
    for name, value in (error.headers or {}).items():
        response.headers[name] = value
    return response


def install(app: FastAPI) -> None:
    """Register the problem+json handlers on ``app``."""
    app.add_exception_handler(ProvenanceError, _provenance_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
