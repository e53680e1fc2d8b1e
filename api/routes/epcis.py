"""EPCIS 2.0 capture and query, under ``/epcis/`` as the EPCIS 2.0 REST binding names them.

Capture takes an EPCISDocument inside a DSSE envelope signed by the submitting party; each event
becomes its own log entry after the capture entry (see :mod:`provenance.capture`). The query answers
a useful subset of the SimpleEventQuery (``eventType``, ``GE_eventTime``/``LT_eventTime``,
``EQ_bizStep``, ``MATCH_epc``, ``MATCH_anyEPC``, ``EQ_bizLocation``) with paging by ``perPage`` and
``nextPageToken``, and returns EPCISQueryDocuments.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy import bindparam, text

from api.deps import LedgerDep
from api.models import DSSE_ENVELOPE_SCHEMA, MAX_INDEX, ReceiptPublic
from provenance import queries
from provenance.capture import ledger_item_key
from provenance.entry import decode_leaf
from provenance.epcis.document import parse_document, parse_timestamp
from provenance.epcis.mapping import cbv_name
from provenance.ledger import Ledger
from provenance.statements import parse_envelope
from provenance.store.sql import Reader

router = APIRouter(prefix="/epcis", tags=["epcis"])

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
MAX_PER_PAGE = 1000


class CapturedEvent(BaseModel):
    """One captured event and the log entry that records it."""

    model_config = {"populate_by_name": True}

    event_id: str = Field(
        alias="eventID", description="The sender's eventID, or its CBV 2.0 event hash."
    )
    index: int = Field(description="Log index of the event's entry.")
    statement: str | None = Field(description="The statement type it maps onto, if any.")


class CaptureResult(BaseModel):
    """A capture: its receipt and its events' entries."""

    model_config = {"populate_by_name": True}

    capture_id: str = Field(alias="captureID", description="The capture's log index.")
    running: bool = Field(False, description="Always false: capture is synchronous and durable.")
    success: bool = Field(True, description="Whether the capture was appended (always, if 202).")
    receipt: ReceiptPublic = Field(description="Receipt of the capture entry.")
    events: list[CapturedEvent] = Field(description="The captured events, in document order.")


def _capture_result(ledger: Ledger, index: int) -> CaptureResult:
    with ledger.log.store.read() as reader:
        leaf = reader.leaf(index)
        rows = reader.connection.execute(
            text(
                "SELECT idx, event_id, statement_type FROM epcis_event"
                " WHERE capture = :c ORDER BY position"
            ),
            {"c": index},
        ).all()
    if leaf is None or decode_leaf(leaf).kind != "epcis.capture":
        raise HTTPException(status_code=404, detail=f"no capture {index}")
    return CaptureResult(
        capture_id=str(index),
        receipt=ReceiptPublic.of(ledger.log.receipt(index)),
        events=[CapturedEvent(event_id=e, index=int(i), statement=s) for i, e, s in rows],
    )


@router.post(
    "/capture",
    status_code=202,
    response_model=CaptureResult,
    summary="Capture an EPCIS document",
    responses={
        400: {"description": "Not an EPCIS 2.0 document (the problem names the event and field)."},
        403: {"description": "Bad signature, unknown or revoked key, or suspended party."},
        409: {"description": "An event with that eventID was already captured."},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": DSSE_ENVELOPE_SCHEMA}},
        }
    },
)
async def capture(request: Request, response: Response, ledger: LedgerDep) -> CaptureResult:
    """Append a DSSE envelope (payloadType `application/ld+json`) holding an EPCISDocument signed
    by the submitting party. Events without an eventID get their CBV 2.0 event hash as one."""
    data = await request.body()
    receipt = await run_in_threadpool(ledger.submit, data)
    response.headers["Location"] = f"/epcis/capture/{receipt.index}"
    return await run_in_threadpool(_capture_result, ledger, receipt.index)


@router.get("/capture/{capture_id}", response_model=CaptureResult, summary="A capture's outcome")
def capture_status(
    ledger: LedgerDep,
    capture_id: Annotated[int, Path(ge=0, le=MAX_INDEX, description="The capture's index.")],
) -> CaptureResult:
    """The outcome of a capture, as the EPCIS REST binding's capture job."""
    return _capture_result(ledger, capture_id)


