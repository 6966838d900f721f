"""Issue 10 item 1: one retry of a connection that failed before the server could have acted
(refused, reset, closed without an answer), when the deadline leaves time; never of an answer."""

from __future__ import annotations

import httpx
import pytest

from cds_service.prefetch import PREFETCH_TEMPLATES, FetchSettings, KeySource, resolve_prefetch
from tests.prefetch.fhir_server import Fault, FhirTestServer
from tests.prefetch.records import CONTEXT, TOKEN, small_record

pytestmark = pytest.mark.anyio


async def _patient_key(server: FhirTestServer, client: httpx.AsyncClient) -> KeySource:
    result = await resolve_prefetch(
        context=CONTEXT,
        prefetch=None,
        fhir_server=server.base_url,
        access_token=TOKEN,
        client=client,
        settings=FetchSettings(require_https=False),
        templates={"patient": PREFETCH_TEMPLATES["patient"]},
    )
    return result.per_key["patient"].source


@pytest.fixture
def ehr(fhir_server: FhirTestServer) -> FhirTestServer:
    fhir_server.add(*small_record())
    return fhir_server


@pytest.mark.parametrize("fault", [Fault.RESET, Fault.DROP])
async def test_issue10_a_reset_or_dropped_connection_is_retried_once(
    ehr: FhirTestServer, http_client: httpx.AsyncClient, fault: Fault
) -> None:
    ehr.fail("Patient", fault, times=1)
    assert await _patient_key(ehr, http_client) is KeySource.FETCHED
    assert len(ehr.requests_for("Patient")) == 2


async def test_issue10_only_once(ehr: FhirTestServer, http_client: httpx.AsyncClient) -> None:
    ehr.fail("Patient", Fault.RESET, times=2)
    assert await _patient_key(ehr, http_client) is KeySource.FAILED
    assert len(ehr.requests_for("Patient")) == 2


async def test_issue10_an_http_error_answer_is_not_retried(
    ehr: FhirTestServer, http_client: httpx.AsyncClient
) -> None:
    ehr.fail("Patient", Fault.ERROR_500, times=1)
    assert await _patient_key(ehr, http_client) is KeySource.FAILED
    assert len(ehr.requests_for("Patient")) == 1
