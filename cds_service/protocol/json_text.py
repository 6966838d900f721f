"""Strict JSON text (RFC 8259), for every JSON the service reads from outside: request bodies
and FHIR servers' answers alike (issue 10).

UTF-8 only; no `NaN`, `Infinity` or `-Infinity` and no number that overflows to one; no string
holding half a surrogate pair (it could be neither stored nor sent back, so a body or a FHIR
answer with one used to end in a 500 when a value reached a card or the store); and arrays and
objects nested at most `MAX_NESTING` deep.

Parsed with orjson (issue 14): it decodes a hook request about twice as fast as the standard
library, into the same plain dicts and lists the mappings read, and refuses by itself most of
what RFC 8259 refuses: `NaN` and `Infinity`, numbers overflowing to infinity, invalid UTF-8,
UTF-16/32 text, and half a surrogate pair, whether written raw or as a `\\u` escape. What it
does not do is kept here: nesting is still measured on the bytes (orjson's own limit is 1024,
ours 100), and a UTF-8 byte order mark, which orjson refuses, is dropped first. Any text orjson
refuses goes through the standard-library reader below as before, so every refusal keeps its
precise reason, and a text orjson reads differently is never given to it: it reads an integer
beyond 64 bits as a float, so a text with a run of 20 digits takes the standard-library path
too (exact integers, as before). msgspec is as fast, but its untyped decoding gives nothing
more here and orjson's refusals are the ones the strict reader needs.
"""

from __future__ import annotations

import json
import math
import operator
import re
from itertools import accumulate
from typing import Any, NoReturn

import orjson

from cds_service.protocol.errors import Issue

MAX_NESTING = 100
"""Arrays and objects inside one another, the body itself counting as one. A CDS Hooks request
with a prefetch Bundle nests about 18 deep (request, prefetch, Bundle, entry, resource,
contained, element, coding, complex extensions) and a Bundle inside a Bundle about 30; 100 is
generous for those, and ten times below the depth at which Python's recursion (json, pydantic,
our own walkers) would fail."""


class InvalidJson(ValueError):
    """Why a JSON text was refused, as the OperationOutcome issue the web edge answers with."""

    def __init__(self, issue: Issue) -> None:
        super().__init__(issue.diagnostics)
        self.issue = issue


def decode_json(body: bytes, *, max_nesting: int = MAX_NESTING) -> Any:
    """`body` decoded as strict RFC 8259 JSON, or InvalidJson saying why not.

    A `charset` parameter on the content type is ignored: RFC 8259 §11 defines none, and JSON
    between systems must be UTF-8 (§8.1). A UTF-8 byte order mark is tolerated (§8.1 allows it).
    """
    unmarked = body[len(_BOM) :] if body.startswith(_BOM) else body
    if not _has_long_digit_run(unmarked):
        try:
            value = orjson.loads(unmarked)
        except orjson.JSONDecodeError:
            pass  # refused: the strict reader says why (or reads what orjson cannot)
        else:
            if _nests_deeper_than(unmarked, max_nesting):
                _refuse_nesting(max_nesting)
            return value
    return _decode_strictly(body, max_nesting)


_BOM = b"\xef\xbb\xbf"
_DIGITS_AND_SPACES = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
_LONG_RUN = b"0" * 20


def _has_long_digit_run(body: bytes) -> bool:
    """Whether `body` holds 20 digits in a row: an integer orjson might read as a float (past
    2**64), or only a long number inside a string (then the slower reader reads it, no harm).
    A translation and a substring search, both in C; a regex takes ten times as long."""
    return _LONG_RUN in body.translate(_DIGITS_AND_SPACES)


def _decode_strictly(body: bytes, max_nesting: int) -> Any:
    """The standard library's reader with every check of RFC 8259 of its own: the reference
    behaviour, and the reason for each refusal."""
    text = _utf8(body)
    if _nests_deeper_than(body, max_nesting):
        _refuse_nesting(max_nesting)
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:
        _refuse_nesting(max_nesting)
    except ValueError as error:
        raise InvalidJson(Issue("structure", f"body is not valid JSON: {error}")) from None
    if _SURROGATE_ESCAPE.search(text) and not _encodable(value):
        raise InvalidJson(
            Issue(
                "structure",
                "body is not valid JSON text: a \\u escape names half of a UTF-16 surrogate "
                "pair without the other half, which is no Unicode character (RFC 8259 §8.2)",
            )
        )
    return value


