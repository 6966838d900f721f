"""Feedback is written to SQLite and committed before the EHR gets its answer, so nothing a
client sent is lost. Clients may resend the same feedback (SPEC-29); each item has a content key,
so a resend is recorded once.

SQLite calls block, so they run in a worker thread; one connection per call keeps the store safe
to share across threads and uvicorn workers (SQLite serialises the writers).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import anyio.to_thread
from pydantic_core import PydanticSerializationError

from cds_service.protocol import BadRequest, FeedbackItem, Issue

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    item_key     TEXT PRIMARY KEY,
    service_id   TEXT NOT NULL,
    card_uuid    TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    outcome_at   TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    item_json    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_card ON feedback (card_uuid);
"""


@dataclass(frozen=True, slots=True)
class StoredCount:
    received: int
    stored: int  # new items; received - stored were duplicates of earlier deliveries


class FeedbackStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    def initialise(self) -> None:
        """Create the schema; called at start-up so a bad path fails before traffic arrives."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.executescript(_SCHEMA)

    async def save(self, service_id: str, items: list[FeedbackItem]) -> StoredCount:
        return await anyio.to_thread.run_sync(self._save, service_id, items)

    def ping(self) -> bool:
        try:
            with self._connect() as connection:
                connection.execute("SELECT 1 FROM feedback LIMIT 1")
        except sqlite3.Error:
            return False
        return True

    def _save(self, service_id: str, items: list[FeedbackItem]) -> StoredCount:
        received_at = datetime.now(UTC).isoformat()
        try:
            rows = [_row(service_id, item, received_at) for item in items]
            with self._connect() as connection:
                before = connection.total_changes
                connection.executemany(
                    "INSERT OR IGNORE INTO feedback VALUES (?, ?, ?, ?, ?, ?, ?)", rows
                )
                stored = connection.total_changes - before
        except (PydanticSerializationError, UnicodeEncodeError):
            # Text that is not Unicode (half a surrogate pair) can be neither serialised nor
            # stored. wire.decode_json refuses it first; this keeps any other way in a 400 too,
            # with nothing stored (the transaction rolled back).
            raise BadRequest(
                Issue("structure", "feedback holds text that cannot be encoded as UTF-8")
            ) from None
        return StoredCount(received=len(items), stored=stored)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection whose work is committed (or rolled back) and closed on exit."""
        connection = sqlite3.connect(self.path, timeout=10)
        try:
            connection.execute("PRAGMA synchronous=FULL")
            with connection:
                yield connection
        finally:
            connection.close()


def _row(service_id: str, item: FeedbackItem, received_at: str) -> tuple[str, ...]:
    item_json = item.model_dump_json(exclude_none=True)
    outcome_at = item.outcomeTimestamp.isoformat()
    key = identity(service_id, item)
    return (key, service_id, item.card, item.outcome, outcome_at, received_at, item_json)


def identity(service_id: str, item: FeedbackItem) -> str:
    """The key of what a feedback item means, not of its bytes (issue 10): the same instant
    written with another UTC offset, suggestions in another order, or an extra field a client
    adds is the same feedback, stored once."""
    reason = item.overrideReason
    coding = reason.reason if reason else None
    meaning = {
        "service": service_id,
        "card": item.card,
        "outcome": item.outcome,
        "at": _utc(item.outcomeTimestamp),
        "suggestions": sorted({s.id for s in item.acceptedSuggestions or ()}),
        "reason": [coding.system, coding.code] if coding else None,
        "comment": reason.userComment if reason else None,
    }
    canonical = json.dumps(meaning, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _utc(moment: datetime) -> str:
    """A timestamp without an offset is read as UTC, as the service reads FHIR times."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat()
