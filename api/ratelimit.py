"""Rate limits for what anyone may post: token buckets per client address and per item.

Each worker process keeps its own buckets (a limit of N per minute with 2 workers lets through at
most 2N), which is enough to stop a script flooding an item with reviews; a deployment behind a
proxy sets ``PROVENANCE_TRUSTED_PROXY`` so the client address comes from ``X-Forwarded-For``.
A refusal says which limit was hit and when to come back (429 with ``Retry-After``).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from fastapi import HTTPException, Request


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets: ``burst`` requests at once, refilled at ``per_minute`` a minute, per key."""

    def __init__(self, per_minute: float, burst: int, capacity: int = 100_000) -> None:
        self.rate = per_minute / 60.0
        self.burst = burst
        self.capacity = capacity
        self.buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self.lock = threading.Lock()

    def take(self, key: str, now: float | None = None) -> float:
        """Spend one token of ``key``'s bucket; return 0 if allowed, else the seconds to wait."""
        now = time.monotonic() if now is None else now
        with self.lock:
            bucket = self.buckets.pop(key, None) or _Bucket(float(self.burst), now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            self.buckets[key] = bucket  # most recently used last; the oldest are evicted
            while len(self.buckets) > self.capacity:
                self.buckets.popitem(last=False)
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0.0
            return (1 - bucket.tokens) / self.rate if self.rate else math.inf


def client_address(request: Request, trusted_proxy: bool) -> str:
    """The client's address: the first of ``X-Forwarded-For`` behind a trusted proxy."""
    if trusted_proxy:
        forwarded = request.headers.get("x-forwarded-for", "").split(",")[0].strip()
        if forwarded:
            return forwarded
    return request.client.host if request.client else "unknown"


def enforce(limiter: RateLimiter, key: str, what: str) -> None:
    """Raise 429 with Retry-After if ``key`` has used up its bucket in ``limiter``."""
    wait = limiter.take(key)
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        raise HTTPException(
            status_code=429,
            detail=f"too many reviews {what}: try again in {seconds} s",
            headers={"Retry-After": str(seconds)},
        )
