"""Read answers kept per worker, each keyed by everything it is a function of.

The log only grows and an entry never changes, so the checkpoint at a size, an inclusion proof of
(index, size) and an item's answer at a size are the same forever: an answer is computed once and
kept as the exact bytes that are sent, and a repeat costs one check of the log's size (see
:mod:`api.head`) and a dictionary lookup, on the event loop. Old sizes simply age out of the LRUs.
Nothing here decides what an answer says; the routes do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request
from starlette.responses import Response

from api.head import LogHead
from provenance.ledger import Ledger
from provenance.queries import ItemKeys
from web.lru import LRU

JSON = "application/json"


@dataclass(frozen=True)
class ParsedItem:
    """An item path's keys and the tag its ETag carries."""

    keys: ItemKeys
    tag: str


@dataclass
class ReadAnswers:
    """One worker's read-side state: the size probe and the answer caches."""

    ledger: Ledger
    head: LogHead
    checkpoints: LRU[int, bytes] = field(default_factory=lambda: LRU(16))
    proofs: LRU[tuple[int, int], bytes] = field(default_factory=lambda: LRU(4096))
    items: LRU[tuple[str, int], bytes] = field(default_factory=lambda: LRU(1024))
    item_paths: LRU[str, ParsedItem] = field(default_factory=lambda: LRU(4096))

    def __post_init__(self) -> None:
        self.head.on_shrink = self.forget

    def forget(self) -> None:
        """Drop every answer: the database no longer holds the log they were read from."""
        for cache in (self.checkpoints, self.proofs, self.items):
            cache.clear()


def read_answers(request: Request) -> ReadAnswers:
    """This app's :class:`ReadAnswers`, made on first use (and again if the ledger was replaced,
    as a test that restarts the app does)."""
    ledger: Ledger = request.app.state.ledger
    answers: ReadAnswers | None = getattr(request.app.state, "read_answers", None)
    if answers is None or answers.ledger is not ledger:
        answers = request.app.state.read_answers = ReadAnswers(ledger, LogHead(ledger.log.store))
    return answers


def json_answer(body: bytes, headers: dict[str, str] | None = None) -> Response:
    """A 200 answer of JSON bytes that were serialized once, when first computed."""
    return Response(body, media_type=JSON, headers=headers)
