"""The CDS Hooks endpoints: discovery, hook invocation, feedback, and health probes."""

from __future__ import annotations

import logging

import anyio
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cds_service.feedback import FeedbackStore, HookAnswer, IssuedCardRecorder
from cds_service.http.auth import authenticate
from cds_service.http.body import parse, read_json
from cds_service.http.errors import outcome_response
from cds_service.http.openapi import ERROR_RESPONSES
from cds_service.log_safety import capped, loggable
from cds_service.observability import audit, metrics, payloads
from cds_service.protocol import (
    CONTEXT_MODELS,
    BadRequest,
    CdsResponse,
    Discovery,
    FeedbackRequest,
    HookRequest,
    Issue,
    UnknownService,
)
from cds_service.registry import HookCall, RegisteredService, ServiceRegistry
from cds_service.settings import Settings

log = logging.getLogger("cds_service.http.routes")
router = APIRouter()

FLUSH_BEFORE_FEEDBACK_SECONDS = 2.0
"""Feedback waits this long, at most, for the issued cards still queued to be written."""


def _registry(request: Request) -> ServiceRegistry:
    registry: ServiceRegistry = request.app.state.registry
    return registry


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@router.get(
    "/cds-services",
    summary="Discovery (SPEC-03)",
    response_model=Discovery,
    response_model_exclude_none=True,
)
async def discovery(request: Request) -> JSONResponse:
    await authenticate(request)
    return JSONResponse(_registry(request).discovery().wire())


HOOK_PATH = "/cds-services/{service_id}"


@router.post(
    HOOK_PATH,
    summary="Invoke a CDS Service (SPEC-08)",
    response_model=CdsResponse,
    responses=ERROR_RESPONSES,
    openapi_extra={"x-request-model": "HookRequest"},
)
async def invoke(service_id: str, request: Request) -> Response:
    caller = await authenticate(request)
    service = _service(request, service_id)
    audit.note_service(service_id, caller)
    settings = _settings(request)
    payload = await read_json(request, settings.max_body_bytes)
    hook_request = parse(HookRequest, payload)
    audit.note_request(hook_request.hook, hook_request.hookInstance)
    if settings.log_payloads:
        payloads.log_request(service_id, payload, hook_request.access_token)
    expected = service.descriptor.hook
    if hook_request.hook != expected:
        raise BadRequest(
            Issue(
                "invalid",
                f"hook {capped(hook_request.hook)!r} is not served by {service_id!r}, "
                f"which answers {expected!r}",
                expression=("hook",),
            )
        )
    context = parse(CONTEXT_MODELS[expected], hook_request.context, prefix="context")
    _check_fhir_server(hook_request, settings)
    call = HookCall(service_id, hook_request, context, request.app.state.http, caller)
    response = await service.handler(call)
    audit.note_cards(response.cards)  # the audit event (cds_service.audit) is the answer's line
    body = response.wire_text()
    if settings.log_payloads:
        payloads.log_response(service_id, response.wire(), hook_request.access_token)
    if response.cards:  # queued, written after the answer (cds_service.feedback.issued)
        recorder: IssuedCardRecorder = request.app.state.issued_cards
        patient = getattr(context, "patientId", None)
        client = caller.client if caller else None
        recorder.note(
            HookAnswer(service_id, hook_request.hookInstance, patient, client, response.cards)
        )
    return _HookAnswer(body, kept=(payload, hook_request, context, call, response))


async def invoke_routed(request: Request) -> Response:
    """`invoke` as a plain Starlette endpoint, which the app routes hook calls to ahead of the
    FastAPI route (kept for the OpenAPI document): FastAPI's per-call dependency solving and
    its matching through the included router cost about 100 us of a 1.7 ms call, for a route
    whose only parameters are the path's `service_id` (any non-empty segment, a `str` either
    way) and the request itself (issue 14)."""
    service_id: str = request.path_params["service_id"]
    return await invoke(service_id, request)


@router.post(
    "/cds-services/{service_id}/feedback",
    summary="Feedback on cards (SPEC-28)",
    responses={code: ERROR_RESPONSES[code] for code in (400, 404, 413, 500)},
    openapi_extra={"x-request-model": "FeedbackRequest"},
)
async def feedback(service_id: str, request: Request) -> JSONResponse:
    caller = await authenticate(request)
    _service(request, service_id)
    payload = await read_json(request, _settings(request).max_body_bytes)
    received = parse(FeedbackRequest, payload)
    store: FeedbackStore = request.app.state.feedback
    # Cards answered in the last moments may still wait for their batch: write them first, so
    # feedback on them is matched rather than stored as on unknown cards.
    recorder: IssuedCardRecorder = request.app.state.issued_cards
    with anyio.move_on_after(FLUSH_BEFORE_FEEDBACK_SECONDS):
        await recorder.flush()
    # Committed before the 200; a database that does not answer is a 503 (StorageUnavailable).
    count = await store.save(
        service_id, received.feedback, client=caller.client if caller else None
    )
    metrics.count_feedback(service_id, count.received, count.stored, count.unknown_cards)
    log.info(
        "feedback stored service=%s received=%d stored=%d unknown_cards=%d",
        loggable(service_id),
        count.received,
        count.stored,
        count.unknown_cards,
    )
    return JSONResponse({"received": count.received, "stored": count.stored})


@router.get("/healthz", summary="Liveness probe", include_in_schema=True)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness probe: the feedback database answers")
async def readyz(request: Request) -> JSONResponse:
    store: FeedbackStore = request.app.state.feedback
    if not await store.ping():
        return outcome_response(503, Issue("transient", "feedback database unavailable"))
    services = len(_registry(request).discovery().services)
    return JSONResponse({"status": "ready", "services": services})


class _HookAnswer(Response):
    """The hook call's answer, holding the call's objects until it has been sent.

    The decoded request is thousands of objects (a 51 KB body: about 40 us to free); freed
    when the route returns, the caller would wait for that before the first byte of the
    answer. Held here, they go when the sent response is dropped (issue 14)."""

    media_type = "application/json"

    def __init__(self, content: bytes, *, kept: object) -> None:
        super().__init__(content)
        self._kept = kept


def _service(request: Request, service_id: str) -> RegisteredService:
    service = _registry(request).get(service_id)
    if service is None:
        raise UnknownService(Issue("not-found", f"no CDS service with id {service_id!r}"))
    return service


def _check_fhir_server(request: HookRequest, settings: Settings) -> None:
    server = request.fhirServer
    if settings.require_https_fhir_server and server and not server.startswith("https://"):
        raise BadRequest(Issue("security", "fhirServer must use https", expression=("fhirServer",)))
