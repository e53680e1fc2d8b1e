"""The log's public read side: checkpoint, verifier key, entries and proofs.

These paths are stable: auditors, witnesses and other software depend on them. ``/checkpoint`` is
where C2SP tlog-tiles puts the latest checkpoint; the rest live under ``/api/v1/log/``. Every hash is
base64, proofs are in RFC 9162 order, and each entry is given as its exact leaf bytes so that anyone
can recompute its leaf hash.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field

from api.answers import json_answer, read_answers
from api.deps import KeysDep, LedgerDep, SettingsDep
from api.models import B64, MAX_INDEX, ReceiptPublic, b64
from provenance.ledger import Ledger

router = APIRouter(tags=["log"])


class LogEntryPublic(BaseModel):
    """One log entry as its exact leaf bytes."""

    index: int = Field(description="The entry's position in the log, from 0.", examples=[42])
    leaf: str = Field(
        description="Base64 of the entry's exact leaf bytes; its RFC 6962 leaf hash is "
        "SHA-256(0x00 ‖ leaf).",
        examples=["cHJvdi1lbnRyeS92MSA0MiAxNzYzNzc5NDE2MTIzIG9yaWdpbiBBQUFB..."],
    )


class LogEntries(BaseModel):
    """A range of log entries."""

    start: int = Field(description="Index of the first entry returned.")
    end: int = Field(description="One past the index of the last entry returned.")
    entries: list[LogEntryPublic] = Field(description="The entries, in index order.")


class InclusionProof(BaseModel):
    """An RFC 9162 inclusion proof."""

    index: int = Field(description="Index of the entry proven.")
    tree_size: int = Field(description="Size of the tree the proof is for.")
    leaf_hash: str = Field(description=f"The entry's leaf hash, {B64}.")
    hashes: list[str] = Field(description=f"The proof's node hashes, leaf to root, each {B64}.")


class ConsistencyProof(BaseModel):
    """An RFC 9162 consistency proof between two tree sizes."""

    from_size: int = Field(alias="from", description="The smaller tree size.")
    to_size: int = Field(alias="to", description="The larger tree size.")
    hashes: list[str] = Field(description=f"The proof's node hashes, each {B64}.")

    model_config = {"populate_by_name": True}


class EntryWithProof(BaseModel):
    """One entry, with its receipt."""

    entry: LogEntryPublic
    receipt: ReceiptPublic


def _bad_request(detail: str) -> HTTPException:
    return HTTPException(status_code=400, detail=detail)


@router.get(
    "/checkpoint",
    response_class=PlainTextResponse,
    summary="The latest signed checkpoint",
    responses={200: {"content": {"text/plain": {}}, "description": "A C2SP signed note."}},
)
async def latest_checkpoint(request: Request) -> Response:
    """The latest checkpoint, as a C2SP tlog-checkpoint signed by the log's key."""
    # Async, and no dependencies: a repeat is one size check and a lookup, on the event loop.
    answers = read_answers(request)
    note = answers.checkpoints.get(answers.head.size())
    if note is None:
        found = await run_in_threadpool(_latest_checkpoint, answers.ledger)
        if found is None:
            raise HTTPException(status_code=404, detail="the log is empty")
        size, text = found
        note = text.encode()
        answers.checkpoints.put(size, note)
    return PlainTextResponse(note, headers={"Cache-Control": "no-cache"})


def _latest_checkpoint(ledger: Ledger) -> tuple[int, str] | None:
    with ledger.log.store.read() as reader:
        return reader.checkpoint()


@router.get(
    "/api/v1/log/key",
    response_class=PlainTextResponse,
    summary="The log's verifier key",
    responses={200: {"content": {"text/plain": {}}, "description": "A C2SP verifier key."}},
)
def log_key(keys: KeysDep) -> PlainTextResponse:
    """The verifier key string (`<name>+<hex key id>+<base64 key>`) that checkpoints verify with."""
    return PlainTextResponse(
        keys.log_signer.verifier_key() + "\n", headers={"Cache-Control": "max-age=3600"}
    )


