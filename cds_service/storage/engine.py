"""One `Database` per process: the SQLAlchemy engine, and the only way the service reaches it.

The engine is synchronous (the drivers are: sqlite3, psycopg), so every call runs in a worker
thread (`transaction`), never on the event loop, and at most as many at once as the pool has
connections, so a slow database makes requests wait for a connection, not pile up threads.

SQLite (the embedded default) is opened in WAL mode with `synchronous=FULL`, as the feedback
file always was: a commit is on disk before the 200. Each transaction starts with
`BEGIN IMMEDIATE`, so concurrent writers (uvicorn workers) wait for each other on the busy
timeout instead of failing when a read transaction wants to become a write. PostgreSQL gets a
bounded pool, connections checked before use, and a statement timeout, so a database that stops
answering turns into a 503 within seconds rather than into hung requests.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL

from cds_service.protocol import CdsHooksError, Issue

log = logging.getLogger("cds_service.storage")

T = TypeVar("T")

DEFAULT_URL = "sqlite:///aza-advisor.sqlite3"
PING_SECONDS = 3.0

_UNAVAILABLE = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)


class StorageUnavailable(CdsHooksError):
    """The database did not answer: the caller gets a 503 and may send the same call again
    (feedback is idempotent), never a 200 for something that was not stored."""

    status = 503

    def __init__(self) -> None:
        super().__init__(
            Issue("transient", "the service's database is unavailable; nothing was stored")
        )


class Database:
    def __init__(self, url: str, *, pool_size: int = 5, statement_timeout_ms: int = 10_000) -> None:
        self.url: URL = make_url(url)
        self.engine: Engine = _engine(self.url, pool_size, statement_timeout_ms)
        # Threads never outnumber connections: the pool's size plus its overflow.
        self._limiter = anyio.CapacityLimiter(2 * pool_size)

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def shown_url(self) -> str:
        """The URL for messages and logs: never the password."""
        return self.url.render_as_string(hide_password=True)

    async def transaction(self, work: Callable[[Connection], T]) -> T:
        """Run `work` in one transaction, in a worker thread; committed when this returns.
        Not abandoned on cancellation: a commit that started finishes."""
        return await anyio.to_thread.run_sync(self.run, work, limiter=self._limiter)

    def run(self, work: Callable[[Connection], T]) -> T:
        """`transaction`, synchronously (command-line tools, the worker thread)."""
        try:
            with self.engine.begin() as connection:
                return work(connection)
        except _UNAVAILABLE as error:
            log.warning(
                "database unavailable: %s", type(getattr(error, "orig", None) or error).__name__
            )
            raise StorageUnavailable() from error

    async def ping(self) -> bool:
        """Whether the database answers (and has its tables) within a few seconds. A ping
        stuck on an unreachable server is abandoned, so `/readyz` answers in time."""
        with anyio.move_on_after(PING_SECONDS):
            return await anyio.to_thread.run_sync(
                partial(self._ping), abandon_on_cancel=True, limiter=self._limiter
            )
        return False

    def _ping(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1 FROM feedback WHERE 1 = 0"))
        except sa_exc.SQLAlchemyError:
            return False
        return True

    def dispose(self) -> None:
        self.engine.dispose()


def _engine(url: URL, pool_size: int, statement_timeout_ms: int) -> Engine:
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, pool_size)
    connect_args: dict[str, Any] = {"connect_timeout": 3, "application_name": "aza-advisor"}
    if statement_timeout_ms:
        connect_args["options"] = f"-c statement_timeout={statement_timeout_ms}"
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=5,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args=connect_args,
    )


def _sqlite_engine(url: URL, pool_size: int) -> Engine:
    database = url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        connect_args={"timeout": 30, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, record: Any) -> None:
        # The driver's own implicit BEGIN is off: `_begin` below emits BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
