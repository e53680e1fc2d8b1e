"""Response models shared by several routers, named as the full-stack template names them."""

from __future__ import annotations

import base64
import json
from typing import Any

from pydantic import BaseModel, Field

from provenance.log import Receipt
from provenance.queries import StatementView

B64 = "standard base64 of a 32-byte SHA-256 hash"

MAX_INDEX = (1 << 62) - 1
"""The largest log index or size a request may name: well inside every database's 64-bit integer."""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class ReceiptPublic(BaseModel):
    """A receipt: an entry's index and leaf hash, with an inclusion proof against a signed
    checkpoint of a tree that contains it."""

    index: int = Field(description="The entry's index in the log.", examples=[42])
    leaf_hash: str = Field(description=f"The entry's leaf hash, {B64}.")
    tree_size: int = Field(description="Size of the tree the proof and checkpoint are for.")
    inclusion_proof: list[str] = Field(description=f"Inclusion proof, leaf to root, each {B64}.")
    checkpoint: str = Field(description="The C2SP signed checkpoint note for tree_size.")

    @classmethod
    def of(cls, receipt: Receipt) -> ReceiptPublic:
        return cls(
            index=receipt.index,
            leaf_hash=b64(receipt.leaf_hash),
            tree_size=receipt.tree_size,
            inclusion_proof=[b64(h) for h in receipt.inclusion_proof],
            checkpoint=receipt.checkpoint,
        )


class StatementPublic(BaseModel):
    """A statement as the log holds it, with what later statements say about it."""

    index: int = Field(description="Its log index.")
    time: int = Field(description="When the log accepted it, in milliseconds since the epoch.")
    type: str = Field(description="The statement type (origin, transformation, party.register...).")
    by: str = Field(description="The party that made and signed it.")
    statement: dict[str, Any] = Field(description="The signed statement, decoded from the payload.")
    envelope: dict[str, Any] = Field(description="The DSSE envelope exactly as it was submitted.")
    status: str = Field(description="`current`, `corrected` or `retracted`.")
    corrected_by: list[int] = Field(description="Indexes of corrections of it.")
    retracted_by: list[int] = Field(description="Indexes of retractions of it.")

    @classmethod
    def of(cls, view: StatementView) -> StatementPublic:
        return cls(
            index=view.index,
            time=view.time_ms,
            type=view.type,
            by=view.by,
            statement=view.body,
            envelope=json.loads(view.envelope),
            status=view.status,
            corrected_by=view.corrected_by,
            retracted_by=view.retracted_by,
        )


class Problem(BaseModel):
    """An RFC 9457 problem: what was wrong with the request, with a stable `type` per error."""

    type: str = Field(description="A URI naming the kind of error; stable, one per error.",
                      examples=["https://provenance.dev/problems/unknown-key"])  # fmt: skip
    title: str = Field(description="A short, human-readable summary of the kind of error.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What exactly was wrong with this request.")


def problem_response(description: str) -> dict[str, Any]:
    """An OpenAPI response entry for a problem+json answer."""
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": Problem.model_json_schema()}},
    }


COMMON_PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: problem_response("Bad request: the problem's `detail` says what was wrong."),
    404: problem_response("Not found."),
    413: problem_response("The request body is over the size limit."),
}


DSSE_ENVELOPE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A DSSE envelope. The payload is the base64 of the statement's JSON bytes; each "
    "signature is Ed25519 over PAE(payloadType, payload) by a key of the party named in `by`.",
    "required": ["payloadType", "payload", "signatures"],
    "properties": {
        "payloadType": {
            "type": "string",
            "description": "`application/vnd.provenance.statement+json` for statements, "
            "`application/ld+json` for EPCIS documents.",
        },
        "payload": {"type": "string", "description": "base64 of the payload bytes"},
        "signatures": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["keyid", "sig"],
                "properties": {
                    "keyid": {"type": "string", "description": "hex SHA-256 of the public key"},
                    "sig": {"type": "string", "description": "base64 Ed25519 signature"},
                },
            },
        },
    },
    "example": {
        "payloadType": "application/vnd.provenance.statement+json",
        "payload": "eyJ0eXBlIjoib3JpZ2luIiwiYnkiOiJmYXJtIiwuLi59",
        "signatures": [{"keyid": "3f1c…", "sig": "MEUCIQ…"}],
    },
}
