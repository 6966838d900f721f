"""The tables of the service's shared state, declared once for the code and for Alembic.

Three tables, all that several instances must share: `feedback` (what clinicians did with the
cards), `issued_cards` (which card was issued for which recommendation, so that feedback can be
matched and ignored cards counted) and `jwt_replay` (each token's `jti`, so that a token
accepted by one instance is refused by every other). Nothing here holds a patient id: issued
cards keep a keyed hash of it (`cds_service.feedback.issued`).

The column names of `feedback` are those of the hand-written SQLite table it replaces, so that
a file written by an earlier release is upgraded in place (migration 0002).

Columns worth a word: `feedback.item_key` is the hash of what an item means (a resend is the
same key, stored once); `item_json` the item as received; `client` the verified caller's
configured name (NULL without trusted clients); `card_known` whether the card uuid was an issued
card when the feedback arrived (NULL for rows of earlier releases). `issued_cards.patient_hash`
is HMAC-SHA256 of the patient id under `patient_hash_key`, NULL without the key.
`jwt_replay.token_key` is sha256 of (iss, jti), `expires_at` epoch seconds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    Index,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData()


class UtcDateTime(TypeDecorator[datetime]):
    """An instant, always returned timezone-aware in UTC.

    PostgreSQL stores it as `timestamptz`. SQLite has no time zones: the value is stored as
    naive UTC, in SQLAlchemy's text format, which sorts and compares in time order."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        utc = aware.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


feedback = Table(
    "feedback",
    metadata,
    Column("item_key", String(64), primary_key=True),
    Column("service_id", Text, nullable=False),
    Column("card_uuid", Text, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("outcome_at", UtcDateTime, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("item_json", Text, nullable=False),
    Column("accepted_suggestions", JSON, nullable=True),
    Column("override_reason_system", Text, nullable=True),
    Column("override_reason_code", Text, nullable=True),
    Column("override_comment", Text, nullable=True),
    Column("client", Text, nullable=True),
    Column("card_known", Boolean, nullable=True),
)
Index("feedback_card", feedback.c.card_uuid)

issued_cards = Table(
    "issued_cards",
    metadata,
    Column("card_uuid", String(64), primary_key=True),
    Column("service_id", Text, nullable=False),
    Column("hook_instance", Text, nullable=False),
    Column("recommendation", Text, nullable=True),
    Column("policy_id", Text, nullable=True),
    Column("policy_version", Text, nullable=True),
    Column("issued_at", UtcDateTime, nullable=False),
    Column("client", Text, nullable=True),
    Column("patient_hash", String(64), nullable=True),
)
Index("issued_cards_issued_at", issued_cards.c.issued_at)

jwt_replay = Table(
    "jwt_replay",
    metadata,
    Column("token_key", String(64), primary_key=True),
    Column("expires_at", Float(precision=53), nullable=False),
)
Index("jwt_replay_expires_at", jwt_replay.c.expires_at)
