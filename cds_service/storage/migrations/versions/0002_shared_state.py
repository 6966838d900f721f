"""Issue 13: feedback in typed columns, issued cards, the shared jti replay cache.

feedback: the two instants become timestamps (timestamptz on PostgreSQL, UTC on SQLite), and
the item's parts the report groups by become columns (accepted suggestions, override reason
code and comment, client, whether the card was known). Existing rows are converted and their
new columns filled from the JSON each row kept, so no feedback of an earlier release is lost.
Downgrading converts the instants back to ISO 8601 text and drops what 0001 did not have.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from cds_service.storage.tables import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_INSTANTS = ("outcome_at", "received_at")


def upgrade() -> None:
    bind = op.get_bind()
    old = sa.table("feedback", *(sa.column(n, sa.Text) for n in ("item_key", *_INSTANTS)))
    old_rows = bind.execute(sa.select(old.c.item_key, *(old.c[n] for n in _INSTANTS))).all()
    json_rows = bind.execute(sa.text("SELECT item_key, item_json FROM feedback")).all()
    with op.batch_alter_table("feedback") as batch:
        for name in _INSTANTS:
            batch.alter_column(
                name,
                existing_type=sa.Text(),
                type_=sa.DateTime(timezone=True),
                existing_nullable=False,
                postgresql_using=f"{name}::timestamptz",
            )
        batch.alter_column("item_key", existing_type=sa.Text(), type_=sa.String(64))
        batch.add_column(sa.Column("accepted_suggestions", sa.JSON, nullable=True))
        batch.add_column(sa.Column("override_reason_system", sa.Text, nullable=True))
        batch.add_column(sa.Column("override_reason_code", sa.Text, nullable=True))
        batch.add_column(sa.Column("override_comment", sa.Text, nullable=True))
        batch.add_column(sa.Column("client", sa.Text, nullable=True))
        batch.add_column(sa.Column("card_known", sa.Boolean, nullable=True))
    new = sa.table(
        "feedback",
        sa.column("item_key", sa.Text),
        *(sa.column(n, UtcDateTime) for n in _INSTANTS),
        sa.column("accepted_suggestions", sa.JSON),
        sa.column("override_reason_system", sa.Text),
        sa.column("override_reason_code", sa.Text),
        sa.column("override_comment", sa.Text),
    )
    parts = {key: _parts(item_json) for key, item_json in json_rows}
    for key, *instants in old_rows:
        values = {n: _instant(v) for n, v in zip(_INSTANTS, instants, strict=True)}
        bind.execute(sa.update(new).where(new.c.item_key == key).values(**values, **parts[key]))

    op.create_table(
        "issued_cards",
        sa.Column("card_uuid", sa.String(64), primary_key=True),
        sa.Column("service_id", sa.Text, nullable=False),
        sa.Column("hook_instance", sa.Text, nullable=False),
        sa.Column("recommendation", sa.Text, nullable=True),
        sa.Column("policy_id", sa.Text, nullable=True),
        sa.Column("policy_version", sa.Text, nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("client", sa.Text, nullable=True),
        sa.Column("patient_hash", sa.String(64), nullable=True),
    )
    op.create_index("issued_cards_issued_at", "issued_cards", ["issued_at"])
    op.create_table(
        "jwt_replay",
        sa.Column("token_key", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.Float(precision=53), nullable=False),
    )
    op.create_index("jwt_replay_expires_at", "jwt_replay", ["expires_at"])


def downgrade() -> None:
    op.drop_index("jwt_replay_expires_at", table_name="jwt_replay")
    op.drop_table("jwt_replay")
    op.drop_index("issued_cards_issued_at", table_name="issued_cards")
    op.drop_table("issued_cards")
    bind = op.get_bind()
    typed = sa.table(
        "feedback", sa.column("item_key", sa.Text), *(sa.column(n, UtcDateTime) for n in _INSTANTS)
    )
    rows = bind.execute(sa.select(typed.c.item_key, *(typed.c[n] for n in _INSTANTS))).all()
    with op.batch_alter_table("feedback") as batch:
        for name in ("card_known", "client", "override_comment", "override_reason_code"):
            batch.drop_column(name)
        batch.drop_column("override_reason_system")
        batch.drop_column("accepted_suggestions")
        batch.alter_column("item_key", existing_type=sa.String(64), type_=sa.Text())
        for name in _INSTANTS:
            batch.alter_column(
                name,
                existing_type=sa.DateTime(timezone=True),
                type_=sa.Text(),
                existing_nullable=False,
                postgresql_using=f"{name}::text",
            )
    text_table = sa.table(
        "feedback", sa.column("item_key", sa.Text), *(sa.column(n, sa.Text) for n in _INSTANTS)
    )
    for key, *instants in rows:
        values = {n: v.isoformat() for n, v in zip(_INSTANTS, instants, strict=True)}
        bind.execute(sa.update(text_table).where(text_table.c.item_key == key).values(**values))


def _instant(value: Any) -> datetime:
    """An instant as the old store wrote it (ISO 8601 text, with an offset), or as PostgreSQL
    already converted it."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _parts(item_json: str) -> dict[str, Any]:
    """The new columns of an old row, from the item it kept as JSON."""
    item = json.loads(item_json)
    reason = item.get("overrideReason") or {}
    coding = reason.get("reason") or {}
    suggestions = item.get("acceptedSuggestions")
    return {
        "accepted_suggestions": sorted({s["id"] for s in suggestions}) if suggestions else None,
        "override_reason_system": coding.get("system"),
        "override_reason_code": coding.get("code"),
        "override_comment": reason.get("userComment"),
    }
