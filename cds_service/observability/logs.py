"""Every log record of the process as one JSON object per line (issue 11).

Our loggers and uvicorn's are plain `logging` loggers; one handler on the root logger renders
each record with structlog's `ProcessorFormatter`: `timestamp` (ISO 8601, UTC), `level`,
`logger`, `event` (the message), then the record's fields. JSON escapes every control
character and line separator, so no value can end the line or forge the next one; every
string is also capped (`FIELD_LIMIT`), so no value can make a multi-megabyte line. Values that
a request supplied are capped earlier still, where they are logged (`cds_service.log_safety`).

A record carrying `extra={"audit": {...}}` is an event: the first word of its message format
is the event's name and the dict's items are its fields (the message itself stays readable
for plain handlers, as pytest's capture).

The configuration is a `logging.config.dictConfig` dict (`LOG_CONFIG`), handed to uvicorn as
its `log_config`: uvicorn applies it in every worker process it starts, which do not run our
command line again.
"""

from __future__ import annotations

import logging
import logging.config
from collections.abc import Mapping
from typing import Any

import structlog
from structlog.typing import EventDict, WrappedLogger

from cds_service.log_safety import capped

FIELD_LIMIT = 16 * 1024
"""Characters of any one string in a log line (a message, a field, a traceback). Our own
fields are far shorter; this bounds whatever a future log call forgets to cap."""

PAYLOAD_LIMIT = 256 * 1024
"""Characters of a logged hook payload (`log_payloads`, dev mode only): a typical request with
prefetch is 20-100 KB."""

PAYLOAD_LOGGER = "cds_service.payloads"

QUIET = ("httpx", "httpcore")
"""Kept at WARNING: their INFO lines print request URLs, and the FHIR queries' URLs carry
patient ids (no PHI in logs)."""

_NESTING = 8  # levels of dicts and lists inside a field that are walked for strings


def _event_fields(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """An audit record's fields at the top level, and its event name as `event`."""
    record = event_dict.get("_record")
    fields = getattr(record, "audit", None)
    if isinstance(record, logging.LogRecord) and isinstance(fields, Mapping):
        event_dict["event"] = str(record.msg).split(" ", 1)[0]
        for name, value in fields.items():
            event_dict.setdefault(str(name), value)
    payload = getattr(record, "payload", None)
    if isinstance(payload, str):
        event_dict["payload"] = capped(payload, PAYLOAD_LIMIT)
    return event_dict


def _capped_strings(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Every string of the line cut to `FIELD_LIMIT` characters (the payload has its own)."""
    return {
        name: value if name == "payload" else _capped(value, _NESTING)
        for name, value in event_dict.items()
    }


def _capped(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        return capped(value, FIELD_LIMIT)
    if depth <= 0:
        return value if isinstance(value, int | float | bool | None) else "[nested too deep]"
    if isinstance(value, Mapping):
        return {capped(str(k), FIELD_LIMIT): _capped(v, depth - 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_capped(item, depth - 1) for item in value]
    return value


class _JsonFormatter(structlog.stdlib.ProcessorFormatter):
    """structlog's formatter, without its copy of each record.

    `ProcessorFormatter.format` copies every record (about 35 us) so that it may clear the
    copy's arguments and exception for the handlers after it. A record of a plain `logging`
    logger without exception or stack needs neither: here it goes through the same
    processors, in the same order, on the record itself (nothing here changes it), and the
    line is the same. An audit event also skips formatting its message, which `_event_fields`
    replaces by the event's name anyway. A hook call logs three such lines (uvicorn's access
    line, the prefetch summary, the audit event): issue 14. Anything else (exceptions,
    structlog's own loggers) takes structlog's way."""

    def format(self, record: logging.LogRecord) -> str:
        if (
            record.exc_info
            or record.exc_text
            or record.stack_info
            or self.pass_foreign_args
            or hasattr(record, "_logger")
        ):
            return super().format(record)
        audit = isinstance(getattr(record, "audit", None), Mapping)
        message = str(record.msg) if audit else record.getMessage()
        method = record.levelname.lower()
        event: Any = {"event": message, "_record": record, "_from_structlog": False}
        for processor in (*(self.foreign_pre_chain or ()), *self.processors):
            event = processor(self.logger, method, event)
        if not isinstance(event, str):  # the last processor renders: always a str here
            return super().format(record)
        return event


def json_formatter() -> logging.Formatter:
    """The formatter of every handler: one JSON object per record, on one line."""
    return _JsonFormatter(
        foreign_pre_chain=[
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            _event_fields,
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _capped_strings,
            # ensure_ascii (the default) writes U+2028 and every other non-ASCII as \\uXXXX.
            structlog.processors.JSONRenderer(sort_keys=False),
        ],
    )


LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "cds_service.observability.logs.json_formatter"}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stderr",
        }
    },
    "root": {"level": "INFO", "handlers": ["stderr"]},
    "loggers": {
        # uvicorn's own handlers replaced by the root's: its lines are JSON too.
        **{
            name: {"level": "INFO", "handlers": [], "propagate": True}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
        **{name: {"level": "WARNING"} for name in QUIET},
    },
}
"""The logging configuration of the served process and of each of its workers."""


def configure_logging() -> None:
    """JSON lines on stderr for every logger of the process, ours at INFO."""
    logging.config.dictConfig(LOG_CONFIG)
