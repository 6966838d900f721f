"""Each token is good for one call (SPEC-37): a `jti` seen before from the same issuer is refused.

The cache only has to remember a jti until the token could no longer pass the time checks
anyway (exp + leeway, or iat + max age + leeway, whichever is first), so its size is bounded by
the call rate times a few minutes. `ReplayCache` is the seam for a shared store (Redis, a
database) when several processes serve the same clients; `MemoryReplayCache` is exact for one
process.
"""

from __future__ import annotations

import heapq
import logging
import time
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger("cds_service.security")


class ReplayCache(Protocol):
    async def first_use(self, key: str, expires_at: float) -> bool:
        """Record `key` until `expires_at` (epoch seconds); False if it was already recorded."""
        ...


class MemoryReplayCache:
    """Process-local replay cache: a dict of live keys plus a heap ordered by expiry.

    Memory is bounded by `max_entries`. When that many unexpired tokens are remembered, a new
    token is refused (fails closed, logged) rather than forgetting a live jti, which would
    reopen a replay window. At the default, that needs over 300 accepted calls a second for
    five minutes, far beyond what one CDS service process sees.
    """

    def __init__(
        self, max_entries: int = 100_000, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._max_entries = max_entries
        self._clock = clock
        self._expiry: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self._expiry)

    async def first_use(self, key: str, expires_at: float) -> bool:
        # No await inside: atomic with respect to other tasks on the event loop.
        now = self._clock()
        self._prune(now)
        known = self._expiry.get(key)
        if known is not None and known >= now:
            return False
        if len(self._expiry) >= self._max_entries:
            log.warning("replay cache full (%d live tokens): token refused", self._max_entries)
            return False
        self._expiry[key] = expires_at
        heapq.heappush(self._heap, (expires_at, key))
        return True

    def _prune(self, now: float) -> None:
        while self._heap and self._heap[0][0] < now:
            expires_at, key = heapq.heappop(self._heap)
            if self._expiry.get(key) == expires_at:
                del self._expiry[key]
