"""Dependencies, as ``Annotated`` aliases that routes declare in their signatures."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from api.settings import Settings
from provenance.keyfiles import OperatorKeys
from provenance.ledger import Ledger


# The getters are ``async`` although they do no I/O: FastAPI runs a plain ``def`` dependency in its
# thread pool, a hand-off that costs far more than reading an attribute (and is paid per request).
async def get_ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_keys(request: Request) -> OperatorKeys:
    keys: OperatorKeys = request.app.state.keys
    return keys


LedgerDep = Annotated[Ledger, Depends(get_ledger)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
KeysDep = Annotated[OperatorKeys, Depends(get_keys)]


async def require_admin(
    request: Request,
    authorization: Annotated[
        str | None, Header(description="`Bearer <admin token>`", include_in_schema=False)
    ] = None,
) -> None:
    """Refuse the request unless it carries the admin bearer token (compared by hash)."""
    check_admin(request, authorization)


def check_admin(request: Request, authorization: str | None) -> None:
    """Raise 401 unless ``authorization`` is ``Bearer <the admin token>`` (compared by hash)."""
    settings: Settings = request.app.state.settings
    token = (authorization or "").removeprefix("Bearer ").strip()
    presented = hashlib.sha256(token.encode()).hexdigest()
    if not token or not hmac.compare_digest(presented, settings.admin_token_hash()):
        raise HTTPException(
            status_code=401,
            detail="this action needs the admin bearer token",
            headers={"WWW-Authenticate": 'Bearer realm="provenance-admin"'},
        )


AdminDep = Annotated[None, Depends(require_admin)]
