"""The storage suite runs on both databases: a real SQLite file and a real PostgreSQL server
(tests/storage/postgres.py), never a mock. `database_url` is a fresh, empty database of each."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.storage.postgres import PostgresServer


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    # The suite-wide fixture sets the deprecated AZA_FEEDBACK_DATABASE: these tests name the
    # database by database_url only.
    monkeypatch.delenv("AZA_FEEDBACK_DATABASE", raising=False)
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'aza-advisor.sqlite3'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.new_database()
