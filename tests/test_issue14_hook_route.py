"""Issue 14: hook calls are routed to a plain Starlette endpoint ahead of the FastAPI route of the
same path (kept for the OpenAPI document). Both must give the same answer, byte for byte, for a
success and for every error a hook call can get."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from cds_service.http import routes
from cds_service.http.app import create_app
from cds_service.protocol import (
    CdsHooksError,
    CdsResponse,
    Issue,
    PreconditionFailed,
    ServiceDescriptor,
)
from cds_service.registry import HookCall, RegisteredService, ServiceRegistry
from cds_service.security import TrustedClient
from cds_service.settings import Settings
from cds_service.storage import StorageUnavailable
from tests.conftest import ConformantClient, echo_service, hook_request
from tests.security.tokens import Signer, write_jwks

URL = "/cds-services/echo-patient-view"
JSON = {"content-type": "application/json"}


def _without_plain_route(app: FastAPI) -> FastAPI:
    app.router.routes[:] = [
        route
        for route in app.router.routes
        if getattr(route, "endpoint", None) is not routes.invoke_routed
    ]
    return app


@contextmanager
def _both(settings: Settings, registry: ServiceRegistry) -> Iterator[list[ConformantClient]]:
    plain = create_app(settings, registry)
    endpoints = [getattr(route, "endpoint", None) for route in plain.router.routes]
    assert routes.invoke_routed in endpoints
    fastapi_only = _without_plain_route(create_app(settings, registry))
    with (
        ConformantClient(plain, raise_server_exceptions=False) as first,
        ConformantClient(fastapi_only, raise_server_exceptions=False) as second,
    ):
        yield [first, second]


def _answers(clients: list[ConformantClient], method: str, url: str, **kwargs: Any) -> Any:
    answers = [client.request(method, url, follow_redirects=False, **kwargs) for client in clients]
    first, second = ((a.status_code, sorted(a.headers.multi_items()), a.content) for a in answers)
    assert first == second
    return answers[0]


def _registry() -> ServiceRegistry:
    def raising(service_id: str, error: Exception) -> RegisteredService:
        async def handler(call: HookCall) -> CdsResponse:
            raise error

        descriptor = ServiceDescriptor(id=service_id, hook="patient-view", description="raises")
        return RegisteredService(descriptor, handler)

    return ServiceRegistry(
        [
            echo_service("echo-patient-view", "patient-view"),
            raising("precondition", PreconditionFailed.missing(["medicationRequests"])),
            raising("storage", StorageUnavailable()),
            raising("forbidden", CdsHooksError(Issue("forbidden", "no"), status=403)),
            raising("unexpected", RuntimeError("boom")),
        ]
    )


REQUESTS: list[tuple[str, str, dict[str, Any], int]] = [
    ("POST", URL, {"json": hook_request()}, 200),
    ("POST", URL, {"json": hook_request(), "headers": {"origin": "http://localhost:3000"}}, 200),
    ("POST", URL, {"content": b"{not json", "headers": JSON}, 400),
    ("POST", URL, {"json": {"hook": "patient-view"}}, 400),
    ("POST", URL, {"json": hook_request("order-sign")}, 400),
    ("POST", URL, {"content": b"{}", "headers": {"content-type": "text/plain"}}, 400),
    ("POST", URL, {"json": hook_request(context={"userId": "Practitioner/1"})}, 400),
    ("POST", URL, {"content": b"x" * 5000, "headers": JSON}, 413),
    ("POST", "/cds-services/nope", {"json": hook_request()}, 404),
    ("GET", URL, {}, 405),
    ("PUT", URL, {"json": hook_request()}, 405),
    ("POST", URL + "/", {"json": hook_request()}, 307),
    ("POST", "/cds-services/precondition", {"json": hook_request()}, 412),
    ("POST", "/cds-services/storage", {"json": hook_request()}, 503),
    ("POST", "/cds-services/forbidden", {"json": hook_request()}, 403),
    ("POST", "/cds-services/unexpected", {"json": hook_request()}, 500),
]


@pytest.mark.parametrize(("method", "url", "kwargs", "status"), REQUESTS)
def test_issue14_plain_hook_route_answers_as_the_fastapi_route(
    method: str, url: str, kwargs: dict[str, Any], status: int
) -> None:
    with _both(Settings(dev=True, max_body_bytes=4096), _registry()) as clients:
        assert _answers(clients, method, url, **kwargs).status_code == status


def test_issue14_plain_hook_route_refuses_a_missing_token_as_the_fastapi_route(
    tmp_path: Path,
) -> None:
    keys = write_jwks(tmp_path / "ehr.json", Signer.es384(kid="ehr-es384"))
    client = TrustedClient(name="ehr", iss="https://ehr.example.org", jwks_file=keys)
    settings = Settings(dev=True, clients=[client], public_base_url="http://localhost:8080")
    with _both(settings, _registry()) as clients:
        assert _answers(clients, "POST", URL, json=hook_request()).status_code == 401


def test_issue14_openapi_document_still_describes_the_hook_route() -> None:
    with _both(Settings(dev=True), _registry()) as clients:
        spec = _answers(clients, "GET", "/openapi.json").json()
    assert "post" in spec["paths"]["/cds-services/{service_id}"]
