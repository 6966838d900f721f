"""The application factory: settings, registry, routes, middleware; nothing else."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from typing import Any

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from cds_service import api, error_handlers, openapi
from cds_service.feedback import FeedbackStore
from cds_service.prefetch import new_fhir_client
from cds_service.registry import ServiceRegistry
from cds_service.services import clinical_registry
from cds_service.settings import Settings

log = logging.getLogger("cds_service")

PRODUCTION_REFUSAL = (
    "Production mode requires JWT verification of the calling EHR, which is not implemented "
    "yet; refusing to start. Run `cds-service serve --dev` to try the service locally."
)


class ProductionModeUnavailable(RuntimeError):
    """Fail closed: without JWT verification, the service must not accept production traffic."""


def create_app(
    settings: Settings | None = None, registry: ServiceRegistry | None = None
) -> FastAPI:
    settings = settings or Settings()
    registry = registry if registry is not None else clinical_registry(settings)
    feedback_store = FeedbackStore(settings.feedback_database)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not settings.dev:
            raise ProductionModeUnavailable(PRODUCTION_REFUSAL)
        feedback_store.initialise()
        async with new_fhir_client() as client:
            app.state.http = client
            yield

    app = FastAPI(
        title="aza-advisor",
        summary="CDS Hooks 2.0 service: azathioprine withdrawal from infliximab combination",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.registry = registry
    app.state.feedback = feedback_store
    app.include_router(api.router)
    error_handlers.install(app)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.allowed_origins,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type"],
        max_age=600,
    )
    openapi.install(app)
    return app


@cache
def _default_app() -> FastAPI:
    return create_app()


def __getattr__(name: str) -> Any:
    """The module-level ASGI `app` (`uvicorn cds_service.app:app`), built on first use only:
    importing this module, as the CLI does before it sets the mode, must not build an app."""
    if name == "app":
        return _default_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
