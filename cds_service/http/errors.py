"""Every error leaves as an OperationOutcome with a 4xx/5xx status; none becomes an empty 200
and no stack trace reaches the client."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cds_service.log_safety import loggable
from cds_service.protocol import CdsHooksError, Issue, Unauthorized, operation_outcome

log = logging.getLogger("cds_service.errors")

_FHIR_JSON = "application/fhir+json"


def install(app: FastAPI) -> None:
    app.add_exception_handler(CdsHooksError, _cds_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


def outcome_response(status: int, *issues: Issue) -> JSONResponse:
    return JSONResponse(operation_outcome(issues), status_code=status, media_type=_FHIR_JSON)


async def _cds_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, CdsHooksError)
    log.info("request refused status=%d path=%s", error.status, loggable(request.url.path))
    # RFC 6750 §3: a 401 names the scheme; no error detail, the same for every reason (SPEC-37).
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(error, Unauthorized) else None
    return JSONResponse(
        error.outcome(), status_code=error.status, media_type=_FHIR_JSON, headers=headers
    )


async def _validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    issues = [
        Issue("invalid", f"{'.'.join(map(str, detail['loc']))}: {detail['msg']}")
        for detail in error.errors()
    ]
    return outcome_response(400, *issues)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    code = "not-found" if error.status_code == 404 else "not-supported"
    response = outcome_response(error.status_code, Issue(code, str(error.detail)))
    # Starlette's own headers, e.g. `Allow` on a 405 (RFC 9110 §15.5.6 requires it).
    response.headers.update(error.headers or {})
    return response


async def _unexpected(request: Request, error: Exception) -> Response:
    # The traceback goes to our log, never to the client; the log line carries no request data
    # beyond the path, escaped and capped like every request-supplied value.
    log.error("unexpected error on %s", loggable(request.url.path), exc_info=error)
    return outcome_response(500, Issue("exception", "internal error; see the service log"))
