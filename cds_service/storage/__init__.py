"""The service's shared state on SQLAlchemy (issue 13): SQLite embedded, PostgreSQL for many
instances; the tables, the engine and the Alembic migrations (shipped as package data)."""

from cds_service.storage.engine import DEFAULT_URL, Database, StorageUnavailable
from cds_service.storage.schema import SchemaOutOfDate, ensure_schema, schema_problem
from cds_service.storage.tables import feedback, issued_cards, jwt_replay, metadata

__all__ = [
    "DEFAULT_URL",
    "Database",
    "SchemaOutOfDate",
    "StorageUnavailable",
    "ensure_schema",
    "feedback",
    "issued_cards",
    "jwt_replay",
    "metadata",
    "schema_problem",
]
