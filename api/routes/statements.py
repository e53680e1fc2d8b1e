"""Submitting signed statements, one or a batch, and reading one back.

A submission is a DSSE envelope posted as is; the service verifies it, appends it and answers with
the receipt. The envelope's bytes are what the log stores, so that what the supplier signed is what
anyone reads back. A batch takes up to 1,000 envelopes into one group commit and answers each.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.answers import JSON
from api.deps import LedgerDep
from api.models import DSSE_ENVELOPE_SCHEMA, MAX_INDEX, ReceiptPublic, StatementPublic
from api.receipts import BatchOutcome, batch_json, receipt_json
from provenance import queries
from provenance.compact_json import loads_unambiguous
from provenance.dsse import Envelope
from provenance.errors import AppendRefused, InvalidStatementError, MalformedError
from provenance.ledger import Ledger, Prepared

router = APIRouter(prefix="/api/v1/statements", tags=["statements"])

REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Malformed envelope or statement (problem+json names the field)."},
    403: {"description": "Bad signature, unknown or revoked key, suspended or unauthorized party."},
    409: {"description": "Conflicts with the registry (a party or key that already exists)."},
    413: {"description": "Body or statement over the size limit."},
}


class BatchResult(BaseModel):
    """The outcome of one envelope of a batch."""

    position: int = Field(description="Its position in the request's `envelopes`.")
    status: int = Field(
        description="201 if appended (or already in the log), else the refusal's status."
    )
    receipt: ReceiptPublic | None = Field(None, description="The receipt, when appended.")
    problem: dict[str, Any] | None = Field(None, description="The refusal, as problem details.")


class BatchAnswer(BaseModel):
    """One answer per envelope, in request order."""

    appended: int = Field(description="How many envelopes got a receipt.")
    refused: int = Field(description="How many were refused; nothing of theirs was appended.")
    results: list[BatchResult] = Field(description="One result per envelope, in request order.")


def _problem(error: AppendRefused) -> dict[str, Any]:
    from api.errors import PROBLEM_BASE

    return {
        "type": PROBLEM_BASE + error.code,
        "title": type(error).__name__.removesuffix("Error"),
        "status": error.status,
        "detail": str(error),
    }


INLINE_PREPARE_BYTES = 16 * 1024
"""Submissions up to this size are prepared on the event loop; bigger ones in the thread pool."""


@router.post(
    "",
    status_code=201,
    response_model=ReceiptPublic,
    summary="Submit a signed statement",
    responses=REFUSALS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": DSSE_ENVELOPE_SCHEMA}},
        }
    },
)
async def submit(request: Request) -> Response:
    """Verify and append one DSSE-signed statement; answer with its receipt.

    Submitting the same signed statement again appends nothing and returns the first receipt.
    A party adds or rotates its own keys by submitting a `key.add` (and then `key.revoke`)
    statement signed with a current key.
    """
    ledger: Ledger = request.app.state.ledger
    data = await request.body()
    # A typical statement is checked and verified on the event loop (no I/O, about 60 µs: less
    # than the hop to a thread); a big one (an EPCIS capture of many events) in the thread pool,
    # so that it does not stall the worker's other requests. Either way the commit is awaited
    # without holding a thread: one parked on the group commit is one fewer for the next
    # submission (the pool has 40 for 64 and more concurrent clients).
    if len(data) <= INLINE_PREPARE_BYTES:
        prepared = ledger.prepare(data)
    else:
        prepared = await run_in_threadpool(ledger.prepare, data)
    outcome = await asyncio.wrap_future(ledger.enqueue(prepared))
    if isinstance(outcome, AppendRefused):
        raise outcome
    return Response(receipt_json(outcome), status_code=201, media_type=JSON)


@router.post(
    "/batch",
    response_model=BatchAnswer,
    summary="Submit up to 1,000 signed statements at once",
    responses={413: {"description": "More envelopes than the batch limit."}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["envelopes"],
                        "properties": {
                            "envelopes": {"type": "array", "items": DSSE_ENVELOPE_SCHEMA}
                        },
                    }
                }
            },
        }
    },
)
async def submit_batch(request: Request) -> Response:
    """Verify each envelope and append those that pass in one group commit, in request order.

    Each envelope is stored as compact JSON (its payload bytes, which the signatures cover, exactly
    as received). Refusals are answered per envelope and append nothing.
    """
    ledger: Ledger = request.app.state.ledger
    data = await request.body()
    # Decoded as strictly as a single envelope is: a duplicate key anywhere in the body makes it
    # ambiguous (which "payload" was meant?), and is refused. A lone surrogate, which json lets
    # through, is then that envelope's own refusal.
    try:
        body = loads_unambiguous(data)
    except ValueError as e:  # UnicodeDecodeError is a ValueError
        raise InvalidStatementError(f"batch body is not JSON: {e}") from e
    envelopes = body.get("envelopes") if isinstance(body, dict) else None
    if not isinstance(envelopes, list) or not envelopes:
        raise InvalidStatementError('batch body must be {"envelopes": [ ... ]} with at least one')
    if len(envelopes) > ledger.max_batch:
        raise HTTPException(
            status_code=413,
            detail=f"{len(envelopes)} envelopes: a batch takes at most {ledger.max_batch}",
        )
    # Prepared, committed and answered in one thread of the pool (for 1,000 envelopes, tens of
    # milliseconds that would otherwise hold the event loop), one batch at a time per worker: the
    # worker processes are what use the cores. libsodium lets go of the GIL while it verifies,
    # but on the 2-vCPU VMs we measure on, threads of one process preparing at once gave no more
    # statements per second and cost 40-65% more CPU each, spent handing the GIL back and forth
    # (docs/PERFORMANCE.md, session 4). A batch waiting for its turn holds no pool thread.
    async with request.app.state.batch_turn:
        answer = await run_in_threadpool(_prepare_and_commit, ledger, envelopes)
    return Response(answer, media_type=JSON)


def _prepare_and_commit(ledger: Ledger, envelopes: list[Any]) -> bytes:
    """Prepare every envelope of a batch, commit those that pass in one group commit, in request
    order, and answer them all."""
    outcomes: list[BatchOutcome | None] = [None] * len(envelopes)
    refusals, prepared = _prepare(ledger, envelopes)
    for position, refusal in refusals:
        outcomes[position] = refusal
    return _commit_batch(ledger, outcomes, prepared)


def _prepare(
    ledger: Ledger, envelopes: list[Any]
) -> tuple[list[tuple[int, BatchOutcome]], list[tuple[int, Prepared]]]:
    """Prepare ``envelopes``: the refusals and the prepared, with their positions."""
    refusals: list[tuple[int, BatchOutcome]] = []
    prepared: list[tuple[int, Prepared]] = []
    for position in range(len(envelopes)):
        try:
            # Parsed once, from the body's own decoding. What is stored is its compact JSON,
            # which decodes to this same document: from_document has refused anything orjson
            # would not write (unknown fields, lone surrogates), so dumps cannot fail here.
            item = envelopes[position]
            envelope = Envelope.from_document(item)
            prepared.append((position, ledger.prepare(orjson.dumps(item), envelope=envelope)))
        except MalformedError as e:
            refusal = InvalidStatementError(f"not a valid DSSE envelope: {e}")
            refusals.append((position, (400, _problem(refusal))))
        except AppendRefused as e:
            refusals.append((position, (e.status, _problem(e))))
    return refusals, prepared


def _commit_batch(
    ledger: Ledger, outcomes: list[BatchOutcome | None], prepared: list[tuple[int, Prepared]]
) -> bytes:
    """Commit the prepared envelopes in one group commit, in request order; answer them all."""
    committed = ledger.commit([p for _, p in prepared]) if prepared else []
    for (position, _), outcome in zip(prepared, committed, strict=True):
        if isinstance(outcome, AppendRefused):
            outcomes[position] = (outcome.status, _problem(outcome))
        else:
            outcomes[position] = (201, outcome)
    return batch_json([o for o in outcomes if o is not None])


@router.get("/{index}", response_model=StatementPublic, summary="Read one statement")
def read(
    ledger: LedgerDep,
    index: Annotated[int, Path(ge=0, le=MAX_INDEX, description="The statement's log index.")],
) -> StatementPublic:
    """The statement at `index` as signed, with its status (current, corrected, retracted)."""
    with ledger.log.store.read() as reader:
        view = queries.statement(reader, index)
    if view is None:
        raise HTTPException(status_code=404, detail=f"no statement at index {index}")
    return StatementPublic.of(view)
