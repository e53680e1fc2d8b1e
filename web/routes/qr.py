"""QR codes and printable label sheets for items, by GS1 Digital Link path.

``/qr/png/<path>`` and ``/qr/svg/<path>`` answer the code of the item's URL under the service's
base URL (``PROVENANCE_BASE_URL``), cacheable for a day with a strong ETag; ``/labels/<lot path>``
answers an A4 sheet of labels for serials of one lot, each with its code, the GS1 human-readable
text and the URL, and the sheet's JSON twin. Codes are made for any valid path, recorded or not
(see :mod:`web.qr`); a malformed path is a 400 problem.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated, Any, Final

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from markupsafe import Markup

from web.qr import (
    DEFAULT_SIZE,
    MAX_SIZE,
    MIN_SIZE,
    Format,
    etag_matches,
    human_readable,
    item_link,
    item_path,
    item_url,
    render,
)
from web.templating import render as render_page

router = APIRouter(include_in_schema=False)

CACHE_CONTROL: Final = "public, max-age=86400"
MAX_LABELS: Final = 500
LABELS_PER_SHEET: Final = 21
"""A4 sheets of 3 x 7 labels of 63.5 x 38.1 mm (the Avery L7160 layout and its many clones);
``labels.css`` draws the same grid."""
MAX_SERIAL_LENGTH: Final = 20
"""AI (21) holds at most 20 characters, so no zero-padding is wider."""


def _raw_item(request: Request, prefix: str) -> str:
    """The item path as the client sent it, still percent-encoded: the decoded path parameter has
    lost the difference between a ``/`` between segments and a ``%2F`` inside a lot."""
    item: str = request.path_params["item"]
    raw: bytes | None = request.scope.get("raw_path")
    if raw is None:
        return item
    _, found, rest = raw.decode("latin-1").partition(prefix)
    return rest if found else item


def _size(request: Request) -> int:
    """The ``size`` query parameter: the side of the image in pixels."""
    given = request.query_params.get("size")
    if given is None:
        return DEFAULT_SIZE
    # Digits only, and few: int() takes signs, spaces and underscores, and refuses 4,300 digits.
    if given.isascii() and given.isdigit() and len(given) <= len(str(MAX_SIZE)):
        size = int(given)
        if MIN_SIZE <= size <= MAX_SIZE:
            return size
    message = f"Input should be a whole number from {MIN_SIZE} to {MAX_SIZE}"
    raise RequestValidationError([{"loc": ("query", "size"), "msg": message, "type": "size"}])


# The image routes read their parameters themselves rather than declaring them: FastAPI's checks
# of declared parameters cost some 50 µs a request, about as much as all the rest of a cached
# answer. They are coroutines because a cached answer costs less than the hop to the thread pool
# would, and a first render holds the event loop for a few milliseconds only.


def _image(request: Request, kind: Format) -> Response:
    base_url: str = request.app.state.settings.base_url
    url = item_url(base_url, _raw_item(request, f"/qr/{kind}/"))
    image = render(url, kind, _size(request))
    headers = {
        "Cache-Control": CACHE_CONTROL,
        "ETag": image.etag,
        "X-Content-Type-Options": "nosniff",
    }
    if kind == "svg":  # opened on its own, an SVG is a document: it may do nothing at all
        headers["Content-Security-Policy"] = "default-src 'none'"
    if etag_matches(request.headers.get("if-none-match"), image.etag):
        return Response(status_code=304, headers=headers)
    return Response(image.content, media_type=image.media_type, headers=headers)


@router.api_route("/qr/png/{item:path}", methods=["GET", "HEAD"])
async def qr_png(request: Request) -> Response:
    """The QR code of the item's URL as a 1-bit PNG, ``?size=`` pixels a side (64 to 2,048)."""
    return _image(request, "png")


@router.api_route("/qr/svg/{item:path}", methods=["GET", "HEAD"])
async def qr_svg(request: Request) -> Response:
    """The QR code of the item's URL as an SVG, ``?size=`` pixels a side (64 to 2,048)."""
    return _image(request, "svg")


# --- Label sheets -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Label:
    """One label: a serial of the lot, its URL, its code and its human-readable text."""

    serial: str
    path: str
    url: str
    hri: str
    elements: tuple[tuple[str, str], ...]
    svg: Markup

    def twin(self) -> dict[str, Any]:
        """The label in the sheet's JSON twin: its code as links rather than markup."""
        return {
            "serial": self.serial,
            "hri": self.hri,
            "url": self.url,
            "qr": {"png": f"/qr/png/{self.path}", "svg": f"/qr/svg/{self.path}"},
        }


def _serial_numbers(
    serials: str | None, start: int | None, count: int | None, width: int
) -> list[str]:
    """The serials a sheet is asked for: a comma list, or ``count`` numbers from ``start`` (1 by
    default) zero-padded to ``width`` digits."""
    too_many = HTTPException(400, f"at most {MAX_LABELS} labels a sheet")
    if count is not None and serials is None:
        if count > MAX_LABELS:
            raise too_many
        first = 1 if start is None else start
        return [str(number).zfill(width) for number in range(first, first + count)]
    if serials is None or count is not None or start is not None:
        raise HTTPException(400, "give either serials=<s1,s2,...> or count=<n> (with from, width)")
    chosen = serials.split(",")
    if len(chosen) > MAX_LABELS:
        raise too_many
    if "" in chosen:
        raise HTTPException(400, "serials has an empty entry")
    if len(set(chosen)) != len(chosen):
        raise HTTPException(400, "serials names a serial more than once")
    return chosen


@router.api_route("/labels/{item:path}", methods=["GET", "HEAD"])
def labels(
    request: Request,
    serials: Annotated[str | None, Query(description="Serials, comma-separated.")] = None,
    start: Annotated[int | None, Query(alias="from", ge=0, description="First number.")] = None,
    count: Annotated[int | None, Query(ge=1, description="How many numbers.")] = None,
    width: Annotated[int, Query(ge=1, le=MAX_SERIAL_LENGTH, description="Digits.")] = 1,
) -> Response:
    """A printable sheet of labels for serials of one lot (``01/<GTIN>/10/<lot>``), or its twin.
    A serial with a comma in it (CSET 82 allows one) cannot be listed in ``serials``."""
    lot = item_link(_raw_item(request, "/labels/"))
    if lot.level != "lot":
        raise HTTPException(400, "labels are printed for a lot: a path like 01/<GTIN>/10/<lot>")
    base_url: str = request.app.state.settings.base_url
    sheet: list[Label] = []
    for serial in _serial_numbers(serials, start, count, width):
        unit = replace(lot, qualifiers=(*lot.qualifiers, ("21", serial)))
        path = item_path(unit)  # checks the serial: DigitalLinkError, a 400 problem
        url = item_url(base_url, path)
        # Markup: the SVG is ours, made from the URL alone, and escapes the URL in its label.
        code = Markup(render(url, "svg").content.decode("ascii"))
        sheet.append(Label(serial, path, url, human_readable(unit), unit.path, code))
    lot_path = item_path(lot)
    twin = {
        "item": item_url(base_url, lot_path),
        "hri": human_readable(lot),
        "labels_per_sheet": LABELS_PER_SHEET,
        "labels": [label.twin() for label in sheet],
    }
    context = {
        "lot": lot.lot,
        "hri": human_readable(lot),
        "labels": sheet,
        "sheets": [sheet[i : i + LABELS_PER_SHEET] for i in range(0, len(sheet), LABELS_PER_SHEET)],
    }
    return render_page(request, "labels.html", context, twin=twin)
