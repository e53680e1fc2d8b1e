"""Webhooks: a party registers URLs to be told of complaints about its items, lists and removes
them, and reads each one's delivery log.

Who may do what:

* register and remove: the party itself, with a DSSE envelope signed by one of its active keys
  (:mod:`provenance.webhook_signature`: payload type ``application/vnd.provenance.webhook+json``,
  dated, never appended to the log), or the operator with the admin token and plain JSON;
* list: anyone, but a URL is shown as its origin only (a receiver's path often holds a secret of
  its own), and in full with the admin token; the party itself got it back when registering;
* the delivery log: anyone. It holds nothing secret: complaint indexes (public in the log),
  statuses, HTTP codes, and the errors this service met sending.
"""

from __future__ import annotations

import base64
import time
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Header, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError

from api.deps import KeysDep, LedgerDep, SettingsDep, check_admin
from api.models import DSSE_ENVELOPE_SCHEMA
from api.webhooks import accept_url
from provenance import webhook_queue as queue
from provenance.keys import keyid, public_key_bytes
from provenance.ledger import Ledger
from provenance.webhook_queue import DeliveryView, WebhookView
from provenance.webhook_signature import (
    DELIVERY_HEADER,
    DELIVERY_TOLERANCE_S,
    EVENT_HEADER,
    REGISTER,
    REMOVE,
    SIGNATURE_HEADER,
    RequestSignatureError,
    open_request,
)

router = APIRouter(prefix="/api/v1/parties/{party_id}/webhooks", tags=["webhooks"])

PartyId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$", description="A party id.")]
WebhookId = Annotated[str, Path(pattern=r"^wh_[0-9a-f]{16}$", description="A webhook's id.")]
Authorization = Annotated[
    str | None,
    Header(description="`Bearer <admin token>`, to act as the operator", include_in_schema=False),
]

SIGNED: dict[int | str, dict[str, Any]] = {
    400: {"description": "Malformed envelope or body."},
    401: {"description": "No valid signature by a key of the party (or a stale one)."},
    403: {"description": "The signing key is revoked, or the party is suspended."},
    404: {"description": "No such party or webhook."},
}
EVENTS_DESCRIPTION = "The events to be told of (only `complaint` so far)."


class WebhookCreate(BaseModel):
    """What a party asks for: where to send, and which events."""

    url: str = Field(
        min_length=1,
        max_length=queue.MAX_URL,
        description="Where deliveries are POSTed (https outside development).",
        examples=["https://brand.example/hooks/provenance"],
    )
    events: list[queue.Event] = Field(
        default_factory=lambda: list(queue.EVENTS), min_length=1, max_length=1,
        description=EVENTS_DESCRIPTION,
    )  # fmt: skip


class WebhookPublic(BaseModel):
    """A webhook."""

    id: str = Field(description="Its id.")
    party: str = Field(description="The party it tells.")
    url: str = Field(
        description="Where deliveries go; in public listings only its origin (`https://host/…`)."
    )
    events: list[str] = Field(description=EVENTS_DESCRIPTION)
    since_index: int = Field(description="It is told of complaints from this log index on.")
    created: int = Field(description="When it was registered, in milliseconds since the epoch.")
    created_by: str = Field(description="`key:<keyid>` of the party key that asked, or `admin`.")
    removed: int | None = Field(description="When it was removed, if it was (milliseconds).")

    @classmethod
    def of(cls, hook: WebhookView, *, full_url: bool) -> WebhookPublic:
        return cls(
            id=hook.id,
            party=hook.party_id,
            url=hook.url if full_url else _origin(hook.url),
            events=list(hook.events),
            since_index=hook.since_index,
            created=hook.created_ms,
            created_by=hook.created_by,
            removed=hook.removed_ms,
        )


class DeliverySigning(BaseModel):
    """How a receiver checks that a delivery comes from this ledger (see docs/webhooks.md)."""

    algorithm: Literal["Ed25519"] = Field(description="The signature algorithm.")
    header: str = Field(description="The header that carries the signature.")
    format: str = Field(description="The header's value.")
    signed: str = Field(description="The bytes the signature covers.")
    keyid: str = Field(description="The operator key's id (hex SHA-256 of the public key).")
    public_key: str = Field(description="base64 of the operator's 32-byte Ed25519 public key.")
    keys_url: str = Field(description="Where the operator's current keys are published.")
    tolerance_s: int = Field(description="Refuse deliveries signed longer ago than this.")
    delivery_header: str = Field(description="Carries the delivery's id: deduplicate on it.")
    event_header: str = Field(description="Carries the event's name.")


