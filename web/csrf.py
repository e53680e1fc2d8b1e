"""CSRF tokens for the review form: an HMAC of the item and the hour the page was made.

The form posts no cookie and carries no credential, so the token's job is to prove the post came
from a page this service rendered, for this item, recently (a script elsewhere would have to fetch
a page first, and the rate limits still apply). Tokens are issued per hour, so that a cached page
keeps a valid token for as long as it is served; one is accepted for two hours.
"""

from __future__ import annotations

import hashlib
import hmac
import time

LIFETIME_S = 2 * 3600
BUCKET_S = 3600


def issued_now(now: float | None = None) -> int:
    """The start of the current hour: when a token made now says it was issued."""
    current = time.time() if now is None else now
    return int(current // BUCKET_S * BUCKET_S)


def csrf_token(secret: str, item: str, issued: int | None = None) -> str:
    """The form token for ``item``: ``<issued>.<hex HMAC-SHA256(secret, item|issued)>``."""
    at = issued_now() if issued is None else issued
    mac = hmac.new(secret.encode(), f"{item}|{at}".encode(), hashlib.sha256).hexdigest()
    return f"{at}.{mac}"


def csrf_problem(secret: str, item: str, token: str, now: float | None = None) -> str | None:
    """Why ``token`` is not a valid form token for ``item`` now, or None if it is."""
    issued = token.partition(".")[0]
    if not issued.isdigit() or not hmac.compare_digest(
        csrf_token(secret, item, int(issued)), token
    ):
        return "the form was not made by this site for this item: reload the page"
    current = time.time() if now is None else now
    if current - int(issued) > LIFETIME_S:
        return "the form has expired: reload the page and post again"
    return None
