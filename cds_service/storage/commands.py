"""The storage side of the command line: `migrate`, `feedback-report`, and the schema check
`serve` makes before it starts any worker."""

from __future__ import annotations

import sys
from datetime import date

from pydantic import ValidationError
from rich.console import Console

from cds_service.settings import Settings
from cds_service.storage.engine import Database, StorageUnavailable
from cds_service.storage.schema import SchemaOutOfDate, current, ensure_schema, upgrade


def _database() -> Database | None:
    try:
        settings = Settings()
    except (ValidationError, ValueError, OSError) as error:
        print(f"configuration refused: {error}", file=sys.stderr)
        return None
    return Database(settings.database_url, pool_size=1, statement_timeout_ms=0)


def prepare_schema(settings: Settings) -> str | None:
    """Why `serve` must not start (schema out of date, database unreachable), or None."""
    database = Database(settings.database_url, pool_size=1)
    try:
        ensure_schema(database)
    except SchemaOutOfDate as error:
        return str(error)
    except StorageUnavailable:
        return f"the database {database.shown_url} does not answer; refusing to start"
    finally:
        database.dispose()
    return None


def migrate() -> int:
    database = _database()
    if database is None:
        return 1
    try:
        before = current(database)
        upgrade(database)
        after = current(database)
    except StorageUnavailable:
        print(f"the database {database.shown_url} does not answer", file=sys.stderr)
        return 1
    finally:
        database.dispose()
    if before == after:
        print(f"{database.shown_url}: schema already at revision {after}")
    else:
        print(f"{database.shown_url}: schema upgraded from {before or 'empty'} to {after}")
    return 0


def feedback_report(since: date | None, output: str) -> int:
    from cds_service.feedback.report import build_report, render_csv, render_json, render_table

    database = _database()
    if database is None:
        return 1
    try:
        ensure_schema(database)
        report = build_report(database, since)
    except SchemaOutOfDate as error:
        print(str(error).replace("refusing to start", "no report"), file=sys.stderr)
        return 1
    except StorageUnavailable:
        print(f"the database {database.shown_url} does not answer", file=sys.stderr)
        return 1
    finally:
        database.dispose()
    if output == "json":
        print(render_json(report))
    elif output == "csv":
        sys.stdout.write(render_csv(report))
    else:
        render_table(report, Console())
    return 0
