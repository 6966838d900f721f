"""Each token is good for one call (SPEC-37): a `jti` seen before from the same issuer is refused.

The cache only has to remember a jti until the token could no longer pass the time checks
anyway (exp + leeway, or iat + max age + leeway, whichever is first), so its size is bounded by
the call rate times a few minutes. `MemoryReplayCache` is exact for one process;
`SqlReplayCache` keeps the jtis in the service's database (table `jwt_replay`), so that every
worker and instance sharing that database refuses a token any of them accepted. The app uses the
SQL cache (issue 13); the memory cache stays for tests and for verifiers built without a
database.
"""

from __future__ import annotations

import heapq
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import Connection, delete

from cds_service.storage.tables import jwt_replay
from cds_service.storage.upsert import insert_for

if TYPE_CHECKING:
    from cds_service.storage import Database

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


PRUNE_SECONDS = 60.0


class SqlReplayCache:
    """Replay cache in the shared database: one row per live (iss, jti) key.

    `first_use` is a single `INSERT ... ON CONFLICT DO UPDATE ... WHERE expired`: it inserts a
    new key, or takes over an expired row, and changes nothing for a live one, so it is atomic
    across instances (PostgreSQL serialises the two inserts of one key on its unique index; the
    second sees the first's row once it commits, and is refused). Expired rows are deleted by
    each process at most once a minute. A database that does not answer raises
    `StorageUnavailable` (503): a token is never accepted unchecked, nor refused as a replay it
    is not.
    """

    def __init__(self, database: Database, *, clock: Callable[[], float] = time.time) -> None:
        self._database = database
        self._clock = clock
        self._pruned_at = clock()

    async def first_use(self, key: str, expires_at: float) -> bool:
        now = self._clock()
        prune = now - self._pruned_at >= PRUNE_SECONDS
        if prune:
            self._pruned_at = now

        def claim(connection: Connection) -> bool:
            insert = insert_for(connection, jwt_replay).values(token_key=key, expires_at=expires_at)
            statement = insert.on_conflict_do_update(
                index_elements=[jwt_replay.c.token_key],
                set_={"expires_at": insert.excluded.expires_at},
                where=jwt_replay.c.expires_at < now,
            ).returning(jwt_replay.c.token_key)
            first = connection.execute(statement).first() is not None
            if prune:
                connection.execute(delete(jwt_replay).where(jwt_replay.c.expires_at < now))
            return first

        return await self._database.transaction(claim)