def _time(name: str, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        moment = parse_timestamp(value)
    except ValueError as e:
        raise HTTPException(status_code=400, detail=f"{name}: not an RFC 3339 time: {e}") from e
    return int(moment.timestamp() * 1000)


def _list(value: str | None, normalise: Any = str) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(normalise(v.strip()) for v in value.split(",") if v.strip())


def _token(after: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode().rstrip("=")


def _after(token: str | None) -> int:
    if not token:
        return -1
    try:
        padded = token + "=" * (-len(token) % 4)
        return int(json.loads(base64.urlsafe_b64decode(padded))["after"])
    except (ValueError, KeyError, TypeError) as e:
        raise HTTPException(
            status_code=400, detail="nextPageToken is not one this server gave"
        ) from e


def _events(reader: Reader, hits: list[tuple[int, int, int]]) -> list[dict[str, Any]]:
    @lru_cache(maxsize=64)
    def document(capture_index: int) -> list[dict[str, Any]]:
        leaf = reader.leaf(capture_index)
        assert leaf is not None
        parsed = parse_document(parse_envelope(decode_leaf(leaf).payload).payload)
        return [e.event for e in parsed.events]

    ids: dict[int, str] = {}
    if hits:
        query = text("SELECT idx, event_id FROM epcis_event WHERE idx IN :ids").bindparams(
            bindparam("ids", expanding=True)
        )
        rows = reader.connection.execute(query, {"ids": [h[0] for h in hits]})
        ids = {int(i): str(e) for i, e in rows}
    events = []
    for index, capture_index, position in hits:
        event = dict(document(capture_index)[position])
        event.setdefault("eventID", ids[index])
        events.append(event)
    return events


@router.get(
    "/events",
    summary="Query events (EPCIS SimpleEventQuery subset)",
    response_class=Response,
    responses={
        200: {
            "description": "An EPCISQueryDocument (JSON-LD).",
            "content": {"application/ld+json": {"schema": {"type": "object"}}},
        }
    },
)
def query_events(
    request: Request,
    ledger: LedgerDep,
    event_type: Annotated[
        str | None, Query(alias="eventType", description="Comma-separated event types.")
    ] = None,
    ge_event_time: Annotated[
        str | None, Query(alias="GE_eventTime", description="Events at or after this time.")
    ] = None,
    lt_event_time: Annotated[
        str | None, Query(alias="LT_eventTime", description="Events before this time.")
    ] = None,
    eq_biz_step: Annotated[
        str | None, Query(alias="EQ_bizStep", description="Comma-separated bizSteps.")
    ] = None,
    match_epc: Annotated[
        str | None, Query(alias="MATCH_epc", description="EPCs in epcList or childEPCs.")
    ] = None,
    match_any_epc: Annotated[
        str | None, Query(alias="MATCH_anyEPC", description="EPCs in any EPC field.")
    ] = None,
    eq_biz_location: Annotated[
        str | None, Query(alias="EQ_bizLocation", description="Comma-separated locations.")
    ] = None,
    per_page: Annotated[
        int, Query(alias="perPage", ge=1, le=MAX_PER_PAGE, description="Events per page.")
    ] = 30,
    next_page_token: Annotated[
        str | None, Query(alias="nextPageToken", description="From the previous page's Link.")
    ] = None,
) -> Response:
    """Matching events as an EPCISQueryDocument, oldest first; a `Link: <…>; rel="next"` header
    points at the next page when there is one."""
    query = queries.EventQuery(
        event_types=_list(event_type),
        ge_event_time_ms=_time("GE_eventTime", ge_event_time),
        lt_event_time_ms=_time("LT_eventTime", lt_event_time),
        biz_steps=_list(eq_biz_step, lambda v: cbv_name(v) or v),
        match_epc=_list(match_epc, ledger_item_key),
        match_any_epc=_list(match_any_epc, ledger_item_key),
        biz_locations=_list(eq_biz_location, ledger_item_key),
        after=_after(next_page_token),
        limit=per_page + 1,
    )
    with ledger.log.store.read() as reader:
        hits = queries.epcis_events(reader, query)
        page, more = hits[:per_page], len(hits) > per_page
        events = _events(reader, page)
    document = {
        "@context": [EPCIS_CONTEXT],
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "epcisBody": {
            "queryResults": {"queryName": "SimpleEventQuery", "resultsBody": {"eventList": events}}
        },
    }
    headers = {"GS1-EPCIS-Version": "2.0.0"}
    if more:
        params = dict(request.query_params)
        params["nextPageToken"] = _token(page[-1][0])
        from urllib.parse import urlencode

        headers["Link"] = f'<{request.url.path}?{urlencode(params)}>; rel="next"'
    return Response(
        json.dumps(document, ensure_ascii=False), media_type="application/ld+json", headers=headers
    )
