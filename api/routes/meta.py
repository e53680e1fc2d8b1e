"""The service's front door: what this log is and where to look next."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import KeysDep, LedgerDep

router = APIRouter(tags=["service"])


class ServiceInfo(BaseModel):
    """What this service is and where its parts are."""

    origin: str = Field(description="The log's origin, as its checkpoints name it.")
    size: int = Field(description="How many entries the log holds.")
    verifier_key: str = Field(description="The key checkpoints verify with.")
    links: dict[str, str] = Field(description="Where to find the log's public parts.")


@router.get("/", response_model=ServiceInfo, summary="About this ledger")
def index(ledger: LedgerDep, keys: KeysDep) -> ServiceInfo:
    """The log's origin, size and verifier key, and links to its checkpoint, entries and docs."""
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
