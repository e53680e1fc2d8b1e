"""Webhooks beside the log: who asked to be told of complaints, and the deliveries owed to them.

Three tables, kept beside the log and never rebuilt from it: ``webhook`` (a party's URL and the
events it wants), ``webhook_delivery`` (one event owed to one webhook, and how sending it went) and
``webhook_cursor`` (how far the log has been turned into deliveries).

Into the queue exactly once. :func:`dispatch` reads, in one snapshot, the log's size and the
complaints appended since the cursor, and works out the webhooks each one concerns; then, in one
short write transaction, it moves the cursor from the position it read to the one it reached
(compare and set) and inserts the deliveries. Of two workers that read the same position, the
second's compare-and-set matches no row and it inserts nothing; the unique (webhook, review, event)
index is a second guard.

Sent by one worker at a time. :func:`claim` picks due deliveries and, in the same transaction,
counts the attempt, moves ``next_attempt_ms`` ahead by a lease and sets a claim token (PostgreSQL
locks the rows it picks with ``FOR UPDATE SKIP LOCKED``, so concurrent claimers take different
rows; SQLite's ``BEGIN IMMEDIATE`` admits one writer at a time). :func:`record` writes the
outcome only while the token still matches. A worker that dies while sending leaves the lease to
run out and the delivery is sent again: delivery is at least once, and receivers deduplicate by the
delivery id.

Writes here take the database's write transaction but not the log's append lock: nothing here
appends to the log, and a poll every second per worker should not queue behind group commits.

The retry policy (:class:`RetryPolicy`, :func:`judge`) and the URL rules (:func:`check_url`,
:func:`is_public_address`) are pure. This module never opens a connection to a receiver and never
resolves a name: :mod:`api.webhooks` does both.
"""

from __future__ import annotations

import email.utils
import ipaddress
import json
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from sqlalchemy import Connection, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from provenance.concerned import parties_concerned
from provenance.errors import MalformedError, ProvenanceError
from provenance.reviews import reviews
from provenance.store.schema import (
    LOG_ENTRY,
    REVIEW_CONTENT,
    WEBHOOK,
    WEBHOOK_CURSOR,
    WEBHOOK_DELIVERY,
)
from provenance.store.sql import Reader, SqlStore

Event = Literal["complaint"]
COMPLAINT: Event = "complaint"
EVENTS: tuple[Event, ...] = (COMPLAINT,)
"""The events a webhook may ask for."""

MAX_WEBHOOKS = 10
"""The most webhooks one party may have at a time."""

MAX_URL = 2000
DISPATCH_PAGE = 500
"""The most complaints one dispatch pass turns into deliveries."""

CURSOR_SLACK = 10_000
"""How far the log may run ahead of the cursor, without complaints, before the cursor is moved."""

MAX_RETRY_AFTER_S = 86_400.0
"""The longest ``Retry-After`` honoured, in seconds; a longer one is cut to this."""

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


# --- Errors --------------------------------------------------------------------------------------


class WebhookError(ProvenanceError):
    """A webhook request that cannot be honoured."""

    code = "webhook-error"
    status = 400


class InvalidWebhookURLError(WebhookError):
    """A URL deliveries may not be sent to (its scheme, its form, or where it leads)."""

    code = "invalid-webhook-url"
    status = 422


class WebhookConflictError(WebhookError):
    """The party already has this URL, or as many webhooks as it may have."""

    code = "webhook-conflict"
    status = 409


# --- URLs ----------------------------------------------------------------------------------------


