"""Sending webhooks: one dispatcher per worker process turns complaints into deliveries and sends
those that are due, signed with the operator's key.

Each pass of the dispatcher's thread (every ``webhook_poll`` seconds, and at once when this process
commits a batch) does two things over the database, which is what makes several workers and
machines safe together (see :mod:`provenance.webhook_queue`): it turns the complaints appended since
the shared cursor into pending deliveries, exactly once, and it claims the deliveries that are due,
under a lease, and sends them, a few at a time. An attempt's outcome is stored as soon as it is
known, so a restart resumes where the last process stopped.

Each request is a POST of the JSON body with ``Provenance-Signature``, ``Provenance-Delivery`` and
``Provenance-Event`` headers (:mod:`provenance.webhook_signature`). Redirects are not followed and
the answer's body is not read. Outside development a URL must lead to a public address, checked at
registration and again on each connection: the connection goes to the very address that was
checked, so a name re-pointed at a private address between the check and the connect (DNS
rebinding) reaches nothing.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import httpcore2 as httpcore
import httpx2 as httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.settings import Settings
from provenance import webhook_queue as queue
from provenance.keyfiles import OperatorKeys
from provenance.ledger import Ledger
from provenance.store.sql import SqlStore
from provenance.webhook_queue import Attempt, Claim, InvalidWebhookURLError, RetryPolicy
from provenance.webhook_signature import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    sign_delivery,
)

logger = logging.getLogger(__name__)

SENDERS = 4
"""How many deliveries one worker sends at once."""

USER_AGENT = "provenance-ledger-webhooks/1"

MIN_GAP_S = 0.5
"""The least time between two passes, however often the ledger commits."""


def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to (OSError if it does not)."""
    return sorted(
        {str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
    )


def accept_url(url: str, settings: Settings) -> str:
    """Return ``url`` if the settings let deliveries go to it: https outside development and, unless
    private URLs are allowed, a host whose every address is public; InvalidWebhookURLError
    otherwise (also when the host cannot be resolved: a URL must work when it is registered)."""
    host = queue.check_url(url, require_https=settings.environment != "development")
    if not settings.webhook_allow_private_urls:
        try:
            addresses = resolve(host, 443)
        except OSError as e:
            raise InvalidWebhookURLError(f"the URL's host {host!r} does not resolve: {e}") from e
        _check_public(host, addresses)
    return url


def _check_public(host: str, addresses: list[str]) -> None:
    private = [a for a in addresses if not queue.is_public_address(a)]
    if private or not addresses:
        raise InvalidWebhookURLError(
            f"the URL's host {host!r} leads to a private address ({', '.join(private)})"
        )


class PublicOnlyBackend(httpcore.SyncBackend):
    """Opens connections only to public addresses, and only to an address it has just checked:
    the name is resolved once per connection and that answer is both judged and used."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = resolve(host, port)
        except OSError as e:
            raise httpcore.ConnectError(f"cannot resolve the URL's host: {e}") from e
        _check_public(host, addresses)  # InvalidWebhookURLError: nothing is opened
        failure: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as e:
                failure = e
        assert failure is not None  # _check_public refused an empty list
        raise failure


def delivery_client(settings: Settings) -> httpx.Client:
    """The client deliveries are sent with: outside development, one whose connections go only to
    the public addresses it checked (TLS still verifies the URL's host name)."""
    if settings.webhook_allow_private_urls:
        return httpx.Client(timeout=settings.webhook_timeout, follow_redirects=False)
    transport = httpx.HTTPTransport()
    # httpx offers no public way to choose how connections are opened; its connection pool does.
    transport._pool = httpcore.ConnectionPool(
        ssl_context=ssl.create_default_context(), network_backend=PublicOnlyBackend()
    )
    return httpx.Client(
        timeout=settings.webhook_timeout, follow_redirects=False, transport=transport
    )


class Dispatcher:
    """Creates and sends the webhook deliveries of one worker process."""

    def __init__(self, store: SqlStore, key: Ed25519PrivateKey, settings: Settings) -> None:
        self.store = store
        self.key = key
        self.settings = settings
        self.policy = RetryPolicy(
            settings.webhook_max_attempts, settings.webhook_backoff, settings.webhook_backoff_max
        )
        # Long enough for a whole attempt: resolving, connecting, writing and reading the answer's
        # head may each take up to the timeout.
        self.lease_ms = round(max(60.0, 6 * settings.webhook_timeout) * 1000)
        self.client = delivery_client(settings)
        self.senders = ThreadPoolExecutor(SENDERS, thread_name_prefix="webhook-send")
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="webhook-dispatch", daemon=True)
        self._listening: Ledger | None = None

    @classmethod
    def start(cls, ledger: Ledger, keys: OperatorKeys, settings: Settings) -> Dispatcher:
        """Start a dispatcher over the ledger's database, woken by each batch the ledger commits."""
        dispatcher = cls(ledger.log.store, keys.operator_key, settings)
        ledger.on_commit.append(dispatcher.wake)
        dispatcher._listening = ledger
        dispatcher._thread.start()
        return dispatcher

    def wake(self, _size: int = 0) -> None:
        """Make the next pass start now (cheap: safe to call from the committing thread)."""
        self._wake.set()

    def stop(self) -> None:
        """Finish the pass under way (at most one timeout of sending), then stop."""
        if self._listening is not None and self.wake in self._listening.on_commit:
            self._listening.on_commit.remove(self.wake)
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join()
        self.senders.shutdown(wait=True)
        self.client.close()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                self.run_once()
            except Exception:  # a database hiccup must not end the thread: try again next pass
                logger.exception("webhook dispatch pass failed")
            # A busy log commits many batches a second; one pass per MIN_GAP_S serves them all.
            gap = min(MIN_GAP_S, self.settings.webhook_poll)
            if self._stopping.wait(gap):
                break
            self._wake.wait(self.settings.webhook_poll - gap)

    def run_once(self) -> int:
        """One pass: create the deliveries owed for new complaints, then claim and send the due
        ones, SENDERS at a time, until none is due; return how many attempts were made."""
        queue.dispatch(self.store, _now_ms())
        made = 0
        while not self._stopping.is_set():
            claims = queue.claim(self.store, _now_ms(), self.lease_ms, SENDERS)
            if not claims:
                break
            made += sum(1 for _ in self.senders.map(self.attempt, claims))
        return made

    def attempt(self, claimed: Claim) -> None:
        """Send one claimed delivery and store how it went."""
        if claimed.webhook_removed:
            outcome = queue.judge(
                Attempt(error="webhook removed", permanent=True),
                claimed.attempts,
                self.policy,
                _now_ms(),
            )
        else:
            with self.store.read() as reader:
                body = queue.payload(reader, claimed, self.settings.base_url)
            outcome = queue.judge(
                self.send(claimed, body), claimed.attempts, self.policy, _now_ms()
            )
        if not queue.record(self.store, claimed, outcome, _now_ms()):
            logger.info("webhook delivery %s: claim lost before its outcome was stored", claimed.id)

    def send(self, claimed: Claim, body: bytes) -> Attempt:
        """POST ``body``, signed now, to the claimed delivery's URL; say how it went."""
        try:
            queue.check_url(claimed.url, require_https=self.settings.environment != "development")
        except InvalidWebhookURLError as e:
            return Attempt(error=str(e), permanent=True)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: sign_delivery(self.key, body, int(time.time())),
            DELIVERY_HEADER: claimed.id,
            EVENT_HEADER: claimed.event,
        }
        try:
            with self.client.stream("POST", claimed.url, content=body, headers=headers) as answer:
                return Attempt(
                    status_code=answer.status_code,
                    retry_after_s=queue.retry_after_seconds(
                        answer.headers.get("Retry-After"), time.time()
                    ),
                )
        except InvalidWebhookURLError as e:  # the host now leads to a private address
            return Attempt(error=str(e), permanent=True)
        except httpx.TimeoutException as e:
            return Attempt(error=f"timed out: {type(e).__name__}")
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as e:
            return Attempt(error=f"{type(e).__name__}: {e}", permanent=True)
        except httpx.HTTPError as e:
            return Attempt(error=f"{type(e).__name__}: {e}")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
