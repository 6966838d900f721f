"""Reading and validating request bodies: the edge where untrusted bytes become models.

FastAPI's own body parsing would answer 422 and read unbounded bodies; CDS Hooks clients expect
400 with a reason, and a clinical service must bound what it buffers. So bodies are read here,
once, with a size limit, and every failure becomes a CdsHooksError with an OperationOutcome.

The JSON itself is read strictly (RFC 8259, issue 10): UTF-8 only; no `NaN`, `Infinity` or
`-Infinity` and no number that overflows to one; no string holding half a surrogate pair (it
could be neither stored nor sent back: every such body used to end in a 500); and arrays and
objects nested at most `MAX_NESTING` deep.
"""

from __future__ import annotations

import json
import math
import operator
import re
from itertools import accumulate
from typing import Any, NoReturn, TypeVar

import anyio
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect, Request

from cds_service.protocol import BadRequest, Issue, PayloadTooLarge

ModelT = TypeVar("ModelT", bound=BaseModel)

MAX_NESTING = 100
"""Arrays and objects inside one another, the body itself counting as one. A CDS Hooks request
with a prefetch Bundle nests about 18 deep (request, prefetch, Bundle, entry, resource,
contained, element, coding, complex extensions) and a Bundle inside a Bundle about 30; 100 is
generous for those, and ten times below the depth at which Python's recursion (json, pydantic,
our own walkers) would fail."""


async def read_json(request: Request, limit: int) -> Any:
    """The decoded JSON body, refusing non-JSON content types and bodies over `limit` bytes."""
    _require_json_media_type(request.headers.get("content-type", ""))
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        # Beyond the drain bound the body is refused unread, at once.
        drain = int(declared) <= DISCARD_BYTES
        await _refuse_too_large(request, limit, received=0 if drain else DISCARD_BYTES)
    body = bytearray()
    more = True
    while more:
        body += await _next_chunk(request)
        more = request.state.more_body
        if len(body) > limit:
            await _refuse_too_large(request, limit, received=len(body))
    if len(body) <= _INLINE_DECODE_BYTES:
        return decode_json(bytes(body))
    # A few MiB take tens of milliseconds to check and decode: off the event loop, so that one
    # large legal request does not stall every other caller (issue 10 item 2).
    return await anyio.to_thread.run_sync(decode_json, bytes(body))


# Bodies up to this size are decoded on the event loop (well under a millisecond); a typical
# hook request with prefetch is 20-100 KB.
_INLINE_DECODE_BYTES = 256 * 1024


def decode_json(body: bytes, *, max_nesting: int = MAX_NESTING) -> Any:
    """`body` decoded as strict RFC 8259 JSON, or BadRequest saying why not.

    A `charset` parameter on the content type is ignored: RFC 8259 §11 defines none, and JSON
    between systems must be UTF-8 (§8.1). A UTF-8 byte order mark is tolerated (§8.1 allows it).
    """
    text = _utf8(body)
    if _nests_deeper_than(body, max_nesting):
        _refuse_nesting(max_nesting)
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:
        _refuse_nesting(max_nesting)
    except ValueError as error:
        raise BadRequest(Issue("structure", f"body is not valid JSON: {error}")) from None
    if _SURROGATE_ESCAPE.search(text) and not _encodable(value):
        raise BadRequest(
            Issue(
                "structure",
                "body is not valid JSON text: a \\u escape names half of a UTF-16 surrogate "
                "pair without the other half, which is no Unicode character (RFC 8259 §8.2)",
            )
        )
    return value


def parse(model: type[ModelT], payload: Any, *, prefix: str = "") -> ModelT:
    """Validate `payload`; errors name the field and the problem, never the received value
    (which could be PHI or a token)."""
    try:
        return model.model_validate(payload)
    except ValidationError as error:
        raise BadRequest(*_issues(error, prefix)) from None


def _issues(error: ValidationError, prefix: str) -> list[Issue]:
    issues = []
    for detail in error.errors(include_input=False, include_url=False):
        location = ".".join(str(part) for part in (prefix, *detail["loc"]) if part != "")
        where = location or "body"
        issues.append(Issue("invalid", f"{where}: {detail['msg']}", expression=(where,)))
    return issues


def _require_json_media_type(content_type: str) -> None:
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        shown = media_type or "none"
        raise BadRequest(
            Issue("not-supported", f"content type must be application/json, got {shown}")
        )


DISCARD_BYTES = 16 * 1024 * 1024
"""How much of an over-size body is read and thrown away before the 413 is sent (issue 11).
A client that is still sending when the server answers and closes sees a connection reset, not
the answer; so the rest of the body is drained first, up to this many bytes in all, which
covers every body an EHR plausibly sends by mistake. Beyond it the connection is dropped."""


async def _next_chunk(request: Request) -> bytes:
    """One `http.request` message's body, read from the ASGI channel itself (not Starlette's
    `stream()`, which cannot be resumed), recording in `request.state.more_body` whether the
    client has more to send: reading past the last chunk would wait for a disconnect."""
    message = await request.receive()
    if message["type"] == "http.disconnect":
        raise ClientDisconnect
    request.state.more_body = bool(message.get("more_body", False))
    body: bytes = message.get("body", b"")
    return body


async def _refuse_too_large(request: Request, limit: int, *, received: int) -> NoReturn:
    """Drain what the client is still sending (bounded), then refuse with 413."""
    more = getattr(request.state, "more_body", True)
    while more and received < DISCARD_BYTES:
        received += len(await _next_chunk(request))
        more = request.state.more_body
    raise PayloadTooLarge(Issue("too-long", f"request body exceeds the limit of {limit} bytes"))


# --- strict JSON ---------------------------------------------------------------------------


def _utf8(body: bytes) -> str:
    encoding = json.detect_encoding(body)  # what json.loads would guess: UTF-16/32 by its NULs
    if encoding not in ("utf-8", "utf-8-sig"):
        raise BadRequest(
            Issue(
                "not-supported",
                f"body must be JSON encoded as UTF-8 (RFC 8259 §8.1); it looks like {encoding}",
            )
        )
    try:
        return body.decode(encoding)
    except UnicodeDecodeError as error:
        raise BadRequest(
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
    raise BadRequest(
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
