"""Discovery, health probes, CORS for browser clients, and the OpenAPI description."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from cds_service.http.app import create_app
from cds_service.registry import ServiceRegistry
from cds_service.settings import SANDBOX_ORIGIN, Settings
from tests.conftest import ConformantClient, hook_request


def test_spec04_no_services_answers_empty_list() -> None:
    with ConformantClient(create_app(Settings(dev=True), ServiceRegistry())) as client:
        response = client.get("/cds-services")
    assert response.status_code == 200
    assert response.json() == {"services": []}


def test_spec03_spec05_discovery_lists_registered_services(client: ConformantClient) -> None:
    services = client.get("/cds-services").json()["services"]
    assert {service["hook"] for service in services} == {
        "patient-view",
        "order-select",
        "order-sign",
    }
    for service in services:  # every listed id is reachable
        response = client.post(f"/cds-services/{service['id']}", json=hook_request(service["hook"]))
        assert response.status_code == 200
        assert response.json() == {"cards": []}


def test_spec17_no_guidance_is_exactly_empty_cards(client: ConformantClient) -> None:
    response = client.post("/cds-services/echo-order-select", json=hook_request("order-select"))
    assert response.text == '{"cards":[]}'


def test_health_and_readiness(client: ConformantClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["status"] == "ready"


def test_spec38_cors_preflight_from_sandbox_without_auth(client: ConformantClient) -> None:
    response = client.options(
        "/cds-services/echo-patient-view",
        headers={
            "Origin": SANDBOX_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SANDBOX_ORIGIN
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed


def test_spec38_cors_closed_to_other_origins(client: ConformantClient) -> None:
    response = client.get("/cds-services", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers


def test_openapi_describes_hook_request_body(client: ConformantClient) -> None:
    spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/cds-services/{service_id}"]["post"]
    body_schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body_schema == {"$ref": "#/components/schemas/HookRequest"}
    assert {"hook", "hookInstance", "context"} <= set(
        spec["components"]["schemas"]["HookRequest"]["required"]
    )
    assert "412" in operation["responses"]


@pytest.mark.parametrize(
    "origin", ["http://localhost:3000", "http://127.0.0.1:8081", "https://localhost:8443"]
)
def test_issue12_dev_mode_allows_a_locally_served_sandbox(
    client: ConformantClient, origin: str
) -> None:
    response = client.options(
        "/cds-services",
        headers={"Origin": origin, "Access-Control-Request-Method": "GET"},
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == origin


def test_issue12_refused_preflight_is_an_operation_outcome(client: ConformantClient) -> None:
    response = client.options(
        "/cds-services",
        headers={"Origin": "http://localhost.evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/fhir+json"
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert "origin" in outcome["issue"][0]["diagnostics"]


def test_issue12_loopback_origins_are_not_allowed_outside_dev_mode(
    registry: ServiceRegistry,
) -> None:
    app = create_app(Settings(dev=False, cors_origins=["https://ehr.example.org"]), registry)
    # No lifespan: production without clients would refuse to start; CORS answers before it.
    response = TestClient(app).options(
        "/cds-services",
        headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "GET"},
    )
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers
