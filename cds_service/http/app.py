"""The application factory: settings, registry, routes, middleware; nothing else."""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from typing import Any

import anyio
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from cds_service.feedback import FeedbackStore, IssuedCardRecorder
from cds_service.feedback.issued import hash_key
from cds_service.http import errors, metrics, openapi, preview, routes
from cds_service.http.cors import LOOPBACK_ORIGINS, Cors
from cds_service.http.warm_up import warm_up
from cds_service.observability import metrics as worker_metrics
from cds_service.observability.logs import PAYLOAD_LOGGER
from cds_service.prefetch import new_fhir_client
from cds_service.prefetch.client import FallbackWatchdog
from cds_service.prefetch.settings import FetchSettings
from cds_service.protocol import Issue
from cds_service.registry import ServiceRegistry
from cds_service.security import SqlReplayCache, TokenVerifier
from cds_service.services import clinical_registry
from cds_service.settings import Settings
from cds_service.storage import Database, ensure_schema

log = logging.getLogger("cds_service")


class ProductionModeUnavailable(RuntimeError):
    """Fail closed: without a trusted client to verify, production must not take traffic."""


_SWITCH_INTERVAL_S = 0.001


@cache
def _freeze_start_up_heap() -> None:
    """Move everything start-up built (code lists, the UCUM registry, policies, models: about
    a million objects) out of the cyclic garbage collector's reach, once per process.

    Without it, the full collections that decoding a large request triggers walk that whole
    heap in whichever thread allocates, holding the GIL: a 5 MiB prefetch evaluated in a worker
    thread stalled the event loop for 70-95 ms per request, which every other caller (health
    probes included) waited out. With it, the worst `/healthz` wait measured beside such
    requests fell to 15-20 ms (issue 10 item 2). Objects made later are collected as usual."""
    gc.freeze()


def create_app(
    settings: Settings | None = None, registry: ServiceRegistry | None = None
) -> FastAPI:
    settings = settings or Settings()
    # Large records are evaluated in a worker thread; with the default 5 ms GIL switch interval
    # the event loop waits up to 5 ms each time it wants the GIL back, which adds up to tens of
    # milliseconds per request for everyone else. 1 ms keeps them responsive (issue 10 item 2).
    sys.setswitchinterval(_SWITCH_INTERVAL_S)
    registry = registry if registry is not None else clinical_registry(settings)
    # Feedback, issued cards and the jti replay cache share one database (issue 13).
    database = Database(settings.database_url, pool_size=settings.database_pool_size)
    feedback_store = FeedbackStore(database)
    secret = settings.patient_hash_key
    issued = IssuedCardRecorder(
        database,
        hash_key(secret.get_secret_value() if secret else None),
        worker_metrics.count_unrecorded_cards,
    )
    fetch = settings.fetch_settings()
    watchdog = FallbackWatchdog.from_settings(fetch)

    # With trusted clients configured every call is verified, in dev mode too (so the
    # sandbox's real signed calls can be tried); without them only dev mode may start. The
    # replay cache is in the database, so a token is good for one call across all instances.
    verifier = (
        TokenVerifier(settings.clients, settings.jwt, replay=SqlReplayCache(database))
        if settings.clients
        else None
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        refusal = settings.production_refusal()
        if refusal is not None:
            raise ProductionModeUnavailable(refusal)
        # SQLite migrates itself; another database must already be at this release's schema.
        await anyio.to_thread.run_sync(ensure_schema, database)
        if secret is None and not settings.dev:
            log.warning(
                "patient_hash_key not set: issued cards are recorded without a patient hash"
            )
        worker_metrics.worker_started()
        app.state.http = new_fhir_client(fetch, watchdog)
        # Before the freeze: what the first call builds lazily is then start-up heap too.
        await warm_up(registry)
        _freeze_start_up_heap()
        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(_rebuild_when_wedged, app, fetch, watchdog)
                tasks.start_soon(issued.run)
                yield
                await issued.drain(seconds=10)
                tasks.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                database.dispose()
                await app.state.http.aclose()
                if verifier is not None:
                    await verifier.aclose()
                worker_metrics.worker_stopped()

    app = FastAPI(
        title="aza-advisor",
        summary="CDS Hooks 2.0 service: azathioprine withdrawal from infliximab combination",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.registry = registry
    app.state.database = database
    app.state.feedback = feedback_store
    app.state.issued_cards = issued
    app.state.verifier = verifier
    # First, so that it answers hook calls before the FastAPI route of the same path does;
    # see `routes.invoke_routed`.
    app.add_route(routes.HOOK_PATH, routes.invoke_routed, methods=["POST"], include_in_schema=False)
    app.include_router(routes.router)
    app.include_router(metrics.router)
    errors.install(app)
    if settings.dev:
        preview.install(app)
    app.add_middleware(
        Cors,
        allow_origins=settings.allowed_origins,
        allow_origin_regex=LOOPBACK_ORIGINS if settings.dev else None,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type"],
        max_age=600,
    )
    app.add_middleware(_FallbackReadiness, watchdog=watchdog)
    # Outermost: it sees the status actually sent, whoever sent it.
    services = frozenset(service.id for service in registry.discovery().services)
    app.add_middleware(metrics.Observability, services=services)
    if settings.log_payloads:  # dev mode only (Settings refuses it otherwise)
        logging.getLogger(PAYLOAD_LOGGER).setLevel(logging.DEBUG)
    openapi.install(app)
    app.state.fallback_watchdog = watchdog
    return app


async def _rebuild_when_wedged(
    app: FastAPI, fetch: FetchSettings, watchdog: FallbackWatchdog
) -> None:
    """On each watchdog trip, replace the shared FHIR client; the old one is closed once the
    calls that hold it have passed their deadline."""

    async def close_later(client: Any) -> None:
        try:
            await anyio.sleep((fetch.deadline_ms + fetch.backstop_ms) / 1000 + 1)
        finally:
            with anyio.CancelScope(shield=True):
                await client.aclose()

    async with anyio.create_task_group() as closing:
        while True:
            await watchdog.wait_tripped()
            old, app.state.http = app.state.http, new_fhir_client(fetch, watchdog)
            watchdog.rebuilt()
            log.warning("FHIR fallback stuck (every request failed); HTTP client rebuilt")
            closing.start_soon(close_later, old)


class _FallbackReadiness:
    """`/readyz` answers 503 while the watchdog says the FHIR fallback is stuck."""

    def __init__(self, app: ASGIApp, watchdog: FallbackWatchdog) -> None:
        self.app, self.watchdog = app, watchdog

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/readyz":
            reason = self.watchdog.unready_reason()
            if reason is not None:
                response = errors.outcome_response(503, Issue("transient", reason))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


@cache
def _default_app() -> FastAPI:
    return create_app()


def __getattr__(name: str) -> Any:
    """The module-level ASGI `app` (`uvicorn cds_service.http.app:app`), built on first use only:
    importing this module, as the CLI does before it sets the mode, must not build an app."""
    if name == "app":
        return _default_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
