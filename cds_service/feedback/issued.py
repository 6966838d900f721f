"""Every card the service answers is recorded in `issued_cards` (issue 13): which card, for which
recommendation under which policy, in which hook call, and a keyed hash of the patient id, so
that feedback can be matched to what was advised and cards nobody acted on counted.

Recording is off the hook call's path: the route hands the cards over once the response is
built (`note`, which never blocks and never raises), and a task of the app writes them in
batches (`run`). The EHR's time budget is for the advice, not for our bookkeeping, and a
database that is slow or down must not fail or delay a hook call. A card that could not be
recorded (queue full, database error) is logged and counted
(`aza_issued_cards_unrecorded_total{reason}`); its feedback is then stored flagged as an
unknown card. What is still queued when a worker is killed (SIGKILL) is lost; on an ordinary
shutdown the queue is written out first.

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
from anyio.abc import ObjectReceiveStream, ObjectSendStream
from sqlalchemy import Connection

from cds_service.cards.extension import EXTENSION_KEY
from cds_service.protocol import Card
from cds_service.storage import Database, StorageUnavailable, issued_cards
from cds_service.storage.upsert import insert_for

log = logging.getLogger("cds_service.feedback")

QUEUE_CARDS = 10_000
"""Cards waiting to be written, at most; beyond it new cards are dropped (and counted)."""
BATCH_CARDS = 500

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
    def __init__(
        self, database: Database, key: bytes | None, unrecorded: Unrecorded, *, queue: int = 0
    ) -> None:
        self.database = database
        self._key = key
        self._unrecorded = unrecorded
        send: ObjectSendStream[dict[str, Any]]
        receive: ObjectReceiveStream[dict[str, Any]]
        send, receive = anyio.create_memory_object_stream(queue or QUEUE_CARDS)
        self._send, self._receive = send, receive
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
        for number, row in enumerate(rows):
            try:
                self._send.send_nowait(row)
            except anyio.WouldBlock:
                log.error("issued-card queue full: %d cards not recorded", len(rows) - number)
                self._unrecorded("queue-full", len(rows) - number)
                return

    async def run(self) -> None:
        """Write queued cards until the queue is closed (`drain`), then return."""
        self._finished = finished = anyio.Event()
        try:
            await self._consume()
        finally:
            finished.set()

    async def _consume(self) -> None:
        async with self._receive:
            async for first in self._receive:
                batch = [first]
                while len(batch) < BATCH_CARDS:
                    try:
                        batch.append(self._receive.receive_nowait())
                    except (anyio.WouldBlock, anyio.EndOfStream):
                        break
                await self._write(batch)

    async def drain(self, seconds: float) -> None:
        """No more cards: wait (at most `seconds`) for `run` to write what is queued."""
        self._send.close()
        if self._finished is not None:
            with anyio.move_on_after(seconds):
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
