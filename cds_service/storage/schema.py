"""The schema's version, and moving it: Alembic, driven from code (no alembic.ini to ship).

`cds-service migrate` upgrades a deployment's database, once, before its instances start; on
PostgreSQL a transaction-scoped advisory lock makes two migrations started at once run one
after the other. `serve` only checks the version (`ensure_schema`): a PostgreSQL schema behind
the code is refused with a message naming the command. A SQLite file migrates itself there,
because it is embedded: only the processes of one host open it, and `make run` stays one
command.

A SQLite file written by the hand-written store of earlier releases has a `feedback` table but
no `alembic_version`: it is recognised as revision 0001 (that schema) and upgraded from there.
"""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

from cds_service.storage.engine import Database

PREVIOUS_SCHEMA = "0001"
"""The revision of the hand-written SQLite `feedback` table of earlier releases."""

_LOCK_ID = 0x417A6131  # "Aza1": the advisory lock of migrations on PostgreSQL


class SchemaOutOfDate(RuntimeError):
    """The database's schema is not the one this release needs; the message says what to do."""


def config(connection: Connection | None = None) -> Config:
    settings = Config()
    location = resources.files("cds_service.storage") / "migrations"
    settings.set_main_option("script_location", str(location))
    settings.attributes["connection"] = connection
    return settings


def head() -> str:
    revision = ScriptDirectory.from_config(config()).get_current_head()
    assert revision is not None
    return revision


def current(database: Database) -> str | None:
    """The schema's revision; PREVIOUS_SCHEMA for an unversioned file of earlier releases."""
    return database.run(_current)


def _current(connection: Connection) -> str | None:
    revision = MigrationContext.configure(connection).get_current_revision()
    if revision is None and inspect(connection).has_table("feedback"):
        return PREVIOUS_SCHEMA
    return revision


def upgrade(database: Database, revision: str = "head") -> None:
    _move(database, revision, up=True)


def downgrade(database: Database, revision: str) -> None:
    _move(database, revision, up=False)


def _move(database: Database, revision: str, *, up: bool) -> None:
    def work(connection: Connection) -> None:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})
        context = MigrationContext.configure(connection)
        if context.get_current_revision() is None and inspect(connection).has_table("feedback"):
            command.stamp(config(connection), PREVIOUS_SCHEMA)
        if up:
            command.upgrade(config(connection), revision)
        else:
            command.downgrade(config(connection), revision)

    database.run(work)


def ensure_schema(database: Database) -> None:
    """At start-up: SQLite is brought to the head revision; any other database must already be
    there, or `SchemaOutOfDate` says why and what to run."""
    if database.is_sqlite:
        upgrade(database)
        return
    problem = schema_problem(database)
    if problem is not None:
        raise SchemaOutOfDate(problem)


def schema_problem(database: Database) -> str | None:
    found, wanted = current(database), head()
    if found == wanted:
        return None
    where = database.shown_url
    if found is None:
        return (
            f"the database {where} has no schema yet: run `cds-service migrate` once for this "
            "deployment (see docs/deploy.md); refusing to start"
        )
    known = {script.revision for script in ScriptDirectory.from_config(config()).walk_revisions()}
    if found not in known:
        return (
            f"the database {where} is at schema revision {found}, newer than this release "
            f"knows (its newest is {wanted}): deploy the release that migrated it; refusing "
            "to start"
        )
    return (
        f"the database {where} is at schema revision {found}, this release needs {wanted}: "
        "run `cds-service migrate` once for this deployment (see docs/deploy.md); refusing "
        "to start"
    )
