"""Reviews over HTTP: post one (JSON, or the item page's form), read an item's reviews with their
aggregates, erase one on request, and let a complaint's author resolve or escalate it.

Answers (by the brand or a supplier) and moderation (by a moderator) are signed statements
(``review.answer``, ``review.hide``) submitted to ``POST /api/v1/statements`` like every other;
this router only does what a consumer, who holds no key, needs the operator to sign for them.

Every review costs a token from two buckets, its client address's and its item's (429 with
``Retry-After`` when empty); the form also carries a CSRF token bound to the item and an hour of
validity, and a honeypot field no person fills in. A refusal of any kind appends nothing.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import json
from typing import Annotated, Any, Literal, NamedTuple
from urllib.parse import parse_qs

from fastapi import APIRouter, Header, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field, ValidationError

from api.deps import AdminDep, KeysDep, LedgerDep, SettingsDep
from api.models import MAX_INDEX, ReceiptPublic
from api.ratelimit import RateLimiter, client_address, enforce
from api.receipts import receipt_json
from api.settings import Settings
from provenance import queries, reviews
from provenance.dsse import sign_envelope
from provenance.errors import AppendRefused, InvalidStatementError
from provenance.evidence import build_evidence
from provenance.gs1.digital_link import DigitalLinkError
from provenance.keyfiles import OperatorKeys
from provenance.ledger import AdmitHook, Ledger
from provenance.log import Receipt
from provenance.statements import PAYLOAD_TYPE
from web.csrf import csrf_problem

router = APIRouter(prefix="/api/v1/reviews", tags=["reviews"])
ReviewIndex = Annotated[int, Path(ge=0, le=MAX_INDEX, description="The review's log index.")]
form_router = APIRouter(include_in_schema=False)

HONEYPOT = "website"


class ReviewCreate(BaseModel):
    """A review, complaint, suggestion or question about a product, lot or serial."""

    item: str = Field(
        description="The item's Digital Link path or URI.",
        examples=["01/09506000134376/10/R-2026-112"],
        max_length=512,
    )
    kind: Literal["experience", "complaint", "suggestion", "question"] = Field(
        description="What the review is."
    )
    rating: int | None = Field(
        None, ge=1, le=5, description="1 to 5 stars (required for experience)."
    )
    title: str = Field(min_length=1, max_length=reviews.MAX_TITLE, description="A short title.")
    text: str = Field(min_length=1, max_length=reviews.MAX_TEXT, description="What happened.")
    name: str | None = Field(None, max_length=reviews.MAX_NAME, description="Shown publicly.")
    contact: str | None = Field(
        None, max_length=reviews.MAX_CONTACT, description="Kept private; never in the log."
    )
    holder_code: str | None = Field(
        None, max_length=64, description="The code printed inside a serial's packaging."
    )


class AnswerPublic(BaseModel):
    index: int = Field(description="Log index of the answer.")
    time: int = Field(description="When it was recorded (ms since the epoch).")
    by: str = Field(description="The party that answered and signed it.")
    text: str = Field(description="The answer.")


class ReviewPublic(BaseModel):
    """A review as anyone may read it: hidden or erased content is not given, only the reason."""

    index: int = Field(description="Log index of the review's entry.")
    item: str = Field(description="The item's Digital Link path.")
    kind: str = Field(description="experience, complaint, suggestion or question.")
    time: int = Field(description="When it was recorded (ms since the epoch).")
    holder: bool = Field(description="Posted with a valid holder code from inside the packaging.")
    rating: int | None = Field(description="1 to 5 stars, if given and shown.")
    title: str | None = Field(description="Its title (absent if hidden or erased).")
    text: str | None = Field(description="Its text (absent if hidden or erased).")
    name: str | None = Field(description="The name the author chose to show.")
    hidden: str | None = Field(description="Why a moderator hid it, if one did.")
    hidden_by: str | None = Field(description="The moderator that hid it.")
    erased: str | None = Field(description="Why its content was erased, if it was.")
    status: str | None = Field(
        description="A complaint's status: open, answered, resolved, escalated."
    )
    first_answer_ms: int | None = Field(description="How long it waited for a first answer.")
    answers: list[AnswerPublic] = Field(description="Answers, oldest first.")
    content: str | None = Field(description="The committed content bytes (UTF-8), to check.")
    salt: str | None = Field(description="The commitment's salt, base64.")

    @classmethod
    def of(cls, view: reviews.ReviewView) -> ReviewPublic:
        shown = view.content if view.hidden is None else None
        return cls(
            index=view.index, item=view.item, kind=view.kind, time=view.time_ms,
            holder=view.holder, rating=shown.rating if shown else None,
            title=shown.title if shown else None, text=shown.text if shown else None,
            name=shown.name if shown else None, hidden=view.hidden, hidden_by=view.hidden_by,
            erased=view.erased, status=view.status, first_answer_ms=view.first_answer_ms,
            answers=[AnswerPublic(index=a.index, time=a.time_ms, by=a.by, text=a.text)
                     for a in view.answers],
            content=view.content_bytes.decode() if shown and view.content_bytes else None,
            salt=base64.b64encode(view.salt).decode() if shown and view.salt else None,
        )  # fmt: skip


class AggregatePublic(BaseModel):
    count: int = Field(description="Reviews, including hidden and erased ones.")
    ratings: dict[int, int] = Field(description="Stars -> how many visible reviews gave them.")
    average: float | None = Field(description="Average stars of the visible rated reviews.")
    hidden: int = Field(description="How many a moderator hid.")
    erased: int = Field(description="How many were erased on request.")
    complaint_terms: list[tuple[str, int]] = Field(description="Most common complaint words.")
    suggestions: list[int] = Field(description="Log indexes of the suggestions.")


class ReviewsPublic(BaseModel):
    """An item's reviews (with those of the levels below it) and aggregates per level."""

    item: str = Field(description="The item's Digital Link path.")
    aggregates: dict[str, AggregatePublic] = Field(
        description="Per level that covers the item (itself, its lot, its product)."
    )
    reviews: list[ReviewPublic] = Field(description="Reviews of the item and below, newest first.")


