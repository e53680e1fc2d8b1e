"""Submitting signed statements, one or a batch, and reading one back.

A submission is a DSSE envelope posted as is; the service verifies it, appends it and answers with
the receipt. The envelope's bytes are what the log stores, so that what the supplier signed is what
anyone reads back. A batch takes up to 1,000 envelopes into one group commit and answers each.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from api.deps import LedgerDep
from api.models import DSSE_ENVELOPE_SCHEMA, MAX_INDEX, ReceiptPublic, StatementPublic
from provenance import queries
from provenance.errors import AppendRefused, InvalidStatementError, MalformedError
from provenance.ledger import Ledger, Prepared
from provenance.log import Receipt

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
async def submit(request: Request, ledger: LedgerDep) -> ReceiptPublic:
    """Verify and append one DSSE-signed statement; answer with its receipt.

    Submitting the same signed statement again appends nothing and returns the first receipt.
    A party adds or rotates its own keys by submitting a `key.add` (and then `key.revoke`)
    statement signed with a current key.
    """
    data = await request.body()
    receipt: Receipt = await run_in_threadpool(ledger.submit, data)
    return ReceiptPublic.of(receipt)


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
async def submit_batch(request: Request, ledger: LedgerDep) -> BatchAnswer:
    """Verify each envelope and append those that pass in one group commit, in request order.

    Each envelope is stored as compact JSON (its payload bytes, which the signatures cover, exactly
    as received). Refusals are answered per envelope and append nothing.
    """
    try:
        body = json.loads(await request.body())
    except ValueError as e:
        raise InvalidStatementError(f"batch body is not JSON: {e}") from e
    envelopes = body.get("envelopes") if isinstance(body, dict) else None
    if not isinstance(envelopes, list) or not envelopes:
        raise InvalidStatementError('batch body must be {"envelopes": [ ... ]} with at least one')
    if len(envelopes) > ledger.max_batch:
        raise HTTPException(
            status_code=413,
            detail=f"{len(envelopes)} envelopes: a batch takes at most {ledger.max_batch}",
        )
    return await run_in_threadpool(_commit_batch, ledger, envelopes)


def _commit_batch(ledger: Ledger, envelopes: list[Any]) -> BatchAnswer:
    results: list[BatchResult | None] = [None] * len(envelopes)
    prepared: list[tuple[int, Prepared]] = []
    for position, item in enumerate(envelopes):
        try:
            # Parsed once, in prepare; what is stored is the envelope in compact JSON.
            data = json.dumps(item, separators=(",", ":"), ensure_ascii=False).encode()
            prepared.append((position, ledger.prepare(data)))
        except MalformedError as e:
            refusal = InvalidStatementError(f"not a valid DSSE envelope: {e}")
            results[position] = BatchResult(
                position=position, status=400, problem=_problem(refusal)
            )
        except AppendRefused as e:
            results[position] = BatchResult(position=position, status=e.status, problem=_problem(e))
    outcomes = ledger.commit([p for _, p in prepared]) if prepared else []
    for (position, _), outcome in zip(prepared, outcomes, strict=True):
        if isinstance(outcome, AppendRefused):
            results[position] = BatchResult(
                position=position, status=outcome.status, problem=_problem(outcome)
            )
        else:
            results[position] = BatchResult(
                position=position, status=201, receipt=ReceiptPublic.of(outcome)
            )
    final = [r for r in results if r is not None]
    appended = sum(1 for r in final if r.receipt is not None)
    return BatchAnswer(appended=appended, refused=len(final) - appended, results=final)


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
