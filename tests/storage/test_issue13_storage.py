"""Issue 13: the storage suite, run twice (`database_url`: a real SQLite file, a real
PostgreSQL server). Feedback stays idempotent by meaning and flags unknown cards; issued cards
carry a keyed patient hash, never the id; the jti replay cache is shared by every process on
the database; the report counts what was advised and what was done with it."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import anyio
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, select, text

from cds_service.feedback import FeedbackStore, HookAnswer, IssuedCardRecorder, patient_hash
from cds_service.feedback.report import UNKNOWN_CARD, build_report, render_csv, render_json
from cds_service.protocol import BadRequest
from cds_service.security import SqlReplayCache
from cds_service.storage import Database, StorageUnavailable, ensure_schema, metadata, schema
from cds_service.storage import feedback as feedback_table
from cds_service.storage import issued_cards as issued_table
from tests.storage.helpers import card, item, overridden, record, run

KEY = b"k" * 32
PATIENT = "patient-4711"


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    schema.upgrade(database)
    try:
        yield database
    finally:
        database.dispose()


def rows(database: Database, table: Any) -> list[dict[str, Any]]:
    def read(connection: Connection) -> list[dict[str, Any]]:
        return [dict(row._mapping) for row in connection.execute(select(table))]

    return database.run(read)


def answer(*cards: Any, patient: str | None = PATIENT) -> HookAnswer:
    return HookAnswer("aza-withdrawal-patient-view", "hook-1", patient, "ehr", cards)


def recorder(database: Database, key: bytes | None = KEY) -> tuple[IssuedCardRecorder, list[Any]]:
    lost: list[Any] = []
    return IssuedCardRecorder(database, key, lambda reason, n: lost.append((reason, n))), lost


def test_issue13_feedback_stored_once_by_meaning(database: Database) -> None:
    store = FeedbackStore(database)
    first = item("c1", "accepted", acceptedSuggestions=[{"id": "a"}, {"id": "b"}])
    resent = item(
        "c1",
        "accepted",
        "2026-11-22T11:00:00+01:00",
        acceptedSuggestions=[{"id": "b"}, {"id": "a"}],
    )
    assert run(store.save, "svc", [first]).stored == 1
    assert run(store.save, "svc", [resent, resent]).stored == 0
    [row] = rows(database, feedback_table)
    assert row["outcome_at"] == datetime(2026, 11, 22, 10, tzinfo=UTC)
    assert row["accepted_suggestions"] == ["a", "b"]
    assert row["received_at"].tzinfo is not None


def test_issue13_feedback_columns_hold_the_reason_and_client(database: Database) -> None:
    store = FeedbackStore(database)
    reason = {"reason": {"system": "s", "code": "patient-declined"}, "userComment": "said no"}
    run(lambda: store.save("svc", [item("c1", overrideReason=reason)], client="epic-prod"))
    [row] = rows(database, feedback_table)
    assert (row["override_reason_system"], row["override_reason_code"]) == ("s", "patient-declined")
    assert (row["override_comment"], row["client"]) == ("said no", "epic-prod")
    assert json.loads(row["item_json"])["overrideReason"]["userComment"] == "said no"


def test_issue13_unknown_card_accepted_and_flagged_known_card_matched(database: Database) -> None:
    issued = card("withdrawal-candidate")
    cards, lost = recorder(database)
    record(cards, answer(issued))
    count = run(FeedbackStore(database).save, "svc", [item(issued.uuid), item("never-issued")])
    assert (count.received, count.stored, count.unknown_cards) == (2, 2, 1)
    flags = {row["card_uuid"]: row["card_known"] for row in rows(database, feedback_table)}
    assert flags == {issued.uuid: True, "never-issued": False}
    assert lost == []


def test_issue13_text_that_is_not_unicode_is_400_and_nothing_stored(database: Database) -> None:
    store = FeedbackStore(database)
    good, bad = item("c1"), item("c2", note="\ud800")
    with pytest.raises(BadRequest, match="UTF-8"):
        run(store.save, "svc", [good, bad])
    assert rows(database, feedback_table) == []


def test_issue13_issued_cards_carry_a_keyed_patient_hash_never_the_id(database: Database) -> None:
    cards = [card("withdrawal-candidate"), card("check-tpmt"), card(None)]
    recording, lost = recorder(database)
    record(recording, answer(*cards))
    stored = {row["card_uuid"]: row for row in rows(database, issued_table)}
    assert set(stored) == {c.uuid for c in cards} and lost == []
    row = stored[cards[0].uuid]
    assert row["recommendation"] == "withdrawal-candidate"
    assert (row["policy_id"], row["policy_version"]) == ("seed-2026", "2026.1")
    assert (row["service_id"], row["hook_instance"], row["client"]) == (
        "aza-withdrawal-patient-view",
        "hook-1",
        "ehr",
    )
    assert row["patient_hash"] == patient_hash(KEY, PATIENT) != patient_hash(b"x" * 32, PATIENT)
    assert stored[cards[2].uuid]["recommendation"] is None
    everything = json.dumps(
        [rows(database, table) for table in metadata.sorted_tables], default=str
    )
    assert PATIENT not in everything


def test_issue13_without_the_key_no_patient_hash_is_recorded(database: Database) -> None:
    recording, _ = recorder(database, key=None)
    record(recording, answer(card("check-tpmt")))
    [row] = rows(database, issued_table)
    assert row["patient_hash"] is None


def test_issue13_a_card_recorded_twice_is_one_row(database: Database) -> None:
    same = card("check-tpmt")
    recording, lost = recorder(database)
    record(recording, answer(same), answer(same))
    assert len(rows(database, issued_table)) == 1 and lost == []


def test_issue13_recording_failure_is_counted_never_raised() -> None:
    down = Database("postgresql+psycopg://nobody@127.0.0.1:9/none")  # nothing listens on 9
    recording, lost = recorder(down)
    record(recording, answer(card("check-tpmt"), card("check-tpmt")))
    assert lost == [("database", 2)]
    dropped: list[Any] = []
    full = IssuedCardRecorder(down, None, lambda r, n: dropped.append((r, n)), queue=1)
    full.note(answer(card("a"), card("b"), card("c")))  # no writer running: one fits
    assert dropped == [("queue-full", 2)]


def test_issue13_store_raises_unavailable_when_the_database_is_down() -> None:
    down = Database("postgresql+psycopg://nobody@127.0.0.1:9/none")
    with pytest.raises(StorageUnavailable):
        run(FeedbackStore(down).save, "svc", [item("c1")])
    assert run(down.ping) is False


def test_issue13_replay_cache_shared_between_processes_on_one_database(database_url: str) -> None:
    one, other = Database(database_url), Database(database_url)  # two engines: two "instances"
    schema.upgrade(one)
    clock = [1000.0]
    first, second = (SqlReplayCache(d, clock=lambda: clock[0]) for d in (one, other))
    assert run(first.first_use, "token-a", 1300.0) is True
    assert run(second.first_use, "token-a", 1300.0) is False
    assert run(first.first_use, "token-a", 1300.0) is False
    assert run(second.first_use, "token-b", 1300.0) is True
    clock[0] = 1400.0  # both expired: a key may be used again (its token no longer verifies)
    assert run(second.first_use, "token-a", 1700.0) is True
    assert run(first.first_use, "token-a", 1700.0) is False
    one.dispose()
    other.dispose()


def test_issue13_replay_cache_one_winner_among_concurrent_claims(database_url: str) -> None:
    engines = [Database(database_url) for _ in range(2)]
    schema.upgrade(engines[0])
    caches = [SqlReplayCache(d) for d in engines]
    wins: list[bool] = []

    async def claim(cache: SqlReplayCache) -> None:
        wins.append(await cache.first_use("contested", 2e9))

    async def race() -> None:
        async with anyio.create_task_group() as tasks:
            for number in range(20):
                tasks.start_soon(claim, caches[number % 2])

    anyio.run(race)
    assert sorted(wins) == [False] * 19 + [True]
    for engine in engines:
        engine.dispose()


def test_issue13_report_counts_per_recommendation_and_reasons(database: Database) -> None:
    withdraw = [card("withdrawal-candidate") for _ in range(4)]
    tpmt = [card("check-tpmt") for _ in range(2)]
    recording, _ = recorder(database)
    record(recording, answer(*withdraw, *tpmt))
    store = FeedbackStore(database)
    run(
        store.save,
        "svc",
        [
            item(withdraw[0].uuid, "accepted"),
            # accepted, then overridden later: counted once, as overridden, with its reason
            item(withdraw[1].uuid, "accepted", "2026-11-22T09:00:00Z"),
            overridden(withdraw[1].uuid, "patient-declined", "2026-11-22T09:30:00Z"),
            overridden(withdraw[2].uuid, "patient-declined"),
            overridden(tpmt[0].uuid, "already-done"),
            item(tpmt[1].uuid),  # overridden, no reason
            overridden("not-ours", "other"),
        ],
    )
    report = build_report(database)
    counts = {
        r.recommendation: (r.issued, r.accepted, r.overridden, r.ignored)
        for r in report.recommendations
    }
    assert counts == {
        "withdrawal-candidate": (4, 1, 2, 1),
        "check-tpmt": (2, 0, 2, 0),
        UNKNOWN_CARD: (0, 0, 1, 0),
    }
    reasons = {(r.recommendation, r.code): r.count for r in report.override_reasons}
    assert reasons == {
        ("withdrawal-candidate", "patient-declined"): 2,
        ("check-tpmt", "already-done"): 1,
        ("check-tpmt", "(no reason given)"): 1,
        (UNKNOWN_CARD, "other"): 1,
    }
    assert report.feedback_items == 7
    parsed = json.loads(render_json(report))
    assert parsed["recommendations"][0]["recommendation"] == "check-tpmt"
    table = list(csv.DictReader(io.StringIO(render_csv(report))))
    assert {
        "recommendation": "withdrawal-candidate",
        "measure": "ignored",
        "reason_system": "",
        "reason_code": "",
        "count": "1",
    } in table
    assert build_report(database, since=date(2999, 1, 1)).recommendations == []


def test_issue13_tables_match_the_migrations(database: Database) -> None:
    def differences(connection: Connection) -> list[Any]:
        return list(compare_metadata(MigrationContext.configure(connection), metadata))

    assert database.run(differences) == []


def test_issue13_migrations_downgrade_one_step_to_the_previous_schema(database: Database) -> None:
    run(FeedbackStore(database).save, "svc", [overridden("c1", "x", "2026-11-22T10:00:00+02:00")])
    schema.downgrade(database, "-1")
    assert schema.current(database) == "0001"

    def shape(connection: Connection) -> tuple[set[str], list[Any]]:
        tables = set(inspect(connection).get_table_names()) - {"alembic_version"}
        data = connection.execute(text("SELECT card_uuid, outcome_at FROM feedback")).all()
        return tables, [tuple(row) for row in data]

    tables, data = database.run(shape)
    assert tables == {"feedback"}
    assert [(c, datetime.fromisoformat(at)) for c, at in data] == [
        ("c1", datetime(2026, 11, 22, 8, tzinfo=UTC))
    ]
    columns = database.run(lambda c: [col["name"] for col in inspect(c).get_columns("feedback")])
    assert columns == [
        "item_key",
        "service_id",
        "card_uuid",
        "outcome",
        "outcome_at",
        "received_at",
        "item_json",
    ]
    schema.upgrade(database)
    [row] = rows(database, feedback_table)
    assert row["outcome_at"] == datetime(2026, 11, 22, 8, tzinfo=UTC)
    assert row["override_reason_code"] == "x"


def test_issue13_upgrade_from_empty_and_start_up_check(database_url: str) -> None:
    database = Database(database_url)
    if database.is_sqlite:
        ensure_schema(database)  # the embedded database migrates itself
        assert schema.current(database) == schema.head()
    else:
        problem = schema.schema_problem(database)
        assert problem is not None and "cds-service migrate" in problem
        schema.upgrade(database)
        assert schema.schema_problem(database) is None
    names = database.run(lambda c: set(inspect(c).get_table_names()))
    assert {"feedback", "issued_cards", "jwt_replay", "alembic_version"} <= names
    database.dispose()