def _utf8(body: bytes) -> str:
    encoding = json.detect_encoding(body)  # what json.loads would guess: UTF-16/32 by its NULs
    if encoding not in ("utf-8", "utf-8-sig"):
        raise InvalidJson(
            Issue(
                "not-supported",
                f"body must be JSON encoded as UTF-8 (RFC 8259 §8.1); it looks like {encoding}",
            )
        )
    try:
        return body.decode(encoding)
    except UnicodeDecodeError as error:
        raise InvalidJson(
            Issue("structure", f"body is not valid UTF-8: {error.reason} at byte {error.start}")
        ) from None


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON value (RFC 8259 §6)")


def _finite_float(literal: str) -> float:
    number = float(literal)
    if not math.isfinite(number):
        raise ValueError("a number is too large to represent (RFC 8259 §6)")
    return number


def _refuse_nesting(limit: int) -> NoReturn:
    raise InvalidJson(
        Issue("too-long", f"body nests arrays and objects more than {limit} levels deep")
    ) from None


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _encodable(value: Any) -> bool:
    """Whether every string in `value`, keys included, is encodable as UTF-8. Only asked of the
    rare body with a surrogate escape at all (an emoji written as `\\ud83d\\ude00`, say)."""
    try:
        json.dumps(value, ensure_ascii=False, check_circular=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# Nesting is measured on the bytes, before json.loads, so a deep body costs neither recursion
# nor allocation. It takes a few ms for a 5 MiB Bundle, and never more than parsing the same
# body would: every step below is a bytes method or regex running in C.

_STRUCTURE = b'"[]{}'
_NOT_STRUCTURE = bytes(byte for byte in range(256) if byte not in _STRUCTURE)
_AS_PARENTHESES = bytes.maketrans(b"[]{}", b"()()")
_STRING = re.compile(rb'"[^"]*"')


def _nests_deeper_than(body: bytes, limit: int) -> bool:
    """Whether the arrays and objects of the JSON text `body` nest more than `limit` deep.
    Exact for valid JSON; for invalid JSON some answer, which json.loads then refuses anyway."""
    skeleton = body
    if b"\\" in skeleton:
        # Escaped backslashes, then escaped quotes, overwritten in place (same length is the fast
        # path): afterwards every quote begins or ends a string.
        skeleton = skeleton.replace(b"\\\\", b"__").replace(b'\\"', b"__")
    # Brackets as parentheses, and quotes; `""` pairs go (strings without brackets, mostly:
    # removing any two neighbouring quotes keeps every other quote's role), then what is left
    # of strings, the few with brackets inside.
    parentheses = skeleton.translate(_AS_PARENTHESES, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in parentheses:
        parentheses = _STRING.sub(b"", parentheses)
    if b"(" * (limit + 1) in parentheses:
        return True
    return _depth(parentheses) > limit


def _depth(parentheses: bytes) -> int:
    """The nesting depth of a string of parentheses. Each removal of every `()` takes one level
    off: done while it shrinks the string by a quarter or more (a few passes for real data);
    the rest is counted from the lengths of the runs of `(` and of `)`."""
    peeled = 0
    while parentheses:
        inner = parentheses.replace(b"()", b"")
        removed = len(parentheses) - len(inner)
        if not removed:
            break
        peeled += 1
        parentheses = inner
        if removed * 4 < len(parentheses):
            break
    opens = list(map(len, parentheses.replace(b")", b" ").split()))
    closes = list(map(len, parentheses.replace(b"(", b" ").split()))
    if parentheses.startswith(b")"):
        opens.insert(0, 0)
    if parentheses.endswith(b"("):
        closes.append(0)
    # The deepest point follows a run of `(`: the levels still open before it, plus the run.
    open_after = accumulate(map(operator.sub, opens, closes))  # levels open after each `)` run
    return peeled + max(map(operator.add, open_after, closes), default=0)
