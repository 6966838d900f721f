"""Issue 14: issued cards are written in transactions that span calls, so calls that come one
at a time share a commit; `flush` and `drain` write what is waiting at once, and nothing noted
is lost on an ordinary shutdown. The linger is set far beyond any test's duration, so every
write below happens because of a flush, a drain or a full batch, never because time passed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import anyio
import pytest
from sqlalchemy import Connection, func, select

from cds_service.feedback import HookAnswer, IssuedCardRecorder
from cds_service.feedback import issued as issued_module
from cds_service.storage import Database, issued_cards, schema
from tests.storage.helpers import card

T = TypeVar("T")
FOREVER = 3600.0


class CountingDatabase(Database):
    """A real database that counts its transactions."""

    transactions = 0

    async def transaction(self, work: Callable[[Connection], T]) -> T:
        self.transactions += 1
        return await super().transaction(work)


@pytest.fixture
def database(database_url: str) -> Iterator[CountingDatabase]:
    database = CountingDatabase(database_url)
    schema.upgrade(database)
    try:
        yield database
    finally:
        database.dispose()


def stored(database: Database) -> int:
    return int(
        database.run(
            lambda c: c.execute(select(func.count()).select_from(issued_cards)).scalar_one()
        )
    )


def answer(number: int, cards: int = 1) -> HookAnswer:
    made = [card("check-tpmt") for _ in range(cards)]
    return HookAnswer("aza-withdrawal-patient-view", f"hook-{number}", "p-1", "ehr", made)


def recorder(database: Database, lost: list[Any]) -> IssuedCardRecorder:
    return IssuedCardRecorder(database, None, lambda r, n: lost.append((r, n)), linger=FOREVER)


def test_issue14_sequential_calls_share_one_transaction(database: CountingDatabase) -> None:
    lost: list[Any] = []
    recording = recorder(database, lost)

    async def go() -> None:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(recording.run)
            for number in range(5):  # one call after the other, the writer running between
                recording.note(answer(number))
                await anyio.sleep(0)
            assert stored(database) == 0  # still lingering for more
            await recording.flush()
            assert stored(database) == 5 and database.transactions == 1
            recording.note(answer(9))
            await recording.drain(seconds=30)

    anyio.run(go)
    assert stored(database) == 6 and database.transactions == 2 and lost == []
    assert recording.recorded == 6


def test_issue14_a_full_batch_is_written_without_waiting(
    database: CountingDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(issued_module, "BATCH_CARDS", 4)
    lost: list[Any] = []
    recording = recorder(database, lost)

    async def go() -> None:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(recording.run)
            recording.note(answer(1, cards=5))
            while recording.recorded < 4:  # the linger is an hour: only the batch size writes
                await anyio.sleep(0.01)
            await recording.drain(seconds=30)

    anyio.run(go)
    assert stored(database) == 5 and database.transactions == 2 and lost == []


def test_issue14_flush_without_a_writer_writes_and_late_cards_are_counted(
    database: CountingDatabase,
) -> None:
    lost: list[Any] = []
    recording = recorder(database, lost)
    recording.note(answer(1, cards=2))
    anyio.run(recording.flush)
    assert stored(database) == 2
    anyio.run(recording.drain, 30)
    recording.note(answer(2))  # after shutdown began: not silently lost, counted
    assert lost == [("queue-full", 1)]
