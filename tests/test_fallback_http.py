"""Prefetch fallback through the real app (issue 5, SPEC-10/11/13/15): what reaches the EHR when
the FHIR server is missing, failing or hanging, and where the access token goes (and not)."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from cds_service.prefetch import PREFETCH_TEMPLATES
from tests.conftest import TODAY, ConformantClient
from tests.fixtures.worked_examples import worked_example
from tests.prefetch.fhir_server import Fault, FhirTestServer, ehr_prefetch
from tests.test_worked_examples_http import SERVICE_FOR_HOOK, advice, context_of

TOKEN = "opaque-access-token-7f3c9e"
EXAMPLE = worked_example(1, today=TODAY)  # withdrawal-candidate when all data is there
URL = f"/cds-services/{SERVICE_FOR_HOOK['patient-view']}"


def body(fhir_server: str | None, prefetch: dict[str, Any] | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {
        "hook": "patient-view",
        "hookInstance": "5b8c7d2e-1f0a-4c3b-9d8e-7a6b5c4d3e2f",
        "context": context_of(EXAMPLE),
    }
    if fhir_server is not None:
        request["fhirServer"] = fhir_server
        request["fhirAuthorization"] = {
            "access_token": TOKEN,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "aza-advisor",
        }
    if prefetch is not None:
        request["prefetch"] = prefetch
    return request


def test_spec15_no_prefetch_and_no_fhir_server_412(clinical: ConformantClient) -> None:
    response = clinical.post(URL, json=body(None))
    assert response.status_code == 412
    outcome = response.json()
    text = outcome["issue"][0]["diagnostics"]
    assert "medicationStatements" in text and "medicationRequests" in text


def test_spec15_medication_data_unobtainable_412(clinical: ConformantClient) -> None:
    with FhirTestServer(EXAMPLE.resources) as server:
        server.fail("MedicationRequest", Fault.ERROR_500)
        response = clinical.post(URL, json=body(server.base_url))
    assert response.status_code == 412
    assert "medicationRequests" in response.json()["issue"][0]["diagnostics"]
    diagnostics = response.json()["issue"][0]["diagnostics"]
    assert "Medication orders could not be obtained from the FHIR server" in diagnostics
    assert "HTTP 500" not in diagnostics and "internal error" not in diagnostics  # issue 11


def test_spec13_operation_outcome_in_prefetch_is_fetched_not_read_as_empty(
    clinical: ConformantClient,
) -> None:
    with FhirTestServer(EXAMPLE.resources) as server:
        prefetch = ehr_prefetch(server, PREFETCH_TEMPLATES, context_of(EXAMPLE))
        prefetch["labs"] = {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "timeout", "diagnostics": "EHR timeout"}],
        }
        response = clinical.post(URL, json=body(server.base_url, prefetch))
        fetched = [r for r in server.requests if r.resource_type == "Observation"]
    assert response.status_code == 200
    assert fetched, "the labs key must be fetched from the FHIR server"
    [card] = response.json()["cards"]
    assert advice(card)["recommendation"] == "withdrawal-candidate"


def test_spec40_hanging_fhir_server_answered_within_deadline(clinical: ConformantClient) -> None:
    """Deadline 400 ms: the card arrives well before the server would, with the lab data
    unknown and named. The shared FHIR client is not left wedged: a second call right after is
    answered within the deadline too (tests/prefetch/test_deadline.py proves that no fetch task
    outlives the call)."""
    with FhirTestServer(EXAMPLE.resources) as server:
        prefetch = ehr_prefetch(server, PREFETCH_TEMPLATES, context_of(EXAMPLE))
        for key in ("labs", "recentLabs", "genetics", "activityScores"):
            del prefetch[key]
        server.fail("Observation", Fault.HANG)
        for _ in range(2):
            started = time.perf_counter()
            response = clinical.post(URL, json=body(server.base_url, prefetch))
            assert time.perf_counter() - started < 0.4 + 1.0
            assert response.status_code == 200
            [card] = response.json()["cards"]
            assert advice(card)["recommendation"] == "insufficient-data"
            assert "could not be obtained from the FHIR server" in card["detail"]


def test_spec10_token_sent_to_fhir_server_only_and_never_logged(
    clinical: ConformantClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG), FhirTestServer(EXAMPLE.resources) as server:
        server.fail("Observation", Fault.ERROR_500)
        response = clinical.post(URL, json=body(server.base_url))
        authorizations = {request.authorization for request in server.requests}
    assert response.status_code == 200
    assert authorizations == {f"Bearer {TOKEN}"}
    assert TOKEN not in caplog.text
    assert all(TOKEN not in str(record.__dict__) for record in caplog.records)
    assert TOKEN not in response.text
