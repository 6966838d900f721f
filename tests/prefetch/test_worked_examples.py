"""For every worked example of decision-spec §9, the data the rules receive does not depend on
how it arrived (SPEC-11): full prefetch, no prefetch (self-fetch) and mixed prefetch resolve to
the same resources. Card-level equality builds on this once the cards exist."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest

from cds_service.prefetch import (
    PREFETCH_TEMPLATES,
    FetchSettings,
    KeySource,
    PrefetchResult,
    resolve_prefetch,
)
from tests.fixtures.worked_examples import NUMBERS, WorkedExample, worked_example
from tests.prefetch.fhir_server import FhirTestServer, ehr_prefetch, resource_identities

pytestmark = pytest.mark.anyio

TODAY = date(2026, 11, 22)
TOKEN = "worked-example-token"
DEV = FetchSettings(require_https=False, deadline_ms=5000, request_timeout_ms=2000)


def context_of(example: WorkedExample) -> dict[str, Any]:
    context: dict[str, Any] = {"userId": "Practitioner/dr-1", "patientId": example.patient_id}
    if example.hook == "order-select":
        context["draftOrders"] = example.draft_orders_bundle()
        context["selections"] = example.selections
    return context


async def resolve(
    server: FhirTestServer,
    example: WorkedExample,
    prefetch: dict[str, Any] | None,
    client: httpx.AsyncClient,
) -> PrefetchResult:
    return await resolve_prefetch(
        context=context_of(example),
        prefetch=prefetch,
        fhir_server=server.base_url,
        access_token=TOKEN,
        client=client,
        settings=DEV,
    )


OPERATION_OUTCOME = {
    "resourceType": "OperationOutcome",
    "issue": [{"severity": "error", "code": "transient", "diagnostics": "EHR prefetch failed"}],
}


def mixed(full: dict[str, Any]) -> dict[str, Any]:
    """`null` for every key known to be empty; of the others, in turn: present, absent, or an
    OperationOutcome (the EHR's prefetch query failed)."""
    prefetch: dict[str, Any] = {}
    with_data = [k for k, v in full.items() if v["resourceType"] != "Bundle" or v.get("entry")]
    for key, value in full.items():
        if key not in with_data:
            prefetch[key] = None
        elif with_data.index(key) % 3 == 0:
            prefetch[key] = value
        elif with_data.index(key) % 3 == 2:
            prefetch[key] = OPERATION_OUTCOME
    return prefetch


@pytest.fixture(params=NUMBERS, ids=lambda number: f"example-{number:02d}")
def example(request: pytest.FixtureRequest) -> WorkedExample:
    return worked_example(request.param, today=TODAY)


@pytest.fixture
def ehr(fhir_server: FhirTestServer, example: WorkedExample) -> FhirTestServer:
    fhir_server.add(*example.resources)
    return fhir_server


async def test_spec11_prefetch_fallback_and_mixed_resolve_the_same_resources(
    ehr: FhirTestServer, example: WorkedExample, http_client: httpx.AsyncClient
) -> None:
    full = ehr_prefetch(ehr, PREFETCH_TEMPLATES, context_of(example))
    partial = mixed(full)
    assert None in partial.values() and OPERATION_OUTCOME in partial.values()
    assert any(v not in (None, OPERATION_OUTCOME) for v in partial.values())
    assert set(partial) < set(full)

    from_prefetch = await resolve(ehr, example, full, http_client)
    assert ehr.requests == []
    from_fhir = await resolve(ehr, example, None, http_client)
    from_both = await resolve(ehr, example, partial, http_client)

    expected = resource_identities(from_prefetch.resources)
    assert resource_identities(from_fhir.resources) == expected
    assert resource_identities(from_both.resources) == expected
    for result in (from_prefetch, from_fhir, from_both):
        assert result.problems() == () and result.missing_required == ()
    fetched = {k for k, o in from_both.per_key.items() if o.source is KeySource.FETCHED}
    assert fetched == {k for k in full if k not in partial or partial[k] == OPERATION_OUTCOME}


async def test_templates_find_every_resource_of_the_example(
    ehr: FhirTestServer, example: WorkedExample, http_client: httpx.AsyncClient
) -> None:
    result = await resolve(ehr, example, None, http_client)

    assert set(resource_identities(result.resources)) == set(resource_identities(example.resources))
