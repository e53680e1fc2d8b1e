"""Dependencies, as ``Annotated`` aliases that routes declare in their signatures."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

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