class ReviewPosted(BaseModel):
    """A review in the log, and the token its author needs to erase or update it later."""

    index: int = Field(description="Log index of the review.")
    item: str = Field(description="The item's Digital Link path.")
    author_token: str = Field(description="Keep it: it proves authorship (erase, resolve).")
    receipt: ReceiptPublic


class Erasure(BaseModel):
    reason: Literal["author-request", "legal"] = Field(
        "author-request", description="The author's request, or a legal one (admin only)."
    )


class StatusChange(BaseModel):
    status: Literal["resolved", "escalated"] = Field(description="The author's verdict.")


class HolderCodes(BaseModel):
    item: str = Field(description="A serial's Digital Link path.", max_length=512)
    codes: list[str] = Field(min_length=1, max_length=10_000, description="Codes to accept.")


class HolderCodesAdded(BaseModel):
    item: str = Field(description="The serial's Digital Link path.")
    added: int = Field(description="How many codes were new.")


# --- Posting ------------------------------------------------------------------------------------


def _limiters(request: Request, settings: Settings) -> tuple[RateLimiter, RateLimiter]:
    state = request.app.state
    if not hasattr(state, "review_limits"):
        state.review_limits = (
            RateLimiter(settings.reviews_per_minute_per_client, settings.review_burst_per_client),
            RateLimiter(settings.reviews_per_minute_per_item, settings.review_burst_per_item),
        )
    limits: tuple[RateLimiter, RateLimiter] = state.review_limits
    return limits


def _known_item(request: Request, ledger: Ledger, item: str) -> queries.ItemKeys:
    try:
        keys = _item_keys(item)
    except DigitalLinkError as e:
        raise HTTPException(status_code=400, detail=f"{item!r} is not a valid item: {e}") from e
    if keys.own.startswith(("/00/", "/414/")):
        raise HTTPException(status_code=400, detail="reviews are about products, lots or serials")
    # An item once known stays known (the log only grows), so each worker asks the database
    # once per item rather than once per review.
    known: set[str] = request.app.state.__dict__.setdefault("known_items", set())
    if keys.own not in known:
        with ledger.log.store.read() as reader:
            if not queries.item_known(reader, keys):
                raise HTTPException(status_code=404, detail=f"nothing is recorded about {keys.own}")
        if len(known) < KNOWN_ITEMS_CACHED:
            known.add(keys.own)
    return keys