class WebhookCreated(WebhookPublic):
    """A new webhook, and how to check its deliveries."""

    signing: DeliverySigning


class DeliveryPublic(BaseModel):
    """One delivery and how sending it went."""

    id: str = Field(description="Its id, also the `Provenance-Delivery` header and `delivery`.")
    event: str = Field(description="The event (`complaint`).")
    review: int = Field(description="The log index of the complaint.")
    item: str = Field(description="The complaint's item (Digital Link path).")
    status: Literal["pending", "delivered", "failed"] = Field(
        description="`pending` until a 2xx answer (`delivered`) or for good `failed`."
    )
    attempts: int = Field(description="Attempts made so far.")
    last_status_code: int | None = Field(description="The HTTP status of the last attempt.")
    last_error: str | None = Field(description="What went wrong with the last attempt.")
    next_attempt: int | None = Field(
        description="When it is next tried, if pending (milliseconds since the epoch)."
    )
    created: int = Field(description="When it was created (milliseconds since the epoch).")
    updated: int = Field(description="When it last changed (milliseconds since the epoch).")
    delivered: int | None = Field(description="When it was delivered (milliseconds).")

    @classmethod
    def of(cls, delivery: DeliveryView) -> DeliveryPublic:
        return cls(
            id=delivery.id,
            event=delivery.event,
            review=delivery.review,
            item=delivery.item,
            status=delivery.status,
            attempts=delivery.attempts,
            last_status_code=delivery.last_status,
            last_error=delivery.last_error,
            next_attempt=delivery.next_attempt_ms,
            created=delivery.created_ms,
            updated=delivery.updated_ms,
            delivered=delivery.delivered_ms,
        )


class DeliveryLog(BaseModel):
    """A webhook's deliveries, newest complaint first."""

    webhook: WebhookPublic
    deliveries: list[DeliveryPublic] = Field(description="Its deliveries, newest first.")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/…" if parts.path not in ("", "/") else url


def _party(ledger: Ledger, party_id: str) -> None:
    ledger.refresh()
    if party_id not in ledger.registry.parties:
        raise HTTPException(status_code=404, detail=f"no party {party_id!r}")


def _is_admin(request: Request, authorization: str | None) -> bool:
    """True with the right admin token; none given, False; a wrong one is refused (401)."""
    if authorization is None:
        return False
    check_admin(request, authorization)
    return True


def _webhook(ledger: Ledger, party_id: str, webhook_id: str) -> WebhookView:
    with ledger.log.store.read() as reader:
        hook = queue.webhook(reader, webhook_id)
    if hook is None or hook.party_id != party_id:
        raise HTTPException(
            status_code=404, detail=f"party {party_id!r} has no webhook {webhook_id}"
        )
    return hook


def _fields(data: bytes | dict[str, Any]) -> WebhookCreate:
    """The asked-for webhook, from the admin's JSON body or a signed request's payload."""
    try:
        if isinstance(data, bytes):
            return WebhookCreate.model_validate_json(data)
        return WebhookCreate.model_validate(data)
    except ValidationError as e:
        raise RequestValidationError(e.errors(include_url=False, include_context=False)) from e


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _signed_body(description: str) -> dict[str, Any]:
    envelope = {**DSSE_ENVELOPE_SCHEMA, "description": description}
    return {
        "requestBody": {"required": True, "content": {"application/json": {"schema": envelope}}}
    }


