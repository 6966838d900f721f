"""The services the discovery endpoint lists and the hook endpoint dispatches to.

The protocol layer knows services only through this registry, so the clinical services (and
test doubles) plug in without the HTTP layer knowing what they do.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import date

import httpx

from cds_service.protocol import (
    CONTEXT_MODELS,
    CdsResponse,
    Discovery,
    HookRequest,
    ServiceDescriptor,
)
from cds_service.protocol.hooks import PatientViewContext
from cds_service.security import Caller


@dataclass(frozen=True, slots=True)
class HookCall:
    """One validated hook invocation, with the shared HTTP client for FHIR fallback fetches
    and the verified caller (None in dev mode without trusted clients)."""

    service_id: str
    request: HookRequest
    context: PatientViewContext
    http: httpx.AsyncClient
    caller: Caller | None = None


Handler = Callable[[HookCall], Awaitable[CdsResponse]]


@dataclass(frozen=True, slots=True)
class RegisteredService:
    descriptor: ServiceDescriptor
    handler: Handler
    clock: Callable[[], date] | None = None
    """The day the handler evaluates records on. Given, the app answers one synthetic call for
    this service at start-up (`cds_service.http.warm_up`); None (a test double) it does not."""


class ServiceRegistry:
    def __init__(self, services: Iterable[RegisteredService] = ()) -> None:
        self._services: dict[str, RegisteredService] = {}
        for service in services:
            self.register(service)

    def register(self, service: RegisteredService) -> None:
        service_id, hook = service.descriptor.id, service.descriptor.hook
        if hook not in CONTEXT_MODELS:
            raise ValueError(f"service {service_id!r}: unsupported hook {hook!r}")
        if service_id in self._services:
            raise ValueError(f"service id {service_id!r} registered twice")
        self._services[service_id] = service

    def get(self, service_id: str) -> RegisteredService | None:
        return self._services.get(service_id)

    def discovery(self) -> Discovery:
        return Discovery(services=[service.descriptor for service in self._services.values()])