KNOWN_ITEMS_CACHED = 100_000


@functools.lru_cache(maxsize=4096)
def _item_keys(item: str) -> queries.ItemKeys:
    return queries.item_keys(item)


async def _append(
    ledger: Ledger, keys: OperatorKeys, body: dict[str, Any], hook: AdmitHook
) -> Receipt:
    payload = json.dumps({"by": "operator", **body}, separators=(",", ":"), ensure_ascii=False)
    envelope = sign_envelope(PAYLOAD_TYPE, payload.encode(), [keys.operator_key])
    # Signed here, by the operator key, a moment ago: no need to parse or verify it again.
    prepared = ledger.prepare_own(envelope, envelope.signatures[0].keyid, on_admit=hook)
    outcome = await asyncio.wrap_future(ledger.enqueue(prepared))
    if isinstance(outcome, AppendRefused):
        raise outcome
    return outcome


async def post_review(
    request: Request, ledger: Ledger, keys: OperatorKeys, settings: Settings, body: ReviewCreate
) -> Posted:
    """Check limits and the item, then append the review and its content in one transaction."""
    per_client, per_item = _limiters(request, settings)
    enforce(per_client, client_address(request, settings.trusted_proxy), "from your address")
    item = _known_item(request, ledger, body.item)
    enforce(per_item, item.own, "about this item")
    content = reviews.ReviewContent(
        item=item.own, kind=body.kind, rating=body.rating, title=body.title.strip(),
        text=body.text.strip(), name=(body.name or "").strip() or None,
    )  # fmt: skip
    new = reviews.new_review(content, (body.contact or "").strip() or None, body.holder_code)
    receipt = await _append(ledger, keys, new.statement(), new.admit)
    return Posted(receipt, item.own, new.author_token)


class Posted(NamedTuple):
    """A review just appended: its receipt, the item it is about, and its author's token."""

    receipt: Receipt
    item: str
    author_token: str

    def to_json(self) -> bytes:
        """The bytes :class:`ReviewPosted` serializes to, written directly: the busiest write
        path, and already validated (tests/service/test_reviews.py checks they are the same)."""
        head = json.dumps(
            {"index": self.receipt.index, "item": self.item, "author_token": self.author_token},
            ensure_ascii=False, separators=(",", ":"),
        )  # fmt: skip
        return head[:-1].encode() + b',"receipt":' + receipt_json(self.receipt) + b"}"


@router.post(
    "",
    status_code=201,
    response_model=ReviewPosted,
    summary="Post a review",
    responses={
        400: {"description": "Invalid item or field, or a holder code not valid here."},
        404: {"description": "Nothing is recorded about the item."},
        409: {"description": "The same review is already in the log, or the code was used."},
        429: {"description": "Too many reviews from this address or about this item."},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ReviewCreate.model_json_schema()}},
        }
    },
)
async def create_review(request: Request) -> Response:
    """Append a review: the log gets a salted commitment to its content (no personal data), the
    content is kept beside the log. The answer's `author_token` lets its author erase it, or
    resolve or escalate a complaint, later."""
    # The body is validated here rather than by FastAPI's dependency machinery, which costs more
    # than the validation itself on the busiest write path; errors read exactly the same.
    try:
        body = ReviewCreate.model_validate_json(await request.body())
    except ValidationError as e:
        errors = [{**error, "loc": ("body", *error.get("loc", ()))} for error in e.errors()]
        raise RequestValidationError(errors) from e
    state = request.app.state
    posted = await post_review(request, state.ledger, state.keys, state.settings, body)
    return Response(posted.to_json(), status_code=201, media_type="application/json")


# --- Reading ------------------------------------------------------------------------------------


