"""Dependencies, as ``Annotated`` aliases that routes declare in their signatures."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from api.settings import Settings
from provenance.keyfiles import OperatorKeys
from provenance.ledger import Ledger


def get_ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_keys(request: Request) -> OperatorKeys:
    keys: OperatorKeys = request.app.state.keys
    return keys


LedgerDep = Annotated[Ledger, Depends(get_ledger)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
KeysDep = Annotated[OperatorKeys, Depends(get_keys)]


def require_admin(
    request: Request,
    authorization: Annotated[
        str | None, Header(description="`Bearer <admin token>`", include_in_schema=False)
    ] = None,
) -> None:
    """Refuse the request unless it carries the admin bearer token (compared by hash)."""
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
