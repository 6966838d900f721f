"""Every card the service answers is recorded in `issued_cards` (issue 13): which card, for which
recommendation under which policy, in which hook call, and a keyed hash of the patient id, so
that feedback can be matched to what was advised and cards nobody acted on counted.

Recording is off the hook call's path: the route hands the cards over once the response is
built (`note`, which never blocks and never raises), and a task of the app writes them in
batches that span calls (`run`: up to `LINGER_SECONDS` or `BATCH_CARDS` per transaction), so a
call pays no commit of its own. The EHR's time budget is for the advice, not for our
bookkeeping, and a database that is slow or down must not fail or delay a hook call. A card
that could not be recorded (queue full, database error) is logged and counted
(`aza_issued_cards_unrecorded_total{reason}`); its feedback is then stored flagged as an
unknown card. What is still queued when a worker is killed (SIGKILL) is lost (with a
database that keeps up, the last `LINGER_SECONDS` of cards); on an ordinary shutdown the queue
is written out first (`drain`), and feedback writes out what is waiting before it looks its
cards up (`flush`).

The patient id is never stored. `patient_hash` is HMAC-SHA256 of it under `patient_hash_key`,
a secret shared by all the instances of one deployment (so one patient has one hash across
them) and by nobody else (patient ids are short and guessable, so a plain hash could be reversed
by trying them all). Without the key, `patient_hash` is NULL: nothing that could identify the
patient is written.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio
from sqlalchemy import Connection

from cds_service.cards.extension import EXTENSION_KEY
from cds_service.protocol import Card
from cds_service.storage import Database, StorageUnavailable, issued_cards
from cds_service.storage.upsert import insert_for

log = logging.getLogger("cds_service.feedback")

QUEUE_CARDS = 10_000
"""Cards waiting to be written, at most; beyond it new cards are dropped (and counted)."""
BATCH_CARDS = 500
"""Cards written in one transaction, at most; a batch this full is written at once."""
LINGER_SECONDS = 0.25
"""How long the first card of a batch waits for others before their transaction is written."""

Unrecorded = Callable[[str, int], None]
"""Called with (reason, number of cards) for cards that could not be recorded."""


def patient_hash(key: bytes | None, patient_id: str | None) -> str | None:
    if key is None or not patient_id:
        return None
    return hmac.new(key, patient_id.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class HookAnswer:
    """What one hook call answered, as the route knows it."""

    service_id: str
    hook_instance: str
    patient_id: str | None
    client: str | None
    cards: Sequence[Card]


def issued_rows(answer: HookAnswer, key: bytes | None, now: datetime) -> list[dict[str, Any]]:
    hashed = patient_hash(key, answer.patient_id)
    rows = []
    for card in answer.cards:
        decision = (card.extension or {}).get(EXTENSION_KEY)
        decision = decision if isinstance(decision, dict) else {}
        policy = decision.get("policy")
        policy = policy if isinstance(policy, dict) else {}
        recommendation = decision.get("recommendation")
        rows.append(
            {
                "card_uuid": card.uuid,
                "service_id": answer.service_id,
                "hook_instance": answer.hook_instance,
                "recommendation": recommendation if isinstance(recommendation, str) else None,
                "policy_id": _text(policy.get("id")),
                "policy_version": _text(policy.get("version")),
                "issued_at": now,
                "client": answer.client,
                "patient_hash": hashed,
            }
        )
    return rows


def _text(value: object) -> str | None:
    return None if value is None else str(value)


class IssuedCardRecorder:
    """The issued cards of one process: queued by `note`, written by `run` in transactions that
    span calls.

    A card waits up to `LINGER_SECONDS` (or until `BATCH_CARDS` are waiting) for the next ones,
    so that calls arriving one at a time share one commit instead of each paying a synchronous
    SQLite commit (about 2-3 ms of worker time per call, issue 14). `flush` writes what is
    waiting at once: the feedback route calls it (feedback on a card answered a moment ago
    finds it recorded), so do shutdown (`drain`) and the tests.

    Everything runs on the event loop's thread (`note` from the routes, `run` as the app's
    task), so the queue is a plain list; the events are made inside the running loop.
    """

    def __init__(
        self,
        database: Database,
        key: bytes | None,
        unrecorded: Unrecorded,
        *,
        queue: int = 0,
        linger: float = LINGER_SECONDS,
    ) -> None:
        self.database = database
        self._key = key
        self._unrecorded = unrecorded
        self._capacity = queue or QUEUE_CARDS
        self._linger = linger
        self._waiting: list[dict[str, Any]] = []
        self._noted = 0  # cards accepted by `note`, ever
        self._settled = 0  # of those, written or counted as unrecorded
        self._closed = False
        self._running = False
        self._wake: anyio.Event | None = None  # set: cards are waiting (or closed)
        self._hurry: anyio.Event | None = None  # set: write the waiting cards now
        self._progress: anyio.Event | None = None  # set (and renewed) after each batch
        self._finished: anyio.Event | None = None
        self.recorded = 0

    def note(self, answer: HookAnswer) -> None:
        """Queue the cards of one answer; never blocks, never raises."""
        try:
            rows = issued_rows(answer, self._key, datetime.now(UTC))
        except Exception:  # a bug here must not fail a hook call that has its answer
            log.exception("issued cards could not be prepared")
            self._unrecorded("error", len(answer.cards))
            return
        room = self._capacity - len(self._waiting)
        if self._closed:
            room = 0
        if len(rows) > room:
            dropped = len(rows) - max(room, 0)
            log.error("issued-card queue full: %d cards not recorded", dropped)
            self._unrecorded("queue-full", dropped)
            rows = rows[: max(room, 0)]
        if not rows:
            return
        self._waiting.extend(rows)
        self._noted += len(rows)
        if self._wake is not None:
            self._wake.set()
        if len(self._waiting) >= BATCH_CARDS and self._hurry is not None:
            self._hurry.set()

    async def run(self) -> None:
        """Write queued cards until `drain` closes the queue and it is empty, then return."""
        self._finished = finished = anyio.Event()
        self._wake, self._hurry, self._progress = anyio.Event(), anyio.Event(), anyio.Event()
        self._running = True
        try:
            await self._consume()
        finally:
            self._running = False
            finished.set()

    async def _consume(self) -> None:
        while True:
            if not self._waiting:
                if self._closed:
                    return
                self._wake = anyio.Event()
                await self._wake.wait()
                continue
            if not self._closed and len(self._waiting) < BATCH_CARDS:
                hurry = self._hurry
                assert hurry is not None
                with anyio.move_on_after(self._linger):
                    await hurry.wait()
            if self._hurry is not None and self._hurry.is_set():
                self._hurry = anyio.Event()
            batch = self._waiting[:BATCH_CARDS]
            del self._waiting[:BATCH_CARDS]
            await self._write(batch)
            self._settled += len(batch)
            progress, self._progress = self._progress, anyio.Event()
            if progress is not None:
                progress.set()

    async def flush(self) -> None:
        """Write, now, every card noted before this call; return once they are written (or
        counted as unrecorded). Without a running writer (`run`), writes them itself."""
        target = self._noted
        if not self._running:
            while self._waiting:
                batch = self._waiting[:BATCH_CARDS]
                del self._waiting[:BATCH_CARDS]
                await self._write(batch)
                self._settled += len(batch)
            return
        while self._settled < target:
            progress = self._progress
            if self._hurry is not None:
                self._hurry.set()
            assert progress is not None
            await progress.wait()

    async def drain(self, seconds: float) -> None:
        """No more cards: write what is queued (waiting at most `seconds`); `run` returns."""
        self._closed = True
        if self._wake is not None:
            self._wake.set()
        with anyio.move_on_after(seconds):
            await self.flush()
            if self._finished is not None:
                await self._finished.wait()

    async def _write(self, rows: list[dict[str, Any]]) -> None:
        try:
            await self.database.transaction(lambda connection: _insert(connection, rows))
        except StorageUnavailable:
            self._unrecorded("database", len(rows))
            log.error("database unavailable: %d issued cards not recorded", len(rows))
        except Exception:
            self._unrecorded("error", len(rows))
            log.exception("%d issued cards not recorded", len(rows))
        else:
            self.recorded += len(rows)


def _insert(connection: Connection, rows: list[dict[str, Any]]) -> None:
    statement = insert_for(connection, issued_cards).on_conflict_do_nothing(
        index_elements=[issued_cards.c.card_uuid]
    )
    connection.execute(statement, rows)


def hash_key(secret: str | None) -> bytes | None:
    """The HMAC key from the configured secret (its UTF-8 bytes)."""
    return None if secret is None else secret.encode()