@router.post(
    "",
    status_code=201,
    response_model=WebhookCreated,
    summary="Register a webhook",
    responses={**SIGNED, 409: {"description": "The party has this URL already, or too many."},
               422: {"description": "The URL is not one deliveries may go to."}},
    openapi_extra=_signed_body(
        "A DSSE envelope of payloadType `application/vnd.provenance.webhook+json`, signed by an "
        "active key of the party, whose payload is `{\"action\": \"webhook.register\", \"party\", "
        "\"time\" (unix seconds), \"url\", \"events\"}`; with the admin token, plain "
        "`{\"url\", \"events\"}`."
    ),
)  # fmt: skip
async def register(
    request: Request,
    ledger: LedgerDep,
    settings: SettingsDep,
    keys: KeysDep,
    party_id: PartyId,
    authorization: Authorization = None,
) -> WebhookCreated:
    """Register a URL to be told of complaints about the party's items: those it made statements
    about, at their level or above (a complaint about a serial reaches whoever attested its lot or
    product). Each delivery is signed with the operator's key; the answer says how to check it.

    The request is signed by the party (a dated DSSE envelope, never appended to the log), or made
    by the operator with the admin token. The webhook is told of complaints appended from now on.
    """
    await run_in_threadpool(_party, ledger, party_id)
    data = await request.body()
    if _is_admin(request, authorization):
        fields, created_by = _fields(data), "admin"
    else:
        signed = open_request(data, ledger.registry, party_id, REGISTER)
        wanted: dict[str, Any] = {
            k: signed.payload[k] for k in ("url", "events") if k in signed.payload
        }
        fields, created_by = _fields(wanted), f"key:{signed.keyid}"
    url = await run_in_threadpool(accept_url, fields.url, settings)
    hook = await run_in_threadpool(
        queue.register, ledger.log.store, party_id, url, fields.events, created_by, _now_ms()
    )
    operator = public_key_bytes(keys.operator_key)
    signing = DeliverySigning(
        algorithm="Ed25519",
        header=SIGNATURE_HEADER,
        format="t=<unix seconds>,keyid=<hex keyid>,sig=<base64 Ed25519 signature>",
        signed="the ASCII decimal t, a dot, then the request body's exact bytes",
        keyid=keyid(operator),
        public_key=base64.b64encode(operator).decode(),
        keys_url=f"{settings.base_url.rstrip('/')}/api/v1/parties/operator",
        tolerance_s=DELIVERY_TOLERANCE_S,
        delivery_header=DELIVERY_HEADER,
        event_header=EVENT_HEADER,
    )
    return WebhookCreated(**WebhookPublic.of(hook, full_url=True).model_dump(), signing=signing)


@router.get("", response_model=list[WebhookPublic], summary="A party's webhooks",
            responses={404: {"description": "No such party."}})  # fmt: skip
def list_webhooks(
    request: Request, ledger: LedgerDep, party_id: PartyId, authorization: Authorization = None
) -> list[WebhookPublic]:
    """The party's webhooks that are not removed; URLs are shown as their origin only, unless the
    admin token is given."""
    full = _is_admin(request, authorization)
    _party(ledger, party_id)
    with ledger.log.store.read() as reader:
        return [WebhookPublic.of(h, full_url=full) for h in queue.webhooks(reader, party_id)]


@router.delete(
    "/{webhook_id}",
    response_model=WebhookPublic,
    summary="Remove a webhook",
    responses=SIGNED,
    openapi_extra=_signed_body(
        'A DSSE envelope as for registering, whose payload is `{"action": "webhook.remove", '
        '"party", "time", "webhook": "<id>"}`; nothing with the admin token.'
    ),
)
async def remove_webhook(
    request: Request,
    ledger: LedgerDep,
    party_id: PartyId,
    webhook_id: WebhookId,
    authorization: Authorization = None,
) -> WebhookPublic:
    """Remove a webhook (by the party, signed, or by the operator with the admin token): nothing
    more is sent to it, its pending deliveries are marked failed, and its delivery log stays."""
    await run_in_threadpool(_party, ledger, party_id)
    await run_in_threadpool(_webhook, ledger, party_id, webhook_id)
    if not _is_admin(request, authorization):
        signed = open_request(await request.body(), ledger.registry, party_id, REMOVE)
        if signed.payload.get("webhook") != webhook_id:
            raise RequestSignatureError(
                f"the signed request removes {signed.payload.get('webhook')!r}, not {webhook_id}"
            )
    removed = await run_in_threadpool(queue.remove, ledger.log.store, webhook_id, _now_ms())
    if removed is None:  # rows are never deleted, so only a database emptied meanwhile
        raise HTTPException(status_code=404, detail=f"no webhook {webhook_id}")
    return WebhookPublic.of(removed, full_url=False)


@router.get(
    "/{webhook_id}/deliveries",
    response_model=DeliveryLog,
    summary="A webhook's delivery log",
    responses={404: {"description": "No such party or webhook."}},
)
def delivery_log(
    ledger: LedgerDep,
    party_id: PartyId,
    webhook_id: WebhookId,
    status: Annotated[
        Literal["pending", "delivered", "failed"] | None,
        Query(description="Only deliveries of this status."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many.")] = 100,
) -> DeliveryLog:
    """Each delivery of the webhook, newest complaint first: its status, attempts, the last HTTP
    status or error, and when it is next tried. Public: it holds nothing secret."""
    _party(ledger, party_id)
    hook = _webhook(ledger, party_id, webhook_id)
    with ledger.log.store.read() as reader:
        found = queue.deliveries(reader, webhook_id, limit=limit, status=status)
    return DeliveryLog(
        webhook=WebhookPublic.of(hook, full_url=False),
        deliveries=[DeliveryPublic.of(d) for d in found],
    )
