"""Parties and their keys: registered, suspended, reinstated and revoked by the operator.

Each action is a governance statement that the service signs with the operator's key and appends;
the answer carries its receipt. Reading a party shows its keys with their status, its status with
the public reason, and its whole history in the log: a suspended supplier's past stays visible.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy import text

from api.deps import AdminDep, KeysDep, LedgerDep
from api.models import ReceiptPublic, StatementPublic
from provenance import queries
from provenance.keyfiles import OperatorKeys
from provenance.ledger import Ledger
from provenance.log import Receipt
from provenance.registry import PartyState
from provenance.statements import sign_statement

router = APIRouter(prefix="/api/v1/parties", tags=["parties"])

PartyId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$", description="A party id.")]
ADMIN: dict[int | str, dict[str, Any]] = {
    401: {"description": "The admin bearer token is missing or wrong."}
}


class PartyBase(BaseModel):
    """What identifies a party."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$", description="Its id in the ledger.",
                    examples=["finca-la-esperanza"])  # fmt: skip
    role: Literal["supplier", "certifier", "brand", "moderator", "operator"] = Field(
        description="What it does in the network."
    )
    name: str = Field(min_length=1, max_length=200, description="Its name, shown publicly.")
    gln: str | None = Field(None, pattern=r"^[0-9]{13}$", description="Its GS1 GLN, if it has one.")
    country: str | None = Field(None, pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2.")
    website: str | None = Field(None, max_length=500, description="Its website.")


class PartyCreate(PartyBase):
    """A party to register, with its Ed25519 public keys."""

    keys: list[str] = Field(min_length=1, max_length=16,
                            description="Base64 of each raw 32-byte Ed25519 public key.")  # fmt: skip


class Reason(BaseModel):
    """Why: shown publicly with the decision."""

    reason: str = Field(
        min_length=1, max_length=1000, description="The public reason.",
        examples=["Breach of terms, section 4.2"],
    )  # fmt: skip


class KeyPublic(BaseModel):
    """One of a party's keys."""

    keyid: str = Field(description="hex SHA-256 of the public key (the DSSE keyid).")
    public_key: str = Field(description="base64 of the 32-byte Ed25519 public key.")
    added_at: int = Field(description="Log index of the entry that added it.")
    revoked_at: int | None = Field(description="Log index of its revocation, if revoked.")
    revoke_reason: str | None = Field(None, description="Why it was revoked, if it was.")
    status: Literal["active", "revoked"] = Field(description="Whether it may still sign.")


class PartyPublic(PartyBase):
    """A party, its status and keys."""

    status: Literal["active", "suspended"] = Field(
        description="Suspended parties sign nothing new."
    )
    status_reason: str | None = Field(description="The public reason for the current status.")
    registered_at: int = Field(description="Log index of its registration.")
    updated_at: int = Field(description="Log index of its last status change.")
    keys: list[KeyPublic] = Field(description="Every key it has had, with its status.")


class PartyDetail(PartyPublic):
    """A party with its history in the log."""

    history: list[StatementPublic] = Field(description="Registry statements about this party.")
    attestations: int = Field(description="How many attestations it has made.")
    recent: list[StatementPublic] = Field(description="Its latest attestations, newest first.")


class PartyChange(BaseModel):
    """A governance decision and its receipt."""

    party: PartyPublic
    receipt: ReceiptPublic


def _public(ledger: Ledger, party: PartyState) -> PartyPublic:
    keys = [
        KeyPublic(
            keyid=k.keyid,
            public_key=base64.b64encode(k.public_key).decode(),
            added_at=k.added_at,
            revoked_at=k.revoked_at,
            revoke_reason=k.revoke_reason,
            status="active" if k.revoked_at is None else "revoked",
        )
        for k in sorted(ledger.registry.keys.values(), key=lambda k: k.added_at)
        if k.party_id == party.id
    ]
    return PartyPublic(**{**vars(party), "keys": keys})


def _party(ledger: Ledger, party_id: str) -> PartyState:
    _refresh(ledger)
    party = ledger.registry.parties.get(party_id)
    if party is None:
        raise HTTPException(status_code=404, detail=f"no party {party_id!r}")
    return party


def _refresh(ledger: Ledger) -> None:
    """Bring this worker's registry up to what other workers appended."""
    ledger.refresh()


def _govern(ledger: Ledger, keys: OperatorKeys, body: dict[str, Any]) -> Receipt:
    data = sign_statement({"by": "operator", **body}, [keys.operator_key])
    (outcome,) = ledger.commit([ledger.prepare(data)])
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


@router.get("", response_model=list[PartyPublic], summary="List parties")
def list_parties(ledger: LedgerDep) -> list[PartyPublic]:
    """Every registered party with its status and keys."""
    _refresh(ledger)
    return [
        _public(ledger, p) for p in sorted(ledger.registry.parties.values(), key=lambda p: p.id)
    ]


@router.get("/{party_id}", response_model=PartyDetail, summary="One party and its history")
def get_party(ledger: LedgerDep, party_id: PartyId) -> PartyDetail:
    """The party, its keys and status, the registry history about it, and its latest attestations."""
    party = _party(ledger, party_id)
    with ledger.log.store.read() as reader:
        about = reader.connection.execute(
            text("SELECT idx FROM statement WHERE subject = :p ORDER BY idx"), {"p": party_id}
        ).all()
        history = queries.statements(reader, [int(r[0]) for r in about])
        count = reader.connection.execute(
            text("SELECT count(*) FROM statement WHERE party = :p AND subject IS NULL"),
            {"p": party_id},
        ).scalar()
        latest = reader.connection.execute(
            text(
                "SELECT idx FROM statement WHERE party = :p AND subject IS NULL"
                " ORDER BY idx DESC LIMIT 20"
            ),
            {"p": party_id},
        ).all()
        recent = queries.statements(reader, [int(r[0]) for r in latest])
    return PartyDetail(
        **_public(ledger, party).model_dump(),
        history=[StatementPublic.of(v) for v in history],
        attestations=int(count or 0),
        recent=[StatementPublic.of(v) for v in reversed(recent)],
    )


@router.post("", status_code=201, response_model=PartyChange, summary="Register a party",
             responses=ADMIN)  # fmt: skip
async def register(
    ledger: LedgerDep, keys: KeysDep, _: AdminDep, party: PartyCreate
) -> PartyChange:
    """Register a party with its role, identifiers and public keys (admin)."""
    details = party.model_dump(exclude={"keys"}, exclude_none=True)
    body = {"type": "party.register", "party": details, "keys": party.keys}
    receipt = await run_in_threadpool(_govern, ledger, keys, body)
    return PartyChange(
        party=_public(ledger, ledger.registry.parties[party.id]), receipt=ReceiptPublic.of(receipt)
    )


async def _status(
    ledger: Ledger, keys: OperatorKeys, party_id: str, kind: str, reason: str
) -> PartyChange:
    body = {"type": kind, "party": party_id, "reason": reason}
    receipt = await run_in_threadpool(_govern, ledger, keys, body)
    return PartyChange(
        party=_public(ledger, ledger.registry.parties[party_id]), receipt=ReceiptPublic.of(receipt)
    )


@router.post("/{party_id}/suspension", response_model=PartyChange, summary="Suspend a party",
             responses=ADMIN)  # fmt: skip
async def suspend(
    ledger: LedgerDep, keys: KeysDep, _: AdminDep, party_id: PartyId, why: Reason
) -> PartyChange:
    """Cut a party off for breach of terms (admin). Its history stays visible; its keys sign
    nothing new until it is reinstated. The reason is public."""
    _party(ledger, party_id)
    return await _status(ledger, keys, party_id, "party.suspend", why.reason)


@router.post("/{party_id}/reinstatement", response_model=PartyChange, summary="Lift a suspension",
             responses=ADMIN)  # fmt: skip
async def reinstate(
    ledger: LedgerDep, keys: KeysDep, _: AdminDep, party_id: PartyId, why: Reason
) -> PartyChange:
    """Lift a party's suspension (admin); the reason is public."""
    _party(ledger, party_id)
    return await _status(ledger, keys, party_id, "party.reinstate", why.reason)


@router.post(
    "/{party_id}/keys/{keyid}/revocation",
    response_model=PartyChange,
    summary="Revoke a key",
    responses=ADMIN,
)
async def revoke_key(
    ledger: LedgerDep,
    keys: KeysDep,
    _: AdminDep,
    party_id: PartyId,
    keyid: Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="The key's id.")],
    why: Reason,
) -> PartyChange:
    """Revoke one of a party's keys (admin): from the revocation's index on, it signs nothing."""
    _party(ledger, party_id)
    body = {"type": "key.revoke", "party": party_id, "keyid": keyid, "reason": why.reason}
    receipt = await run_in_threadpool(_govern, ledger, keys, body)
    return PartyChange(
        party=_public(ledger, ledger.registry.parties[party_id]), receipt=ReceiptPublic.of(receipt)
    )
