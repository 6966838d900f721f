"""`INSERT ... ON CONFLICT`, which both dialects have but SQLAlchemy spells per dialect."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def insert_for(connection: Connection, table: Table) -> Any:
    """The dialect's own `insert`, whose statements have `on_conflict_do_*`."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    if connection.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no upsert for {connection.dialect.name}")
