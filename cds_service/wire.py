"""Reading and validating request bodies: the edge where untrusted bytes become models.

FastAPI's own body parsing would answer 422 and read unbounded bodies; CDS Hooks clients expect
400 with a reason, and a clinical service must bound what it buffers. So bodies are read here,
once, with a size limit, and every failure becomes a CdsHooksError with an OperationOutcome.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from cds_service.protocol import BadRequest, Issue, PayloadTooLarge

ModelT = TypeVar("ModelT", bound=BaseModel)


async def read_json(request: Request, limit: int) -> Any:
    """The decoded JSON body, refusing non-JSON content types and bodies over `limit` bytes."""
    _require_json_media_type(request.headers.get("content-type", ""))
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _too_large(limit)
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequest(Issue("structure", f"body is not valid JSON: {error}")) from None


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


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(Issue("too-long", f"request body exceeds the limit of {limit} bytes"))
