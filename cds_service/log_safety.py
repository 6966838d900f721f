"""Request-supplied values in log lines (issue 10): one event stays one line, of bounded size.

A value the client chose (`hookInstance`, a URL path) is logged through `loggable`: as a JSON
string literal, so a newline, a carriage return, a terminal escape or a Unicode line separator
inside it is written as `\\n`, `\\r`, `\\u001b`, `\\u2028` and cannot end the line or forge the
next one, and cut to `LIMIT` characters with a marker, so a 4 MB value costs a few hundred bytes
of log, not 8 MB. The quotes keep lines greppable: `hookInstance="d1577c69-..."`.

`capped` does the cutting alone, for values that travel in a structured field (a dict handed to
the log as `extra`, or serialised with `json.dumps` by the caller, which escapes them).

The backstop for whatever a future log call forgets is the JSON rendering of every record
(`cds_service.observability.logs`, issue 11): one JSON object per line, whose string escapes
keep any message and any traceback inside its field, each string capped again.
"""

from __future__ import annotations

import json
from typing import Any

LIMIT = 200
"""Characters of a request-supplied value kept in a log line. A hookInstance is a UUID (36), a
service id or a URL path a few dozen: 200 keeps every legitimate value whole."""

_LINE_BREAKS = {0x85: "\\u0085", 0x2028: "\\u2028", 0x2029: "\\u2029"}
_ESCAPES = str.maketrans(
    {
        **{code: f"\\u{code:04x}" for code in (*range(0x20), 0x7F)},
        ord("\n"): "\\n",
        ord("\r"): "\\r",
        ord("\t"): "\\t",
        **_LINE_BREAKS,
    }
)


def capped(value: str, limit: int = LIMIT) -> str:
    """`value`, or its first `limit` characters and a marker naming how many were left off."""
    if len(value) <= limit:
        return value
    return f"{value[:limit]}...[{len(value) - limit} more characters]"


def loggable(value: str | None, limit: int = LIMIT) -> str:
    """`value` for a log line: a JSON string literal (every control and non-ASCII character
    escaped), cut to `limit` characters with the marker after the closing quote; `null` for None.
    Escaping can make the literal up to six times `limit` long, never more."""
    if value is None:
        return "null"
    if len(value) <= limit:
        return json.dumps(value)
    return f"{json.dumps(value[:limit])}...[{len(value) - limit} more characters]"


def escape_controls(text: str) -> str:
    """`text` with line breaks and other control characters written as escapes."""
    return text.translate(_ESCAPES)


class JsonText:
    """A log argument written as JSON only when a handler formats the message (pytest's
    capture, a plain handler). The service's JSON lines render the record's `audit` fields
    themselves, so building this text on every call was wasted work (issue 14)."""

    __slots__ = ("sort_keys", "value")

    def __init__(self, value: dict[str, Any], *, sort_keys: bool = False) -> None:
        self.value = value
        self.sort_keys = sort_keys

    def __str__(self) -> str:
        return json.dumps(self.value, sort_keys=self.sort_keys)