def check_url(url: str, *, require_https: bool) -> str:
    """Return the host of ``url`` if deliveries may go to it: an absolute http or https URL (https
    only, with ``require_https``) of at most MAX_URL characters, with a host, and without user
    info or fragment; InvalidWebhookURLError naming the rule otherwise. Where the host leads is
    checked apart (:func:`is_public_address`), since finding out needs the network."""
    if len(url) > MAX_URL:
        raise InvalidWebhookURLError(f"the URL is {len(url)} characters; at most {MAX_URL}")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise InvalidWebhookURLError("the URL holds spaces or control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port out of range
    except ValueError as e:
        raise InvalidWebhookURLError(f"not a URL: {e}") from e
    allowed = ("https",) if require_https else ("http", "https")
    if parts.scheme not in allowed:
        raise InvalidWebhookURLError(f"the URL's scheme must be {' or '.join(allowed)}")
    if not parts.hostname:
        raise InvalidWebhookURLError("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise InvalidWebhookURLError("the URL must not hold a user name or password")
    if parts.fragment:
        raise InvalidWebhookURLError("the URL must not have a fragment")
    return parts.hostname


def is_public_address(address: str) -> bool:
    """Return whether an IP address is on the public internet: not private, loopback, link-local,
    shared, reserved, multicast or unspecified (an IPv4-mapped IPv6 address is judged as IPv4)."""
    try:
        parsed = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    return parsed.is_global and not parsed.is_multicast


# --- Retries -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a delivery."""

    max_attempts: int = 8
    backoff_s: float = 1.0
    backoff_max_s: float = 3600.0

    def delay_s(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th attempt failed: ``backoff_s`` doubled at each
        attempt after the first (1, 2, 4, 8... with the default), at most ``backoff_max_s``."""
        doubling = 2.0 ** min(max(attempts - 1, 0), 60)
        return min(self.backoff_max_s, self.backoff_s * doubling)


@dataclass(frozen=True)
class Attempt:
    """How one attempt at sending went: the receiver's HTTP status, or the error that stopped it."""

    status_code: int | None = None
    error: str | None = None
    retry_after_s: float | None = None
    permanent: bool = False
    """An error no retry can mend (the URL now leads somewhere deliveries may not go)."""


@dataclass(frozen=True)
class Outcome:
    """What becomes of a delivery after an attempt."""

    status: str
    next_attempt_ms: int | None
    last_status: int | None
    last_error: str | None


RETRYABLE = frozenset({408, 429})
HONOURS_RETRY_AFTER = frozenset({429, 503})


def judge(attempt: Attempt, attempts: int, policy: RetryPolicy, now_ms: int) -> Outcome:
    """Decide what comes of the ``attempts``-th attempt at a delivery:

    1. a 2xx answer: delivered;
    2. any other answer but 408, 429 and 5xx (a 3xx, since redirects are not followed, or a 4xx),
       or a permanent error: failed, for good;
    3. otherwise (408, 429, 5xx, a timeout, a connection error): pending again after the policy's
       backoff, or after the answer's ``Retry-After`` if that is longer (429 and 503 only, at most
       MAX_RETRY_AFTER_S); but failed if this was the last attempt the policy allows.
    """
    code = attempt.status_code
    # 1
    if code is not None and 200 <= code < 300:
        return Outcome(DELIVERED, None, code, None)
    # 2
    what = attempt.error or f"HTTP {code}"
    retryable = code is None or code in RETRYABLE or code >= 500
    if attempt.permanent or not retryable:
        if code is not None and 300 <= code < 400:
            what += " (redirects are not followed)"
        return Outcome(FAILED, None, code, f"{what}: not retried")
    # 3
    if attempts >= policy.max_attempts:
        return Outcome(FAILED, None, code, f"{what}: gave up after {attempts} attempts")
    delay = policy.delay_s(attempts)
    if code in HONOURS_RETRY_AFTER and attempt.retry_after_s is not None:
        delay = max(delay, min(attempt.retry_after_s, MAX_RETRY_AFTER_S))
    return Outcome(PENDING, now_ms + round(delay * 1000), code, what)


def retry_after_seconds(value: str | None, now_s: float) -> float | None:
    """Return the seconds a ``Retry-After`` header asks to wait (delay-seconds or an HTTP date),
    or None if there is none or it cannot be read."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now_s)


# --- Reading -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookView:
    """A webhook as stored."""

    id: str
    party_id: str
    url: str
    events: tuple[str, ...]
    since_index: int
    created_ms: int
    created_by: str
    removed_ms: int | None

    @classmethod
    def of(cls, row: Any) -> WebhookView:
        return cls(
            id=row["id"],
            party_id=row["party_id"],
            url=row["url"],
            events=tuple(e for e in str(row["events"]).split(",") if e),
            since_index=int(row["since_index"]),
            created_ms=int(row["created_ms"]),
            created_by=row["created_by"],
            removed_ms=None if row["removed_ms"] is None else int(row["removed_ms"]),
        )


@dataclass(frozen=True)
class DeliveryView:
    """A delivery as stored: what is owed, and how sending it went."""

    id: str
    webhook_id: str
    event: str
    review: int
    item: str
    status: str
    attempts: int
    next_attempt_ms: int | None
    last_status: int | None
    last_error: str | None
    created_ms: int
    updated_ms: int
    delivered_ms: int | None

    @classmethod
    def of(cls, row: Any) -> DeliveryView:
        return cls(**{c.name: row[c.name] for c in WEBHOOK_DELIVERY.columns if c.name != "claim"})


def webhooks(reader: Reader, party_id: str) -> list[WebhookView]:
    """The party's webhooks that are not removed, oldest first."""
    rows = reader.connection.execute(
        select(WEBHOOK)
        .where(WEBHOOK.c.party_id == party_id, WEBHOOK.c.removed_ms.is_(None))
        .order_by(WEBHOOK.c.created_ms, WEBHOOK.c.id)
    ).mappings()
    return [WebhookView.of(r) for r in rows]


def webhook(reader: Reader, webhook_id: str) -> WebhookView | None:
    """The webhook ``webhook_id``, removed or not, or None if there is none."""
    row = (
        reader.connection.execute(select(WEBHOOK).where(WEBHOOK.c.id == webhook_id))
        .mappings()
        .first()
    )
    return None if row is None else WebhookView.of(row)


def deliveries(
    reader: Reader, webhook_id: str, *, limit: int = 100, status: str | None = None
) -> list[DeliveryView]:
    """The webhook's deliveries, newest first, at most ``limit``, of ``status`` if given."""
    query = select(WEBHOOK_DELIVERY).where(WEBHOOK_DELIVERY.c.webhook_id == webhook_id)
    if status is not None:
        query = query.where(WEBHOOK_DELIVERY.c.status == status)
    query = query.order_by(WEBHOOK_DELIVERY.c.review.desc(), WEBHOOK_DELIVERY.c.id).limit(limit)
    return [DeliveryView.of(r) for r in reader.connection.execute(query).mappings()]


# --- Registering ---------------------------------------------------------------------------------


@contextmanager
def _write(store: SqlStore) -> Iterator[Connection]:
    """A write transaction without the append lock (SQLite: BEGIN IMMEDIATE)."""
    with store.writer.begin() as connection:
        yield connection


def register(
    store: SqlStore,
    party_id: str,
    url: str,
    events: Sequence[str],
    created_by: str,
    now_ms: int,
) -> WebhookView:
    """Store a new webhook for ``party_id`` and return it; it is told of events from the current
    end of the log on. WebhookConflictError if the party has this URL already or MAX_WEBHOOKS."""
    unknown = sorted(set(events) - set(EVENTS))
    if not events or unknown:
        raise WebhookError(f"events must be among {', '.join(EVENTS)}")
    with _write(store) as connection:
        active = [
            WebhookView.of(r)
            for r in connection.execute(
                select(WEBHOOK).where(
                    WEBHOOK.c.party_id == party_id, WEBHOOK.c.removed_ms.is_(None)
                )
            ).mappings()
        ]
        same = next((w for w in active if w.url == url), None)
        if same is not None:
            raise WebhookConflictError(f"party {party_id!r} has this URL already: {same.id}")
        if len(active) >= MAX_WEBHOOKS:
            raise WebhookConflictError(f"a party may have at most {MAX_WEBHOOKS} webhooks")
        size = connection.execute(select(func.coalesce(func.max(LOG_ENTRY.c.idx) + 1, 0))).scalar()
        row = {
            "id": "wh_" + secrets.token_hex(8),
            "party_id": party_id,
            "url": url,
            "events": ",".join(sorted(set(events))),
            "since_index": int(size or 0),
            "created_ms": now_ms,
            "created_by": created_by,
            "removed_ms": None,
        }
        connection.execute(WEBHOOK.insert(), row)
    return WebhookView.of(row)


def remove(store: SqlStore, webhook_id: str, now_ms: int) -> WebhookView | None:
    """Mark the webhook removed and fail its pending deliveries; return it as it now is, or None
    if there is no such webhook. Removing a removed webhook changes nothing."""
    with _write(store) as connection:
        connection.execute(
            update(WEBHOOK)
            .where(WEBHOOK.c.id == webhook_id, WEBHOOK.c.removed_ms.is_(None))
            .values(removed_ms=now_ms)
        )
        connection.execute(
            update(WEBHOOK_DELIVERY)
            .where(
                WEBHOOK_DELIVERY.c.webhook_id == webhook_id,
                WEBHOOK_DELIVERY.c.status == PENDING,
            )
            .values(
                status=FAILED,
                next_attempt_ms=None,
                claim=None,
                last_error="webhook removed",
                updated_ms=now_ms,
            )
        )
        row = (
            connection.execute(select(WEBHOOK).where(WEBHOOK.c.id == webhook_id)).mappings().first()
        )
    return None if row is None else WebhookView.of(row)


# --- Dispatching ---------------------------------------------------------------------------------


def dispatch(store: SqlStore, now_ms: int, *, page: int = DISPATCH_PAGE) -> int:
    """Turn the complaints appended since the cursor (at most ``page`` of them) into one pending
    delivery per webhook of each party concerned, and move the cursor past them; return how many
    deliveries this call created (0 if another worker moved the cursor first).

    Only reads while there is nothing to do: the cursor is moved when complaints were found, or
    when the log has run CURSOR_SLACK entries ahead of it, so that a busy log without complaints
    costs no write (no fsync on SQLite) per batch."""
    with store.read() as reader:
        start = reader.connection.execute(
            select(WEBHOOK_CURSOR.c.position).where(WEBHOOK_CURSOR.c.name == COMPLAINT)
        ).scalar()
        if start is None:
            return 0
        size = reader.size()
        # review_content rows are written with their entries, so this snapshot sees exactly the
        # complaints among the entries below ``size``.
        complaints = reader.connection.execute(
            select(REVIEW_CONTENT.c.idx, REVIEW_CONTENT.c.item)
            .where(
                REVIEW_CONTENT.c.idx >= start,
                REVIEW_CONTENT.c.idx < size,
                REVIEW_CONTENT.c.kind == COMPLAINT,
            )
            .order_by(REVIEW_CONTENT.c.idx)
            .limit(page)
        ).all()
        if not complaints and size - start < CURSOR_SLACK:
            return 0
        end = size if len(complaints) < page else int(complaints[-1][0]) + 1
        rows = _deliveries_owed(reader, [(int(i), str(item)) for i, item in complaints], now_ms)
    with _write(store) as connection:
        moved = connection.execute(
            update(WEBHOOK_CURSOR)
            .where(WEBHOOK_CURSOR.c.name == COMPLAINT, WEBHOOK_CURSOR.c.position == start)
            .values(position=end)
        ).rowcount
        if moved != 1:
            return 0
        if rows:
            insert = (postgresql.insert if store.dialect == "postgresql" else sqlite.insert)(
                WEBHOOK_DELIVERY
            )
            connection.execute(insert.on_conflict_do_nothing(), rows)
    return len(rows)


def _deliveries_owed(
    reader: Reader, complaints: list[tuple[int, str]], now_ms: int
) -> list[dict[str, Any]]:
    if not complaints:
        return []
    subscribed: dict[str, list[WebhookView]] = {}
    for row in reader.connection.execute(
        select(WEBHOOK).where(WEBHOOK.c.removed_ms.is_(None))
    ).mappings():
        hook = WebhookView.of(row)
        if COMPLAINT in hook.events:
            subscribed.setdefault(hook.party_id, []).append(hook)
    if not subscribed:
        return []
    rows = []
    for index, item in complaints:
        try:
            parties = parties_concerned(reader, item)
        except MalformedError:  # not an item key: nobody answers for it
            continue
        for party in sorted(parties):
            for hook in subscribed.get(party, []):
                if hook.since_index <= index:
                    rows.append(_new_delivery(hook.id, index, item, now_ms))
    return rows


def _new_delivery(webhook_id: str, review: int, item: str, now_ms: int) -> dict[str, Any]:
    return {
        "id": "dl_" + secrets.token_hex(12),
        "webhook_id": webhook_id,
        "event": COMPLAINT,
        "review": review,
        "item": item,
        "status": PENDING,
        "attempts": 0,
        "next_attempt_ms": now_ms,
        "claim": None,
        "last_status": None,
        "last_error": None,
        "created_ms": now_ms,
        "updated_ms": now_ms,
        "delivered_ms": None,
    }


# --- Sending -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """A delivery a worker has claimed: what to send where, and the token that proves the claim."""

    id: str
    webhook_id: str
    party_id: str
    url: str
    webhook_removed: bool
    event: str
    review: int
    item: str
    attempts: int
    """How many attempts, this one included."""
    token: str


def claim(store: SqlStore, now_ms: int, lease_ms: int, limit: int) -> list[Claim]:
    """Claim up to ``limit`` pending deliveries due at ``now_ms`` for ``lease_ms``, counting the
    attempt; no other worker claims them until the lease runs out. Oldest due first."""
    token = secrets.token_hex(8)
    table = WEBHOOK_DELIVERY
    due = (
        select(table.c.id)
        .where(table.c.status == PENDING, table.c.next_attempt_ms <= now_ms)
        .order_by(table.c.next_attempt_ms, table.c.id)
    )
    with store.read() as reader:  # most passes find nothing due: then they write nothing
        if reader.connection.execute(due.limit(1)).first() is None:
            return []
    due = due.limit(limit).with_for_update(skip_locked=True)
    with _write(store) as connection:
        # Two statements, not UPDATE ... WHERE id IN (SELECT ... LIMIT): PostgreSQL may run such
        # a subquery more than once and update more rows than the limit. The rows the SELECT
        # returns stay locked by this transaction until it ends, so the UPDATE finds them as seen.
        ids = [str(r[0]) for r in connection.execute(due)]
        if not ids:
            return []
        claimed = connection.execute(
            update(table)
            .where(
                table.c.id.in_(ids), table.c.status == PENDING, table.c.next_attempt_ms <= now_ms
            )
            .values(
                next_attempt_ms=now_ms + lease_ms,
                claim=token,
                attempts=table.c.attempts + 1,
                updated_ms=now_ms,
            )
            .returning(
                table.c.id,
                table.c.webhook_id,
                table.c.event,
                table.c.review,
                table.c.item,
                table.c.attempts,
            )
        ).all()
        if not claimed:
            return []
        hooks = {
            str(r["id"]): r
            for r in connection.execute(
                select(WEBHOOK).where(WEBHOOK.c.id.in_({str(c[1]) for c in claimed}))
            ).mappings()
        }
    claims = []
    for delivery_id, webhook_id, event, review, item, attempts in claimed:
        hook = hooks[str(webhook_id)]
        claims.append(
            Claim(
                id=str(delivery_id),
                webhook_id=str(webhook_id),
                party_id=str(hook["party_id"]),
                url=str(hook["url"]),
                webhook_removed=hook["removed_ms"] is not None,
                event=str(event),
                review=int(review),
                item=str(item),
                attempts=int(attempts),
                token=token,
            )
        )
    return sorted(claims, key=lambda c: (c.review, c.id))


def record(store: SqlStore, claimed: Claim, outcome: Outcome, now_ms: int) -> bool:
    """Store the outcome of an attempt at a claimed delivery; return False (and store nothing) if
    the claim was lost meanwhile (its lease ran out and another worker took it, or the webhook
    was removed)."""
    table = WEBHOOK_DELIVERY
    with _write(store) as connection:
        changed = connection.execute(
            update(table)
            .where(table.c.id == claimed.id, table.c.claim == claimed.token)
            .values(
                status=outcome.status,
                next_attempt_ms=outcome.next_attempt_ms,
                claim=None,
                last_status=outcome.last_status,
                last_error=outcome.last_error,
                updated_ms=now_ms,
                delivered_ms=now_ms if outcome.status == DELIVERED else None,
            )
        ).rowcount
    return bool(changed == 1)


def payload(reader: Reader, claimed: Claim, base_url: str) -> bytes:
    """The JSON body of a claimed complaint delivery, read now: a complaint's text may have been
    erased since it was made, or hidden by a moderator, and then it is withheld (``withheld``
    says why). Compact JSON, UTF-8; these exact bytes are signed and sent."""
    found = reviews(reader, indexes=[claimed.review])
    view = found[0] if found else None
    withheld = None
    if view is None or view.erased is not None or view.content is None:
        withheld = "erased"
    elif view.hidden is not None:
        withheld = "hidden"
    content = view.content if view is not None and withheld is None else None
    time_ms = view.time_ms if view is not None else None
    body = {
        "event": claimed.event,
        "delivery": claimed.id,
        "party": claimed.party_id,
        "review": claimed.review,
        "item": claimed.item,
        "title": content.title if content else None,
        "text": content.text if content else None,
        "rating": content.rating if content else None,
        "holder": view.holder if view is not None else False,
        "withheld": withheld,
        "time": None if time_ms is None else _iso(time_ms),
        "url": f"{base_url.rstrip('/')}{claimed.item}#review-{claimed.review}",
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def _iso(time_ms: int) -> str:
    moment = datetime.fromtimestamp(time_ms / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
