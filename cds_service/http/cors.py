"""CORS for browser clients (SPEC-38): preflights are answered before any token check, and a
refused preflight says why in an OperationOutcome like every other error of the service.

Dev mode also allows loopback origins on any port, so a locally served CDS Hooks sandbox can
call a locally served service (issue 12); production allows only the configured origins."""

from __future__ import annotations

import json

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from cds_service.protocol import Issue, operation_outcome

LOOPBACK_ORIGINS = r"^https?://(localhost|127\.0\.0\.1|\[::1\])(:[0-9]{1,5})?$"
"""A browser page served from this machine, on any port (dev mode only)."""

_FHIR_JSON = "application/fhir+json"


class Cors(CORSMiddleware):
    def preflight_response(self, request_headers: Headers) -> Response:
        answer = super().preflight_response(request_headers)
        if answer.status_code != 400:
            return answer
        refused = bytes(answer.body).decode().removeprefix("Disallowed CORS ")
        issue = Issue(
            "forbidden",
            f"CORS preflight refused ({refused}): allowed origins are set by AZA_CORS_ORIGINS "
            "(dev mode adds the CDS Hooks sandbox and loopback origins)",
        )
        headers = {
            name: value
            for name, value in answer.headers.items()
            if name.lower() not in ("content-length", "content-type")
        }
        return Response(
            json.dumps(operation_outcome([issue])),
            status_code=400,
            headers=headers,
            media_type=_FHIR_JSON,
        )