@router.get("/api/v1/log/entries", response_model=LogEntries, summary="Entries by index range")
def entries(
    ledger: LedgerDep,
    settings: SettingsDep,
    start: Annotated[int, Query(ge=0, le=MAX_INDEX, description="First index, inclusive.")],
    end: Annotated[int, Query(ge=1, le=MAX_INDEX, description="Last index, exclusive.")],
) -> LogEntries:
    """Entries with `start <= index < end` as exact leaf bytes. As in RFC 6962's get-entries, the
    answer may stop short of `end` (at the log's size, or at the page limit): read `end` in the
    answer and ask again from there."""
    size = ledger.log.size()
    if start >= end:
        raise _bad_request(f"start ({start}) must be below end ({end})")
    if start >= size:
        raise _bad_request(f"start ({start}) is past the log's last index ({size - 1})")
    end = min(end, size, start + settings.max_entries_per_page)
    with ledger.log.store.read() as reader:
        rows = reader.leaves(start, end)
    return LogEntries(
        start=start, end=end, entries=[LogEntryPublic(index=i, leaf=b64(leaf)) for i, leaf in rows]
    )


@router.get("/api/v1/log/entries/{index}", response_model=EntryWithProof, summary="One entry")
def entry(
    ledger: LedgerDep,
    index: Annotated[int, Path(ge=0, le=MAX_INDEX, description="The entry's index.")],
) -> EntryWithProof:
    """One entry with the receipt its batch was given: inclusion proof and signed checkpoint."""
    if not 0 <= index < ledger.log.size():
        raise HTTPException(status_code=404, detail=f"no entry at index {index}")
    with ledger.log.store.read() as reader:
        leaf = reader.leaf(index)
    assert leaf is not None
    return EntryWithProof(
        entry=LogEntryPublic(index=index, leaf=b64(leaf)),
        receipt=ReceiptPublic.of(ledger.log.receipt(index)),
    )


@router.get("/api/v1/log/proof/inclusion", response_model=InclusionProof, summary="Inclusion proof")
async def inclusion(
    request: Request,
    index: Annotated[int, Query(ge=0, le=MAX_INDEX, description="Index of the entry.")],
    size: Annotated[int, Query(ge=1, le=MAX_INDEX, description="Tree size to prove against.")],
) -> Response:
    """The RFC 9162 inclusion proof of entry `index` in the tree of the first `size` entries."""
    answers = read_answers(request)
    # A size this worker has already seen committed needs no look at the database: the log only
    # grows. The proof of (index, size) never changes, so it is computed once.
    current = answers.head.at_least(size)
    if size > current:
        raise _bad_request(f"size ({size}) is past the log's size ({current})")
    if index >= size:
        raise _bad_request(f"index ({index}) must be below size ({size})")
    body = answers.proofs.get((index, size))
    if body is None:
        body = await run_in_threadpool(_inclusion, answers.ledger, index, size)
        answers.proofs.put((index, size), body)
    return json_answer(body)


def _inclusion(ledger: Ledger, index: int, size: int) -> bytes:
    leaf_hash, proof = ledger.log.inclusion(index, size)
    answer = InclusionProof(
        index=index, tree_size=size, leaf_hash=b64(leaf_hash), hashes=[b64(h) for h in proof]
    )
    return answer.model_dump_json().encode()


@router.get(
    "/api/v1/log/proof/consistency",
    response_model=ConsistencyProof,
    response_model_by_alias=True,
    summary="Consistency proof",
)
def consistency(
    ledger: LedgerDep,
    from_size: Annotated[
        int, Query(alias="from", ge=1, le=MAX_INDEX, description="The smaller tree size.")
    ],
    to_size: Annotated[
        int, Query(alias="to", ge=1, le=MAX_INDEX, description="The larger tree size.")
    ],
) -> ConsistencyProof:
    """The RFC 9162 consistency proof that the tree of `to` entries extends the one of `from`."""
    current = ledger.log.size()
    if to_size > current:
        raise _bad_request(f"to ({to_size}) is past the log's size ({current})")
    if from_size > to_size:
        raise _bad_request(f"from ({from_size}) must not exceed to ({to_size})")
    proof = ledger.log.consistency_proof(from_size, to_size)
    return ConsistencyProof(from_size=from_size, to_size=to_size, hashes=[b64(h) for h in proof])
