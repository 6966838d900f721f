"""Hook payloads in the log, for debugging in dev mode only (`log_payloads`, issue 11).

The bodies hold PHI, so the setting is refused outside dev mode (cds_service.settings). Even
then the FHIR access token never appears: the `fhirAuthorization.access_token` member is
replaced, and so is any other occurrence of the token's text (an EHR echoing it elsewhere).
The text is capped (`observability.logs.PAYLOAD_LIMIT`).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from cds_service.log_safety import loggable
from cds_service.observability.logs import PAYLOAD_LOGGER

log = logging.getLogger(PAYLOAD_LOGGER)

REDACTED = "[redacted]"


def redacted(payload: Any, token: str | None) -> str:
    """`payload` as JSON text without the access token."""
    if isinstance(payload, dict) and isinstance(payload.get("fhirAuthorization"), dict):
        authorization = {**payload["fhirAuthorization"], "access_token": REDACTED}
        payload = {**payload, "fhirAuthorization": authorization}
    text = json.dumps(payload)
    if token:
        for form in {token, json.dumps(token)[1:-1]}:  # as sent, and as JSON escapes it
            text = text.replace(form, REDACTED)
    return text  # capped by the log's formatter, with its marker (PAYLOAD_LIMIT)


def log_request(service_id: str, payload: Any, token: str | None) -> None:
    log.debug(
        "hook request service=%s",
        loggable(service_id),
        extra={"payload": redacted(payload, token)},
    )


def log_response(service_id: str, wire: Any, token: str | None) -> None:
    log.debug(
        "hook response service=%s",
        loggable(service_id),
        extra={"payload": redacted(wire, token)},
    )
