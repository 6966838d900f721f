"""The loopback FHIR server answers like a FHIR server, so the other tests can trust it."""

from __future__ import annotations

import httpx
import pytest

from tests.prefetch.fhir_server import FhirTestServer
from tests.prefetch.records import PATIENT_ID, observation, small_record

LOINC_CRP = "http://loinc.org|1988-5"


@pytest.fixture
def ehr(fhir_server: FhirTestServer) -> FhirTestServer:
    fhir_server.add(*small_record())
    return fhir_server


def search(server: FhirTestServer, query: str) -> list[str]:
    bundle = httpx.get(f"{server.base_url}/{query}").json()
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset"
    return [entry["resource"]["id"] for entry in bundle.get("entry", [])]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (f"Observation?patient={PATIENT_ID}&code={LOINC_CRP}", ["crp", "prelim"]),
        (f"Observation?subject=Patient/{PATIENT_ID}&code=1988-5&status=final", ["crp"]),
        (f"Observation?patient={PATIENT_ID}&code=http://other|1988-5", []),
        (
            f"Observation?patient={PATIENT_ID}&code={LOINC_CRP},http://loinc.org|39803-2"
            "&status=final&_sort=-date",
            ["crp", "trough"],
        ),
        (
            f"Observation?patient={PATIENT_ID}&code={LOINC_CRP},http://loinc.org|39803-2"
            "&status=final&_sort=date",
            ["trough", "crp"],
        ),
        (f"Observation?patient={PATIENT_ID}&category=survey", ["hbi"]),
        (
            f"Observation?patient={PATIENT_ID}&category=laboratory&_sort=-date&_count=2",
            ["crp", "ab-local"],
        ),
        (f"MedicationRequest?patient={PATIENT_ID}&status=active,stopped", ["ifx-rx"]),
        ("Observation?patient=nobody", []),
    ],
)
def test_searches(ehr: FhirTestServer, query: str, expected: list[str]) -> None:
    assert search(ehr, query) == expected


def test_post_search_answers_like_get(ehr: FhirTestServer) -> None:
    form = {"patient": PATIENT_ID, "category": "laboratory", "_sort": "-date"}
    posted = httpx.post(f"{ehr.base_url}/Observation/_search", data=form).json()

    assert [e["resource"]["id"] for e in posted["entry"]] == search(
        ehr, f"Observation?patient={PATIENT_ID}&category=laboratory&_sort=-date"
    )
    assert ehr.requests[0].method == "POST"


def test_read_and_unknown_read(ehr: FhirTestServer) -> None:
    assert httpx.get(f"{ehr.base_url}/Patient/{PATIENT_ID}").json()["id"] == PATIENT_ID
    missing = httpx.get(f"{ehr.base_url}/Patient/nobody")
    assert missing.status_code == 404
    assert missing.json()["resourceType"] == "OperationOutcome"


def test_unknown_search_parameter_is_refused(ehr: FhirTestServer) -> None:
    answer = httpx.get(f"{ehr.base_url}/Observation?patient={PATIENT_ID}&code:below=1988")
    assert answer.status_code == 400


def test_pages_carry_next_links_until_the_last(fhir_server: FhirTestServer) -> None:
    fhir_server.add(*(observation(f"o{i}", "1988-5") for i in range(5)))
    fhir_server.page_size = 2
    url: str | None = f"{fhir_server.base_url}/Observation?code=1988-5"
    seen: list[str] = []
    while url is not None:
        bundle = httpx.get(url).json()
        seen += [entry["resource"]["id"] for entry in bundle["entry"]]
        url = next(
            (link["url"] for link in bundle.get("link", []) if link["relation"] == "next"), None
        )
    assert seen == [f"o{i}" for i in range(5)]
    assert len(fhir_server.requests) == 3


def test_records_authorization_and_accept(ehr: FhirTestServer) -> None:
    httpx.get(
        f"{ehr.base_url}/Patient/{PATIENT_ID}",
        headers={"Authorization": "Bearer t", "Accept": "application/fhir+json"},
    )
    (request,) = ehr.requests
    assert (request.authorization, request.accept) == ("Bearer t", "application/fhir+json")
    assert request.resource_type == "Patient"
