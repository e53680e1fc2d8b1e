"""The public pages: an item (product, lot or serial), a party, the log and the recall list.

Being written in its own change; ``item_page`` is the entry point the resolver calls.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from provenance.gs1.digital_link import DigitalLink

router = APIRouter(include_in_schema=False)


def item_page(request: Request, link: DigitalLink) -> Response:
    """The page (or its JSON twin) for the item ``link`` names; 404 if nothing is recorded."""
    raise HTTPException(status_code=404, detail=f"no page yet for {link}")
