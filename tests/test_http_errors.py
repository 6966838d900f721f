"""The error table of the foundation issue, one test per row. Every error answer is an
OperationOutcome (checked for every response by the ConformantClient in conftest)."""

from __future__ import annotations

import http.client
import json
import logging
import socket
import time
from typing import Any

import pytest
from fhir.resources.R4B.operationoutcome import OperationOutcome

from cds_service.http.app import create_app
from cds_service.protocol import CdsResponse, PreconditionFailed, ServiceDescriptor
from cds_service.registry import HookCall, RegisteredService, ServiceRegistry
from cds_service.settings import Settings
from tests.conftest import ConformantClient, hook_request

URL = "/cds-services/echo-patient-view"
SERVED_URL = "/cds-services/aza-withdrawal-patient-view"


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


def _post_slowly(base: str, body: bytes, *, pause_after: int) -> tuple[int, dict[str, Any]]:
    """POST `body` over a plain socket, pausing after `pause_after` bytes as a client on a
    slow link would, so that a server that answers and closes early catches it mid-send."""
    host, port = base.removeprefix("http://").split(":")
    head = (
        f"POST {SERVED_URL} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head + body[:pause_after])
        time.sleep(0.5)
        sock.sendall(body[pause_after:])
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2])


def test_issue11_over_size_post_gets_its_413_over_a_real_socket(served: str) -> None:
    """A 6 MiB post (limit 5 MiB) from a client still sending when the limit is known: the
    service drains the rest of the body before it answers, so the client reads the 413 and
    its OperationOutcome instead of a connection reset in the middle of its upload."""
    body = b'{"padding": "' + b"x" * (6 * 1024 * 1024) + b'"}'
    status, outcome = _post_slowly(served, body, pause_after=1024 * 1024)
    assert status == 413
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "too-long"


def test_issue11_over_size_chunked_post_gets_its_413_over_a_real_socket(served: str) -> None:
    """The same without a Content-Length (chunked): the limit is found while reading."""
    host, port = served.removeprefix("http://").split(":")
    chunk = b"x" * (1024 * 1024)
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request(
            "POST",
            SERVED_URL,
            body=iter([b'{"padding": "', *[chunk] * 6, b'"}']),
            headers={"Content-Type": "application/json"},
            encode_chunked=True,
        )
        response = connection.getresponse()
        outcome = json.loads(response.read())
    finally:
        connection.close()
    assert response.status == 413
    assert outcome["issue"][0]["code"] == "too-long"
