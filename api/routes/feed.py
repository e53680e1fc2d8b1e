"""The live feed: every new log entry, as it is appended, over Server-Sent Events.

This router reads and checks what the client asked for (filters, where to resume); the stream
itself and the one poller per worker that feeds every stream are :mod:`api.feed`'s.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Query

from api.feed import RETRY_MS, EventStream, Feed, FeedFilter, get_feed
from api.models import MAX_INDEX, problem_response
from provenance import queries
from provenance.entry import valid_kind
from provenance.gs1.digital_link import DigitalLinkError

router = APIRouter(tags=["log"])

MAX_KINDS = 16
_EVENT_ID = re.compile(r"-1|0|[1-9][0-9]{0,18}")

FeedDep = Annotated[Feed, Depends(get_feed)]

STREAM_DESCRIPTION = f"""An endless `text/event-stream`. It opens with `retry: {RETRY_MS}` and the
`id` the stream starts after; then each entry is one event:

```
id: 1234
event: entry
data: {{"index": 1234, "time": 1763779416123, "kind": "review", "items": ["/01/09506000134352/10/L1"]}}
```

`items` are the items the entry names (empty for entries that name none). A `: heartbeat` comment
comes every few seconds; on a filtered stream it may carry an `id` with no data, which moves the
client's resume point past entries that did not match."""


@router.get(
    "/api/v1/feed",
    response_class=EventStream,
    status_code=200,
    summary="Live feed of new entries",
    responses={
        200: {"content": {"text/event-stream": {}}, "description": STREAM_DESCRIPTION},
        400: problem_response("A bad `Last-Event-ID`, `since`, `item` or `kind`."),
    },
)
async def feed(
    live: FeedDep,
    item: Annotated[
        str | None,
        Query(
            max_length=1000,
            description="Only entries about this item (its Digital Link path or URI): entries "
            "naming it, a level above it that speaks for it (a lot's product), or an item below "
            "it (a lot's serials).",
            examples=["/01/09506000134352/10/H-2026-001"],
        ),
    ] = None,
    kind: Annotated[
        list[str] | None,
        Query(
            description="Only entries of these kinds, each with its sub-kinds: `review` gives "
            "`review`, `review.answer`, `review.hide`... Repeat for several.",
            examples=[["review"]],
        ),
    ] = None,
    since: Annotated[
        int | None,
        Query(
            ge=-1,
            le=MAX_INDEX,
            description="Start just after this log index (-1: from the first entry), for "
            "clients that cannot send `Last-Event-ID`. Without either, the stream starts at the "
            "log's current end: only new entries.",
        ),
    ] = None,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            description="The id of the last event received: the stream resumes just after it "
            "(and wins over `since`). Browsers' EventSource sends it when it reconnects.",
        ),
    ] = None,
) -> EventStream:
    """New log entries as Server-Sent Events, as they are appended: one `entry` event per entry,
    with its index as the event id.

    A client that reconnects with `Last-Event-ID` (as EventSource does by itself) gets exactly the
    entries appended after that one, matching its filters, in log order, each once: none missed
    while it was away, none twice. A client that falls too far behind is disconnected, and resumes
    the same way."""
    after = since
    if last_event_id is not None and last_event_id.strip():
        value = last_event_id.strip()
        if not _EVENT_ID.fullmatch(value) or int(value) > MAX_INDEX:
            raise HTTPException(400, f"Last-Event-ID {value[:40]!r} is not a log index")
        after = int(value)
    if after is not None and after >= 0:
        size = await live.size()
        if after >= size:
            raise HTTPException(400, f"{after} is past the log's last index ({size - 1})")
    kinds = tuple(dict.fromkeys(kind or ()))
    if len(kinds) > MAX_KINDS:
        raise HTTPException(400, f"at most {MAX_KINDS} kinds")
    for name in kinds:
        if not valid_kind(name):
            raise HTTPException(400, f"{name[:70]!r} is not an entry kind")
    keys = None
    if item is not None:
        try:
            keys = queries.item_keys(item)
        except DigitalLinkError as e:
            raise HTTPException(400, f"{item!r} is not a valid item path: {e}") from e
    return EventStream(live, FeedFilter(kinds, keys), after)
