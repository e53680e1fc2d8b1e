"""Items: everything attested about a product, lot or serial, and its lineage.

An item is addressed by its GS1 Digital Link path (``01/<GTIN>[/10/<lot>][/21/<serial>]``). A
serial is also covered by what was said about its lot. Lineage walks transformations upstream (to
every origin) or downstream (to every lot made from it: what a recall must reach), with a depth
limit and cycle protection.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from api.answers import ParsedItem, ReadAnswers, json_answer, read_answers
from api.deps import LedgerDep
from api.models import StatementPublic
from provenance import queries
from provenance.gs1.digital_link import DigitalLinkError
from provenance.ledger import Ledger

router = APIRouter(prefix="/api/v1/items", tags=["items"])

ItemPath = Annotated[
    str,
    Path(
        description="The item's GS1 Digital Link path: `01/<GTIN-14>[/10/<lot>][/21/<serial>]`.",
        examples=["01/09506000134376/10/R-2026-112"],
    ),
]


class RecallPublic(BaseModel):
    """A recall that reaches this item, directly or through its inputs."""

    recalled_item: str = Field(description="The item the recall names.")
    statement: StatementPublic
    via: Literal["this item", "an input"] = Field(description="Whether it names this item.")


class ItemPublic(BaseModel):
    """An item and every statement about it, in log order."""

    item: str = Field(
        description="The item's Digital Link path.", examples=["/01/09506000134376/10/R-2026-112"]
    )
    covered_by: list[str] = Field(
        description="This item and the levels above it that speak for it."
    )
    statements: list[StatementPublic] = Field(description="Every statement about it, in log order.")
    recalls: list[RecallPublic] = Field(description="Recalls of this item or of anything upstream.")
    upstream: list[str] = Field(description="Items it was made from, at any depth.")
    downstream: list[str] = Field(description="Items made from it, at any depth.")


class LineageEdgePublic(BaseModel):
    """A transformation made `output` from `input`."""

    input: str = Field(description="The input item's Digital Link path.")
    output: str = Field(description="The output item's Digital Link path.")
    index: int = Field(description="Log index of the transformation statement.")


class LineagePublic(BaseModel):
    """The items reached from `item`, with their distance, and the edges walked."""

    item: str = Field(description="The item the walk started from.")
    direction: Literal["upstream", "downstream"] = Field(description="Which way it walked.")
    depth: int = Field(description="The depth limit used.")
    nodes: dict[str, int] = Field(description="Item path -> distance from `item`.")
    edges: list[LineageEdgePublic] = Field(description="The transformation edges walked.")
    truncated: bool = Field(description="True if the walk stopped at the limit with more to see.")


def _raw_item(request: Request, item: str, suffix: str = "") -> str:
    """The item path as sent (still percent-encoded), so that a lot holding ``/`` or ``%`` (sent
    as ``%2F``, ``%25``) reaches the Digital Link parser intact; ``item`` if there is none."""
    raw: bytes | None = request.scope.get("raw_path")
    if not raw:
        return item
    path = raw.decode("latin-1").split("?", 1)[0].removeprefix(router.prefix + "/")
    return path.removesuffix(suffix) if suffix else path


def _keys(item: str) -> queries.ItemKeys:
    try:
        return queries.item_keys(item)
    except DigitalLinkError as e:
        raise HTTPException(
            status_code=400, detail=f"{item!r} is not a valid item path: {e}"
        ) from e


@router.get("/{item:path}/lineage", response_model=LineagePublic, summary="An item's lineage")
def get_lineage(
    request: Request,
    ledger: LedgerDep,
    item: ItemPath,
    direction: Annotated[
        Literal["upstream", "downstream"],
        Query(description="`upstream` to every origin, `downstream` to what was made from it."),
    ] = "upstream",
    depth: Annotated[
        int, Query(ge=1, le=queries.MAX_LINEAGE_DEPTH, description="How many steps to walk.")
    ] = 10,
) -> LineagePublic:
    """Walk transformations from the item, upstream to its origins or downstream to what was made
    from it."""
    key = _keys(_raw_item(request, item, "/lineage")).lineage
    with ledger.log.store.read() as reader:
        walk = queries.lineage(reader, key, direction, depth)
    return LineagePublic(
        item=key,
        direction=direction,
        depth=walk.depth,
        nodes=walk.nodes,
        edges=[LineageEdgePublic(input=i, output=o, index=x) for i, o, x in walk.edges],
        truncated=walk.truncated,
    )


@router.get(
    "/{item:path}",
    response_model=ItemPublic,
    summary="Everything about an item",
    responses={304: {"description": "Not modified: the log has not grown since that ETag."}},
)
async def get_item(request: Request, item: ItemPath) -> Response:
    """Every statement about the item (and, for a serial, its lot), the recalls that reach it, and
    the items upstream and downstream of it.

    The answer is a function of the log at its current size, so it carries an ETag naming that
    size: a client that sends it back gets 304 until the log grows, and the server answers repeat
    views from a small cache keyed the same way.
    """
    # Async, and no dependencies: a repeat view is one size check and two lookups, on the event
    # loop; only an answer to build goes to the thread pool.
    answers = read_answers(request)
    parsed = _parsed(answers, _raw_item(request, item))
    size = answers.head.size()
    etag = f'"{size}-{parsed.tag}"'
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    body = answers.items.get((parsed.keys.own, size))
    if body is None:
        body = await run_in_threadpool(_item_json, answers.ledger, parsed.keys)
        answers.items.put((parsed.keys.own, size), body)
    return json_answer(body, {"ETag": etag, "Cache-Control": "no-cache"})


def _parsed(answers: ReadAnswers, path: str) -> ParsedItem:
    """``path`` parsed (remembered: parsing a Digital Link costs more than answering from cache)."""
    found = answers.item_paths.get(path)
    if found is None:
        keys = _keys(path)
        found = ParsedItem(keys, hashlib.sha256(keys.own.encode()).hexdigest()[:16])
        answers.item_paths.put(path, found)
    return found


def _item_json(ledger: Ledger, keys: queries.ItemKeys) -> bytes:
    return _item(ledger, keys).model_dump_json().encode()


def _item(ledger: Ledger, keys: queries.ItemKeys) -> ItemPublic:
    with ledger.log.store.read() as reader:
        views = queries.about_item(reader, list(keys.covered_by))
        up = queries.lineage(reader, keys.lineage, "upstream", queries.MAX_LINEAGE_DEPTH)
        down = queries.lineage(reader, keys.lineage, "downstream", queries.MAX_LINEAGE_DEPTH)
        if not views and len(up.nodes) == 1 and len(down.nodes) == 1:
            raise HTTPException(status_code=404, detail=f"nothing is recorded about {keys.own}")
        recalls = []
        upstream_views = queries.about_item(reader, [k for k in up.nodes if k != keys.lineage])
        for view, via in [(v, "this item") for v in views] + [
            (v, "an input") for v in upstream_views
        ]:
            if view.type == "recall" and view.status != "retracted":
                for named in view.body["items"]:
                    recalls.append(
                        RecallPublic(
                            recalled_item=named, statement=StatementPublic.of(view), via=via
                        )
                    )
    return ItemPublic(
        item=keys.own,
        covered_by=list(keys.covered_by),
        statements=[StatementPublic.of(v) for v in views],
        recalls=recalls,
        upstream=[k for k in up.nodes if k != keys.lineage],
        downstream=[k for k in down.nodes if k != keys.lineage],
    )
