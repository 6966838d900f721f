"""Issue 13 through the HTTP API, on both databases: every card answered is recorded as issued
(with its recommendation and policy, and the patient's keyed hash), feedback on it is matched;
and on PostgreSQL, a database that goes down is a 503 for feedback and for /readyz, never a
200 for what was not stored, and the service recovers when it is back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from cds_service.feedback import patient_hash
from cds_service.http.app import create_app
from cds_service.services import clinical_registry
from cds_service.settings import Settings
from cds_service.storage import Database, feedback, issued_cards, schema
from tests.conftest import ConformantClient
from tests.storage.postgres import PostgresServer
from tests.storage.served import PATIENT_VIEW, withdrawal_request

KEY = "0123456789abcdef0123456789abcdef"
EXAMPLE_DAY = date(2026, 12, 2)


@pytest.fixture(scope="module")
def withdrawal() -> dict[str, Any]:
    return withdrawal_request()


def app_client(url: str, **settings: Any) -> ConformantClient:
    configured = Settings(dev=True, database_url=url, patient_hash_key=KEY, **settings)
    registry = clinical_registry(configured, today=lambda: EXAMPLE_DAY)
    return ConformantClient(create_app(configured, registry), raise_server_exceptions=False)


def wait_for(condition: Any, seconds: float = 10) -> Any:
    deadline = time.monotonic() + seconds
    while not (value := condition()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)
    return value


def test_issue13_cards_answered_are_recorded_and_their_feedback_matched(
    database_url: str, withdrawal: dict[str, Any]
) -> None:
    if database_url.startswith("postgresql"):
        schema.upgrade(Database(database_url))  # SQLite migrates itself at start-up
    database = Database(database_url)
    with app_client(database_url) as client:
        answer = client.post(f"/cds-services/{PATIENT_VIEW}", json=withdrawal)
        assert answer.status_code == 200
        [card] = answer.json()["cards"]
        rows = wait_for(lambda: database.run(lambda c: c.execute(select(issued_cards)).all()))
        item = {
            "card": card["uuid"],
            "outcome": "overridden",
            "outcomeTimestamp": "2026-12-02T10:00:00Z",
        }
        stored = client.post(f"/cds-services/{PATIENT_VIEW}/feedback", json={"feedback": [item]})
        assert stored.json() == {"received": 1, "stored": 1}
    [row] = rows
    assert row.card_uuid == card["uuid"]
    assert row.recommendation == card["extension"]["aza-advisor"]["recommendation"]
    assert row.recommendation == "withdrawal-candidate"
    assert row.policy_id == "seed-2026"
    assert row.hook_instance == withdrawal["hookInstance"]
    patient = withdrawal["context"]["patientId"]
    assert row.patient_hash == patient_hash(KEY.encode(), patient)
    [flag] = database.run(lambda c: c.execute(select(feedback.c.card_known)).scalars().all())
    assert flag is True
    database.dispose()


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A server of the test's own, which it may stop."""
    server = PostgresServer()
    try:
        yield server
    finally:
        server.destroy()


def test_issue13_database_down_is_503_and_not_ready_then_recovers(
    own_postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AZA_FEEDBACK_DATABASE")
    url = own_postgres.new_database()
    schema.upgrade(Database(url))
    item = {"card": "c1", "outcome": "overridden", "outcomeTimestamp": "2026-12-02T10:00:00Z"}
    body = {"feedback": [item]}
    path = f"/cds-services/{PATIENT_VIEW}/feedback"
    with app_client(url) as client:
        assert client.get("/readyz").status_code == 200
        own_postgres.stop()
        started = time.monotonic()
        refused = client.post(path, json=body)
        assert refused.status_code == 503, refused.text
        assert refused.json()["issue"][0]["code"] == "transient"
        assert client.get("/readyz").status_code == 503
        assert time.monotonic() - started < 15
        own_postgres.start()
        assert wait_for(lambda: client.get("/readyz").status_code == 200)
        assert client.post(path, json=body).json() == {"received": 1, "stored": 1}
