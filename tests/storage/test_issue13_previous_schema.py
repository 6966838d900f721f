"""Issue 13: a feedback file written by the hand-written sqlite3 store of earlier releases is
upgraded in place, its feedback intact: the schema and the rows below are exactly what that
store wrote (PRAGMA journal_mode=WAL, the CREATE TABLE of its _SCHEMA, INSERT OR IGNORE)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cds_service.feedback import FeedbackStore
from cds_service.feedback.store import identity
from cds_service.settings import Settings
from cds_service.storage import Database, ensure_schema, feedback, schema
from tests.storage.helpers import item, overridden, run

OLD_SCHEMA = """
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

OLD_ITEMS = [
    overridden("c-old-1", "patient-declined", "2026-11-20T09:15:00+01:00"),
    item("c-old-2", "accepted", "2026-11-21T10:00:00Z"),
]


def write_old_file(path: Path) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.executescript(OLD_SCHEMA)
        for old in OLD_ITEMS:
            connection.execute(
                "INSERT OR IGNORE INTO feedback VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    identity("svc", old),
                    "svc",
                    old.card,
                    old.outcome,
                    old.outcomeTimestamp.isoformat(),
                    "2026-11-22T08:00:00.123456+00:00",
                    old.model_dump_json(exclude_none=True),
                ),
            )
    connection.close()


def test_issue13_upgrade_from_the_previous_schema_keeps_every_item(tmp_path: Path) -> None:
    path = tmp_path / "aza-advisor-feedback.sqlite3"
    write_old_file(path)
    database = Database(f"sqlite:///{path}")
    assert schema.current(database) == schema.PREVIOUS_SCHEMA
    ensure_schema(database)
    assert schema.current(database) == schema.head()
    stored = {
        row.card_uuid: row for row in database.run(lambda c: c.execute(feedback.select()).all())
    }
    assert set(stored) == {"c-old-1", "c-old-2"}
    old = stored["c-old-1"]
    assert old.outcome_at == datetime(2026, 11, 20, 8, 15, tzinfo=UTC)
    assert old.received_at == datetime(2026, 11, 22, 8, 0, 0, 123456, tzinfo=UTC)
    assert (old.override_reason_code, old.card_known) == ("patient-declined", None)
    assert stored["c-old-2"].accepted_suggestions == ["s-1"]
    # The keys are the same as before: the old items resent are not stored again.
    assert run(FeedbackStore(database).save, "svc", OLD_ITEMS).stored == 0
    database.dispose()


def test_issue13_old_feedback_database_setting_reads_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """feedback_database keeps working (as sqlite:///PATH), so an existing deployment keeps its
    feedback without editing its configuration; together with database_url it is refused."""
    path = tmp_path / "feedback.sqlite3"
    monkeypatch.setenv("AZA_FEEDBACK_DATABASE", str(path))
    assert Settings().database_url == f"sqlite:///{path}"
    monkeypatch.setenv("AZA_DATABASE_URL", "sqlite:///other.sqlite3")
    with pytest.raises(ValueError, match="replaced by database_url"):
        Settings()
