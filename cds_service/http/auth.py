"""The bearer-token dependency: every CDS Hooks call is authenticated here (SPEC-30).

The audience a token must name is the URL of the endpoint invoked (SPEC-32), built from the
configured public base URL (what the EHR was told to call, which a reverse proxy may hide from
us) and the request path, never from the request's Host header, which the caller controls.

A refusal is logged with its reason only (never the token) and counted, then answered with the
same 401 whatever the reason, so the caller learns nothing about which check failed.
"""

from __future__ import annotations

import logging

from starlette.requests import Request

from cds_service.log_safety import loggable
from cds_service.protocol import Unauthorized
from cds_service.security import Caller, Rejected, TokenVerifier, rejections

log = logging.getLogger("cds_service.security")


def audience_of(public_base_url: str, path: str) -> str:
    """`https://host/base` + `/cds-services/x`, with one trailing slash of the base dropped."""
    base = public_base_url[:-1] if public_base_url.endswith("/") else public_base_url
    return base + path


async def authenticate(request: Request) -> Caller | None:
    """The verified caller, or None when no trusted clients are configured (dev mode).

    `app.state.verifier` must be set (to None for dev mode): an app that forgot to wire it
    fails with a 500, never silently without authentication."""
    verifier: TokenVerifier | None = request.app.state.verifier
    if verifier is None:
        return None
    audience = audience_of(request.app.state.settings.public_base_url, request.url.path)
    # Several Authorization headers are joined as HTTP would ("a, b"), which no single bearer
    # token matches: refused as malformed rather than picking one of them.
    values = request.headers.getlist("authorization")
    authorization = ", ".join(values) if values else None
    try:
        return await verifier.verify(authorization, audience)
    except Rejected as error:
        log.info("token rejected reason=%s path=%s", error.reason, loggable(request.url.path))
        rejections.note(error.reason)
        raise Unauthorized() from None
