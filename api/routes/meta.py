"""The service's front door: what this log is and where to look next."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.deps import KeysDep, LedgerDep
from web.errors import wants_page
from web.routes.pages import home_page

router = APIRouter(tags=["service"])


class ServiceInfo(BaseModel):
    """What this service is and where its parts are."""

    origin: str = Field(description="The log's origin, as its checkpoints name it.")
    size: int = Field(description="How many entries the log holds.")
    verifier_key: str = Field(description="The key checkpoints verify with.")
    links: dict[str, str] = Field(description="Where to find the log's public parts.")


@router.get(
    "/",
    response_model=ServiceInfo,
    summary="About this ledger",
    responses={
        200: {"content": {"text/html": {}}, "description": "A browser gets the front page."}
    },
)
def index(request: Request, ledger: LedgerDep, keys: KeysDep) -> ServiceInfo | Response:
    """The log's origin, size and verifier key, and links to its checkpoint, entries and docs.

    A browser (HTML first in `Accept`) gets the front page for people instead."""
    if wants_page(request):
        return home_page(request)
    return ServiceInfo(
        origin=ledger.log.origin,
        size=ledger.log.size(),
        verifier_key=keys.log_signer.verifier_key(),
        links={
            "checkpoint": "/checkpoint",
            "verifier_key": "/api/v1/log/key",
            "entries": "/api/v1/log/entries?start=0&end=10",
            "docs": "/docs",
        },
    )