@router.get("", response_model=ReviewsPublic, summary="An item's reviews and aggregates")
def list_reviews(
    request: Request,
    ledger: LedgerDep,
    item: Annotated[str, Query(max_length=512, description="The item's Digital Link path.")],
) -> ReviewsPublic:
    """The reviews of the item and of the levels below it (a lot's serials), newest first, with
    rating distribution, average, complaint themes and suggestions for the item, its lot and its
    product."""
    keys = _known_item(request, ledger, item)
    with ledger.log.store.read() as reader:
        views = reviews.reviews(reader, items=reviews.items_under(reader, keys.own))
        aggregates = {}
        for level in keys.covered_by:
            under = reviews.reviews(reader, items=reviews.items_under(reader, level))
            aggregates[level] = AggregatePublic(**vars(reviews.aggregate(under)))
    return ReviewsPublic(
        item=keys.own,
        aggregates=aggregates,
        reviews=[ReviewPublic.of(v) for v in reversed(views)],
    )


class ReviewWithEvidence(ReviewPublic):
    evidence: dict[str, Any] = Field(description="Proofs for the review and what followed it.")


@router.get("/{index}", response_model=ReviewWithEvidence, summary="One review, with its proofs")
def get_review(request: Request, ledger: LedgerDep, index: ReviewIndex) -> ReviewWithEvidence:
    """The review at `index`, with the evidence (entries, inclusion proofs, checkpoint) that lets
    anyone check it and its answers against the log."""
    with ledger.log.store.read() as reader:
        found = reviews.reviews(reader, indexes=[index])
        if not found:
            raise HTTPException(status_code=404, detail=f"entry {index} is not a review")
        view = found[0]
        claims = [index, *(a.index for a in view.answers)]
        evidence = build_evidence(reader, claims, request.app.state.keys.log_signer.verifier_key())
    evidence["reviews"] = reviews.evidence_contents([view])
    return ReviewWithEvidence(**ReviewPublic.of(view).model_dump(), evidence=evidence)


# --- The author's and the operator's actions ------------------------------------------------------


def _review(ledger: Ledger, index: int) -> reviews.ReviewView:
    with ledger.log.store.read() as reader:
        found = reviews.reviews(reader, indexes=[index])
    if not found:
        raise HTTPException(status_code=404, detail=f"entry {index} is not a review")
    return found[0]


def _is_admin(settings: Settings, token: str) -> bool:
    presented = hashlib.sha256(token.encode()).hexdigest()
    return hmac.compare_digest(presented, settings.admin_token_hash())


def _is_author(ledger: Ledger, index: int, token: str) -> bool:
    with ledger.log.store.read() as reader:
        return reviews.author_of(reader, index, token)


AuthorToken = Annotated[
    str | None, Header(alias="Authorization", description="`Bearer <author token>` (or admin).")
]


AUTHOR_PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not the review's author token (nor, for erasure, the admin token)."},
    403: {"description": "A legal erasure without the admin token."},
    404: {"description": "No review at that index."},
    409: {"description": "Already erased, or not a complaint."},
}


@router.post(
    "/{index}/erasure",
    response_model=ReceiptPublic,
    summary="Erase a review's content",
    responses=AUTHOR_PROBLEMS,
)
async def erase_review(
    ledger: LedgerDep, keys: KeysDep, settings: SettingsDep, index: ReviewIndex, body: Erasure,
    authorization: AuthorToken = None,
) -> ReceiptPublic:  # fmt: skip
    """Erase the content of review `index` (its author, with the author token; or the operator,
    for a legal request). The log keeps the commitment and records the erasure."""
    token = (authorization or "").removeprefix("Bearer ").strip()
    admin = bool(token) and _is_admin(settings, token)
    if not admin and not (token and _is_author(ledger, index, token)):
        raise HTTPException(
            status_code=401, detail="only the review's author or the operator may erase it"
        )
    if body.reason == "legal" and not admin:
        raise HTTPException(status_code=403, detail="a legal erasure is the operator's")
    if _review(ledger, index).erased is not None:
        raise HTTPException(status_code=409, detail=f"review {index} is already erased")

    def scrub(txn: Any, _entry: int, time_ms: int) -> None:
        reviews.erase(txn, index, time_ms)

    receipt = await _append(
        ledger, keys, {"type": "review.erase", "review": index, "reason": body.reason}, scrub
    )
    return ReceiptPublic.of(receipt)


