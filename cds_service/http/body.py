"""Reading and validating request bodies: the edge where untrusted bytes become models.

FastAPI's own body parsing would answer 422 and read unbounded bodies; CDS Hooks clients expect
400 with a reason, and a clinical service must bound what it buffers. So bodies are read here,
once, with a size limit, and every failure becomes a CdsHooksError with an OperationOutcome.

The JSON itself is read strictly (RFC 8259, issue 10): see `cds_service.protocol.json_text`.
"""

from __future__ import annotations

from typing import Any, NoReturn, TypeVar

import anyio
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect, Request

from cds_service.protocol import BadRequest, Issue, PayloadTooLarge, json_text
from cds_service.protocol.json_text import MAX_NESTING, InvalidJson

__all__ = ["MAX_NESTING", "decode_json", "parse", "read_json"]

ModelT = TypeVar("ModelT", bound=BaseModel)


async def read_json(request: Request, limit: int) -> Any:
    """The decoded JSON body, refusing non-JSON content types and bodies over `limit` bytes."""
    _require_json_media_type(request.headers.get("content-type", ""))
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        # Beyond the drain bound the body is refused unread, at once.
        drain = int(declared) <= DISCARD_BYTES
        await _refuse_too_large(request, limit, received=0 if drain else DISCARD_BYTES)
    # The chunks are joined once at the end, and a body sent in one message (most are) is used
    # as it came, uncopied (issue 14).
    chunks: list[bytes] = []
    received = 0
    more = True
    while more:
        chunk, more = await _next_chunk(request)
        chunks.append(chunk)
        received += len(chunk)
        if received > limit:
            await _refuse_too_large(request, limit, received=received, more=more)
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    if received <= _INLINE_DECODE_BYTES:
        return decode_json(body)
    # A few MiB take tens of milliseconds to check and decode: off the event loop, so that one
    # large legal request does not stall every other caller (issue 10 item 2).
    return await anyio.to_thread.run_sync(decode_json, body)


# Bodies up to this size are decoded on the event loop (well under a millisecond); a typical
# hook request with prefetch is 20-100 KB.
_INLINE_DECODE_BYTES = 256 * 1024


def decode_json(body: bytes, *, max_nesting: int = MAX_NESTING) -> Any:
    """`body` decoded as strict JSON (see `cds_service.protocol.json_text`), or BadRequest."""
    try:
        return json_text.decode_json(body, max_nesting=max_nesting)
    except InvalidJson as refused:
        raise BadRequest(refused.issue) from None


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


async def _next_chunk(request: Request) -> tuple[bytes, bool]:
    """One `http.request` message's body and whether the client has more to send, read from
    the ASGI channel itself (not Starlette's `stream()`, which cannot be resumed): reading past
    the last chunk would wait for a disconnect."""
    message = await request.receive()
    if message["type"] == "http.disconnect":
        raise ClientDisconnect
    body: bytes = message.get("body", b"")
    return body, bool(message.get("more_body", False))


async def _refuse_too_large(
    request: Request, limit: int, *, received: int, more: bool = True
) -> NoReturn:
    """Drain what the client is still sending (bounded), then refuse with 413."""
    while more and received < DISCARD_BYTES:
        chunk, more = await _next_chunk(request)
        received += len(chunk)
    raise PayloadTooLarge(Issue("too-long", f"request body exceeds the limit of {limit} bytes"))
