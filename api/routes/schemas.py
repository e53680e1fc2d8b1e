"""The published JSON Schemas of attestation types, at stable, versioned URLs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse

from provenance.attestations import ATTESTATION_TYPES, schema

router = APIRouter(prefix="/schemas", tags=["schemas"])


@router.get("", summary="List the statement schemas")
def index() -> dict[str, list[str]]:
    """The URL of every attestation type's current schema."""
    return {"schemas": [f"/schemas/{t}/v1.json" for t in ATTESTATION_TYPES]}


@router.get(
    "/{statement_type}/v1.json",
    summary="One statement schema",
    response_class=JSONResponse,
    responses={
        200: {
            "description": "A JSON Schema (draft 2020-12).",
            "content": {"application/schema+json": {"schema": {"type": "object"}}},
        }
    },
)
def get_schema(
    statement_type: Annotated[
        str, PathParam(description="The statement type, e.g. `origin`.", examples=["origin"])
    ],
) -> JSONResponse:
    """The JSON Schema (draft 2020-12) of version 1 of a statement type, with an example."""
    if statement_type not in ATTESTATION_TYPES:
        raise HTTPException(status_code=404, detail=f"no statement type {statement_type!r}")
    body: dict[str, Any] = schema(statement_type)
    return JSONResponse(
        body, media_type="application/schema+json", headers={"Cache-Control": "max-age=86400"}
    )