@router.post(
    "/{index}/status",
    response_model=ReceiptPublic,
    summary="Resolve or escalate a complaint",
    responses=AUTHOR_PROBLEMS,
)
async def change_status(
    ledger: LedgerDep,
    keys: KeysDep,
    index: ReviewIndex,
    body: StatusChange,
    authorization: AuthorToken = None,
) -> ReceiptPublic:
    """The complaint's author marks it resolved, or escalates it (with the author token)."""
    token = (authorization or "").removeprefix("Bearer ").strip()
    if not token or not _is_author(ledger, index, token):
        raise HTTPException(
            status_code=401, detail="only the complaint's author may change its status"
        )
    if _review(ledger, index).kind != "complaint":
        raise HTTPException(status_code=409, detail=f"review {index} is not a complaint")

    def nothing(_txn: Any, _entry: int, _time_ms: int) -> None:
        return None

    receipt = await _append(
        ledger, keys, {"type": "review.status", "review": index, "status": body.status}, nothing
    )
    return ReceiptPublic.of(receipt)


holder_router = APIRouter(prefix="/api/v1/holder-codes", tags=["reviews"])


@holder_router.post(
    "",
    response_model=HolderCodesAdded,
    summary="Accept holder codes for a serial",
    responses={401: {"description": "Needs the admin bearer token."}},
)
def add_holder_codes(ledger: LedgerDep, _admin: AdminDep, body: HolderCodes) -> HolderCodesAdded:
    """Store the codes printed inside one serial's packaging (as hashes only); a review that
    presents one is marked "verified holder", once per code."""
    try:
        keys = queries.item_keys(body.item)
    except DigitalLinkError as e:
        raise HTTPException(
            status_code=400, detail=f"{body.item!r} is not a valid item: {e}"
        ) from e
    if "/21/" not in keys.own:
        raise InvalidStatementError("holder codes belong to serials (…/10/<lot>/21/<serial>)")
    with ledger.log.store.write() as txn:
        added = reviews.add_holder_codes(txn, keys.own, body.codes)
    return HolderCodesAdded(item=keys.own, added=added)


# --- The item page's form -------------------------------------------------------------------------


@form_router.post("/reviews/form")
async def post_review_form(
    request: Request, ledger: LedgerDep, keys: KeysDep, settings: SettingsDep
) -> Response:
    """The item page's form (``application/x-www-form-urlencoded``): checked like the API, plus the
    CSRF token, the origin and the honeypot; answers 303 back to the page, at the new review."""
    raw = await request.body()
    fields = {
        k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True).items()
    }
    origin = request.headers.get("origin")
    if origin and origin.rstrip("/") != settings.base_url.rstrip("/"):
        raise HTTPException(
            status_code=403, detail="this form may only be posted from its own page"
        )
    item = fields.get("item", "")
    problem = csrf_problem(settings.secret_key, item, fields.get("csrf", ""))
    if problem is not None:
        raise HTTPException(status_code=403, detail=problem)
    if fields.get(HONEYPOT):
        raise HTTPException(
            status_code=400, detail="this review looks automated and was not posted"
        )
    rating = fields.get("rating", "")
    try:
        body = ReviewCreate(
            item=item, kind=fields.get("kind", ""), rating=int(rating) if rating else None,
            title=fields.get("title", ""), text=fields.get("text", ""),
            name=fields.get("name") or None, contact=fields.get("contact") or None,
            holder_code=fields.get("holder_code") or None,
        )  # fmt: skip
    except ValueError as e:
        raise HTTPException(
            status_code=400, detail=f"the review is not complete: {_first_error(e)}"
        ) from e
    posted = await post_review(request, ledger, keys, settings, body)
    index = posted.receipt.index
    return RedirectResponse(f"{posted.item}?posted={index}#review-{index}", status_code=303)


def _first_error(error: ValueError) -> str:
    errors = getattr(error, "errors", None)
    if callable(errors):
        first = errors()[0]
        return f"{'.'.join(str(p) for p in first.get('loc', ()))}: {first.get('msg', '')}"
    return str(error)
