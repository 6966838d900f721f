"""The web side of observability (issue 11): the `/metrics` route, and the ASGI middleware that
times and counts every request and writes each hook call's audit event.

The middleware is the outermost layer, so it sees the status actually sent, including a 413
from the body reader, a 401 from the token check, and a 500 (an exception that escapes it is
counted as 500: Starlette's error handler, outside it, answers 500). `/metrics`, `/healthz`
and `/readyz` are neither counted nor authenticated: scrapers and probes are not callers.
"""

from __future__ import annotations

import time

from fastapi import APIRouter
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cds_service.observability import audit, metrics

router = APIRouter()

UNCOUNTED = frozenset({"/metrics", "/healthz", "/readyz"})


@router.get("/metrics", summary="Prometheus metrics (text format)", include_in_schema=False)
def prometheus_metrics() -> Response:
    # A plain function: FastAPI runs it in a worker thread, off the event loop, while the
    # workers' files are read in multiprocess mode.
    body, content_type = metrics.exposition()
    return Response(body, media_type=content_type)


def classify(method: str, path: str, services: frozenset[str]) -> tuple[str, str]:
    """(endpoint, service label) of a request: hook, feedback, discovery or other; the
    service id when the registry knows it, `unknown` when it does not, `none` when the
    path names none. Bounded whatever the path."""
    parts = path.split("/")
    if len(parts) >= 3 and parts[1] == "cds-services" and method == "POST":
        service = parts[2] if parts[2] in services else metrics.UNKNOWN
        if len(parts) == 3:
            return "hook", service
        if len(parts) == 4 and parts[3] == "feedback":
            return "feedback", service
    if path == "/cds-services" and method == "GET":
        return "discovery", metrics.NONE
    return "other", metrics.NONE


class Observability:
    """Counts and times each request; opens, and at the end writes, a hook call's record."""

    def __init__(self, app: ASGIApp, services: frozenset[str]) -> None:
        self.app, self.services = app, services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNCOUNTED:
            await self.app(scope, receive, send)
            return
        endpoint, service = classify(scope["method"], scope["path"], self.services)
        status = 500  # unless a response starts: an escaping exception becomes Starlette's 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        with metrics.in_progress(endpoint), audit.recording() as record:
            try:
                await self.app(scope, receive, sending)
            finally:
                seconds = time.perf_counter() - record.started
                metrics.count_request(endpoint, service, status, seconds)
                if endpoint == "hook":
                    record.status = status
                    audit.emit(record, seconds * 1000)
                    metrics.count_call(record)
