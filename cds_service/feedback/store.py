"""Feedback is committed to the database before the EHR gets its answer, so nothing a client
sent is lost: the 200 means committed; a database that does not answer is a 503
(`StorageUnavailable`), which the client may resend. Clients may resend the same feedback
(SPEC-29); each item has a key of its meaning, so a resend is recorded once, however many
instances receive it at once (the key is the primary key: `INSERT ... ON CONFLICT DO NOTHING`).

Feedback on a card this service did not issue (not in `issued_cards`) is stored too, flagged
`card_known = false`: an EHR may send feedback for a card recorded before cards were recorded,
or one whose recording failed; the report counts it apart.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic_core import PydanticSerializationError
from sqlalchemy import Connection, select

from cds_service.protocol import BadRequest, FeedbackItem, Issue
from cds_service.storage import Database, feedback, issued_cards
from cds_service.storage.upsert import insert_for


@dataclass(frozen=True, slots=True)
class StoredCount:
    received: int
    stored: int  # new items; received - stored were duplicates of earlier deliveries
    unknown_cards: int = 0  # items about a card uuid the service has no record of issuing


class FeedbackStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def save(
        self, service_id: str, items: Sequence[FeedbackItem], *, client: str | None = None
    ) -> StoredCount:
        """Store `items` in one transaction; returns once it is committed."""
        rows = _rows(service_id, items, client, datetime.now(UTC))
        return await self.database.transaction(lambda connection: _insert(connection, rows))

    async def ping(self) -> bool:
        return await self.database.ping()


def _rows(
    service_id: str, items: Sequence[FeedbackItem], client: str | None, received_at: datetime
) -> list[dict[str, Any]]:
    try:
        return [_row(service_id, item, client, received_at) for item in items]
    except (PydanticSerializationError, UnicodeEncodeError):
        # Text that is not Unicode (half a surrogate pair) can be neither serialised nor
        # stored. The JSON reader refuses it first; this keeps any other way in a 400 too,
        # with nothing stored (no row is written before all are built).
        raise BadRequest(
            Issue("structure", "feedback holds text that cannot be encoded as UTF-8")
        ) from None


def _row(
    service_id: str, item: FeedbackItem, client: str | None, received_at: datetime
) -> dict[str, Any]:
    item_json = item.model_dump_json(exclude_none=True)
    reason = item.overrideReason
    coding = reason.reason if reason else None
    suggestions = sorted({s.id for s in item.acceptedSuggestions or ()})
    return {
        "item_key": identity(service_id, item),
        "service_id": service_id,
        "card_uuid": item.card,
        "outcome": item.outcome,
        "outcome_at": _aware(item.outcomeTimestamp),
        "received_at": received_at,
        "item_json": item_json,
        "accepted_suggestions": suggestions or None,
        "override_reason_system": coding.system if coding else None,
        "override_reason_code": coding.code if coding else None,
        "override_comment": reason.userComment if reason else None,
        "client": client,
    }


def _insert(connection: Connection, rows: list[dict[str, Any]]) -> StoredCount:
    cards = {row["card_uuid"] for row in rows}
    known = set(
        connection.execute(
            select(issued_cards.c.card_uuid).where(issued_cards.c.card_uuid.in_(cards))
        ).scalars()
    )
    stored = unknown = 0
    insert = insert_for(connection, feedback)
    for row in rows:
        card_known = row["card_uuid"] in known
        unknown += not card_known
        statement = (
            insert.values(**row, card_known=card_known)
            .on_conflict_do_nothing(index_elements=[feedback.c.item_key])
            .returning(feedback.c.item_key)
        )
        # RETURNING, not rowcount: what a driver reports as rowcount for an upsert varies.
        stored += len(connection.execute(statement).all())
    return StoredCount(received=len(rows), stored=stored, unknown_cards=unknown)


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
        "at": _aware(item.outcomeTimestamp).astimezone(UTC).isoformat(),
        "suggestions": sorted({s.id for s in item.acceptedSuggestions or ()}),
        "reason": [coding.system, coding.code] if coding else None,
        "comment": reason.userComment if reason else None,
    }
    canonical = json.dumps(meaning, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _aware(moment: datetime) -> datetime:
    """A timestamp without an offset is read as UTC, as the service reads FHIR times."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
