"""The error table of the foundation issue, one test per row. Every error answer is an
OperationOutcome (checked for every response by the ConformantClient in conftest)."""

from __future__ import annotations

import json
import logging

import pytest
from fhir.resources.R4B.operationoutcome import OperationOutcome

from cds_service.http.app import create_app
from cds_service.protocol import CdsResponse, PreconditionFailed, ServiceDescriptor
from cds_service.registry import HookCall, RegisteredService, ServiceRegistry
from cds_service.settings import Settings
from tests.conftest import ConformantClient, hook_request

URL = "/cds-services/echo-patient-view"


def diagnostics(response: object) -> str:
    body = response.json()  # type: ignore[attr-defined]
    OperationOutcome.model_validate(body)  # a valid FHIR R4 OperationOutcome
    return " ".join(issue["diagnostics"] for issue in body["issue"])


def test_spec42_malformed_json_400(client: ConformantClient) -> None:
    response = client.post(URL, content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert "not valid JSON" in diagnostics(response)


@pytest.mark.parametrize("field", ["hook", "hookInstance", "context"])
def test_spec08_missing_required_field_400(client: ConformantClient, field: str) -> None:
    body = hook_request()
    del body[field]
    response = client.post(URL, json=body)
    assert response.status_code == 400
    assert field in diagnostics(response)


def test_spec41_context_missing_patient_id_400(client: ConformantClient) -> None:
    body = hook_request()
    del body["context"]["patientId"]
    response = client.post(URL, json=body)
    assert response.status_code == 400
    assert "context.patientId" in diagnostics(response)


def test_spec42_hook_not_served_by_service_400(client: ConformantClient) -> None:
    response = client.post(URL, json=hook_request("order-sign"))
    assert response.status_code == 400
    assert "'order-sign' is not served" in diagnostics(response)


def test_issue10_unserved_hook_is_not_echoed_whole(client: ConformantClient) -> None:
    response = client.post(URL, json=hook_request("x" * 1_000_000))
    assert response.status_code == 400
    assert "more characters" in diagnostics(response)
    assert len(response.content) < 2_000


def test_spec42_wrong_content_type_400(client: ConformantClient) -> None:
    body = json.dumps(hook_request()).encode()
    response = client.post(URL, content=body, headers={"content-type": "text/plain"})
    assert response.status_code == 400
    assert "application/json" in diagnostics(response)


def test_spec42_unknown_service_404(client: ConformantClient) -> None:
    response = client.post("/cds-services/no-such-service", json=hook_request())
    assert response.status_code == 404
    assert "no-such-service" in diagnostics(response)


def test_body_over_limit_413(registry: ServiceRegistry) -> None:
    app = create_app(Settings(dev=True, max_body_bytes=1024), registry)
    with ConformantClient(app) as client:
        body = hook_request(extension={"com.example.padding": "x" * 2048})
        response = client.post(URL, json=body)
        assert response.status_code == 413
        assert "1024 bytes" in diagnostics(response)


def test_body_over_limit_without_content_length_413(registry: ServiceRegistry) -> None:
    app = create_app(Settings(dev=True, max_body_bytes=1024), registry)

    def chunks():  # type: ignore[no-untyped-def]
        yield json.dumps(hook_request(extension={"com.x": "x" * 4096})).encode()

    with ConformantClient(app) as client:
        response = client.post(URL, content=chunks(), headers={"content-type": "application/json"})
        assert response.status_code == 413


def _raising_registry(error: Exception) -> ServiceRegistry:
    async def handler(call: HookCall) -> CdsResponse:
        raise error

    descriptor = ServiceDescriptor(id="failing", hook="patient-view", description="raises")
    return ServiceRegistry([RegisteredService(descriptor, handler)])


def test_spec15_required_data_unobtainable_412() -> None:
    error = PreconditionFailed.missing(["medicationRequests"], ["no fhirServer in the request"])
    app = create_app(Settings(dev=True), _raising_registry(error))
    with ConformantClient(app) as client:
        response = client.post("/cds-services/failing", json=hook_request())
    assert response.status_code == 412
    assert "medicationRequests" in diagnostics(response)
    assert response.json()["issue"][0]["expression"] == ["prefetch.medicationRequests"]


def test_spec42_unexpected_error_500_logged_without_trace_to_client(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = create_app(Settings(dev=True), _raising_registry(RuntimeError("boom at line 42")))
    with caplog.at_level(logging.ERROR), ConformantClient(app, raise_server_exceptions=False) as c:
        response = c.post("/cds-services/failing", json=hook_request())
    assert response.status_code == 500
    assert "boom" not in response.text
    assert "internal error" in diagnostics(response)
    assert any("unexpected error" in record.message for record in caplog.records)


def test_spec42_non_object_body_400(client: ConformantClient) -> None:
    response = client.post(URL, json=[])
    assert response.status_code == 400
    assert "body" in diagnostics(response)


def test_unknown_route_404_operation_outcome(client: ConformantClient) -> None:
    response = client.get("/nowhere")
    assert response.status_code == 404
    diagnostics(response)


def test_issue10_405_answers_carry_allow(client: ConformantClient) -> None:
    response = client.get("/cds-services/echo-patient-view")
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert response.json()["resourceType"] == "OperationOutcome"


def test_issue10_openapi_advertises_the_statuses_actually_sent(client: ConformantClient) -> None:
    spec = client.get("/openapi.json").json()
    statuses = {
        status
        for operations in spec["paths"].values()
        for operation in operations.values()
        for status in operation.get("responses", {})
    }
    assert "422" not in statuses
    assert {"400", "404", "413"} <= statuses
    assert "HTTPValidationError" not in json.dumps(spec)
