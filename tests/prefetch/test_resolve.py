"""Three-state resolution per key, and the self-fetch fallback against a live FHIR server."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

from cds_service.prefetch import (
    PREFETCH_TEMPLATES,
    Failure,
    FetchSettings,
    KeySource,
    PrefetchState,
    render_template,
    resolve_prefetch,
)
from fhir_mappings.topics import Topic
from tests.prefetch.fhir_server import Fault, FhirTestServer, ehr_prefetch, resource_identities
from tests.prefetch.records import (
    CONTEXT,
    TOKEN,
    identities_of_small_record,
    observation,
    small_record,
)

pytestmark = pytest.mark.anyio

DEV = FetchSettings(require_https=False, deadline_ms=5000, request_timeout_ms=2000)
REQUIRED = ("medicationStatements", "medicationRequests")


async def resolve(
    server: FhirTestServer | None,
    prefetch: dict[str, Any] | None,
    client: httpx.AsyncClient | None = None,
    settings: FetchSettings = DEV,
    **overrides: Any,
):
    arguments: dict[str, Any] = {
        "context": CONTEXT,
        "prefetch": prefetch,
        "fhir_server": server.base_url if server else None,
        "access_token": TOKEN,
        "client": client,
        "settings": settings,
    }
    arguments.update(overrides)
    return await resolve_prefetch(**arguments)


def rendered(key: str) -> str:
    query = render_template(PREFETCH_TEMPLATES[key].template, CONTEXT)
    assert isinstance(query, str)
    return query


@pytest.fixture
def ehr(fhir_server: FhirTestServer) -> FhirTestServer:
    fhir_server.add(*small_record())
    return fhir_server


async def test_spec11_no_prefetch_fetches_every_key_with_the_token(ehr: FhirTestServer) -> None:
    result = await resolve(ehr, None)

    assert {o.source for o in result.per_key.values()} == {KeySource.FETCHED}
    assert {o.prefetch for o in result.per_key.values()} == {PrefetchState.ABSENT}
    assert set(resource_identities(result.resources)) == identities_of_small_record()
    assert len(ehr.requests) == len(PREFETCH_TEMPLATES)
    assert {r.authorization for r in ehr.requests} == {f"Bearer {TOKEN}"}
    assert {r.accept for r in ehr.requests} == {"application/fhir+json"}
    assert result.missing_required == () and result.problems() == ()


async def test_open_fhir_server_is_queried_without_authorization(ehr: FhirTestServer) -> None:
    result = await resolve(ehr, None, access_token=None)

    assert result.problems() == ()
    assert {r.authorization for r in ehr.requests} == {None}


async def test_fetches_run_concurrently(ehr: FhirTestServer) -> None:
    ehr.rendezvous = threading.Barrier(len(PREFETCH_TEMPLATES), timeout=2)

    result = await resolve(ehr, None)

    assert {o.source for o in result.per_key.values()} == {KeySource.FETCHED}


async def test_connections_are_reused_across_requests_on_one_client(
    ehr: FhirTestServer, http_client: httpx.AsyncClient
) -> None:
    await resolve(ehr, None, client=http_client)
    first_ports = {r.client_port for r in ehr.requests}
    ehr.requests.clear()

    await resolve(ehr, None, client=http_client)

    assert {r.client_port for r in ehr.requests} <= first_ports  # kept-alive connections
    assert not http_client.is_closed  # the caller's client is left open


async def test_prefetch_mode_makes_no_query(ehr: FhirTestServer) -> None:
    prefetch = ehr_prefetch(ehr, PREFETCH_TEMPLATES, CONTEXT)

    result = await resolve(ehr, prefetch)

    assert ehr.requests == []
    assert {o.source for o in result.per_key.values()} == {KeySource.PREFETCH}
    assert set(resource_identities(result.resources)) == identities_of_small_record()


async def test_spec12_null_key_is_not_queried(ehr: FhirTestServer) -> None:
    prefetch = ehr_prefetch(ehr, PREFETCH_TEMPLATES, CONTEXT)
    prefetch["genetics"] = None
    del prefetch["labs"]

    result = await resolve(ehr, prefetch)

    assert result.per_key["genetics"].source is KeySource.NULL
    assert ehr.requests_for_query(rendered("genetics")) == []
    assert result.per_key["labs"].source is KeySource.FETCHED  # absent: fetched
    assert [r.path for r in ehr.requests] == ["/fhir/Observation"]


async def test_spec12_null_key_without_fhir_server_is_known_empty() -> None:
    prefetch = dict.fromkeys(PREFETCH_TEMPLATES)
    result = await resolve(None, prefetch)
    assert result.missing_required == () and result.problems() == ()
    assert result.resources == ()


async def test_spec12_empty_bundle_is_known_empty(ehr: FhirTestServer) -> None:
    prefetch = ehr_prefetch(ehr, PREFETCH_TEMPLATES, CONTEXT)
    prefetch["conditions"] = {"resourceType": "Bundle", "type": "searchset", "total": 0}

    result = await resolve(ehr, prefetch)

    assert ehr.requests == []
    assert result.per_key["conditions"].source is KeySource.PREFETCH
    assert result.per_key["conditions"].resource_count == 0


OPERATION_OUTCOME = {
    "resourceType": "OperationOutcome",
    "issue": [{"severity": "error", "code": "timeout", "diagnostics": "query timed out"}],
}


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(OPERATION_OUTCOME, id="top-level"),
        pytest.param(
            {
                "resourceType": "Bundle",
                "type": "searchset",
                "entry": [{"resource": OPERATION_OUTCOME, "search": {"mode": "outcome"}}],
            },
            id="outcome-entry",
        ),
        pytest.param(
            {
                "resourceType": "Bundle",
                "type": "searchset",
                "entry": [
                    {"resource": observation("x", "1988-5"), "search": {"mode": "match"}},
                    {"resource": OPERATION_OUTCOME, "search": {"mode": "outcome"}},
                ],
            },
            id="error-beside-data",
        ),
        pytest.param(
            {
                "resourceType": "Bundle",
                "type": "searchset",
                "entry": [
                    {
                        "resource": {
                            **OPERATION_OUTCOME,
                            "issue": [{"severity": "warning", "code": "x"}],
                        }
                    }
                ],
            },
            id="only-outcome-entries",
        ),
    ],
)
async def test_spec13_operationoutcome_in_prefetch_triggers_fetch(
    ehr: FhirTestServer, value: dict[str, Any]
) -> None:
    prefetch = ehr_prefetch(ehr, PREFETCH_TEMPLATES, CONTEXT)
    prefetch["labs"] = value

    result = await resolve(ehr, prefetch)

    outcome = result.per_key["labs"]
    assert outcome.prefetch is PrefetchState.OPERATION_OUTCOME
    assert outcome.source is KeySource.FETCHED
    assert len(ehr.requests_for_query(rendered("labs"))) == 1
    assert ("Observation", "crp") in resource_identities(result.resources)
    assert ("Observation", "x") not in resource_identities(result.resources)


async def test_spec13_warning_outcome_beside_a_search_is_not_an_error(ehr: FhirTestServer) -> None:
    prefetch = ehr_prefetch(ehr, PREFETCH_TEMPLATES, CONTEXT)
    warning = {"resourceType": "OperationOutcome", "issue": [{"severity": "warning", "code": "x"}]}
    prefetch["labs"] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": warning, "search": {"mode": "outcome"}}],
    }

    result = await resolve(ehr, prefetch)

    assert ehr.requests == []
    assert result.per_key["labs"].source is KeySource.PREFETCH
    assert result.per_key["labs"].resource_count == 0


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("patient", "123"),  # the 2.0.1 erratum shape
        ("patient", observation("wrong-type", "1988-5")),
        ("labs", [observation("a-list", "1988-5")]),
        ("labs", {"resourceType": "Bundle", "entry": "nonsense"}),
        ("labs", {"no": "resourceType"}),
        ("labs", observation("not-a-bundle", "1988-5")),
    ],
)
async def test_unreadable_prefetch_value_is_fetched(
    ehr: FhirTestServer, key: str, value: object
) -> None:
    prefetch = ehr_prefetch(ehr, PREFETCH_TEMPLATES, CONTEXT)
    prefetch[key] = value

    result = await resolve(ehr, prefetch)

    assert result.per_key[key].prefetch is PrefetchState.UNREADABLE
    assert result.per_key[key].source is KeySource.FETCHED
    assert len(ehr.requests_for_query(rendered(key))) == 1
    assert {i for _, i in resource_identities(result.resources)}.isdisjoint(
        {"wrong-type", "a-list", "not-a-bundle"}
    )


async def test_mixed_prefetch_uses_fetches_and_skips_per_key(ehr: FhirTestServer) -> None:
    prefetch = ehr_prefetch(ehr, PREFETCH_TEMPLATES, CONTEXT, ["patient", "labs", "conditions"])
    prefetch["activityScores"] = None

    result = await resolve(ehr, prefetch)

    sources = {key: o.source for key, o in result.per_key.items()}
    assert sources["patient"] is sources["labs"] is sources["conditions"] is KeySource.PREFETCH
    assert sources["activityScores"] is KeySource.NULL
    fetched = {key for key, source in sources.items() if source is KeySource.FETCHED}
    assert fetched == set(PREFETCH_TEMPLATES) - {"patient", "labs", "conditions", "activityScores"}
    assert len(ehr.requests) == len(fetched)


async def test_resources_are_deduplicated_across_keys(ehr: FhirTestServer) -> None:
    result = await resolve(ehr, None)
    identities = resource_identities(result.resources)
    # CRP and trough are found by both `labs` (by code) and `recentLabs` (by category).
    assert result.per_key["labs"].resource_count == 3  # crp, trough and the preliminary CRP
    assert result.per_key["recentLabs"].resource_count == 5
    assert identities[("Observation", "crp")] == identities[("Observation", "trough")] == 1


@pytest.mark.parametrize(
    ("fault", "kind", "reason"),
    [
        (Fault.ERROR_500, Failure.HTTP_STATUS, "HTTP 500 (OperationOutcome: error exception)"),
        (Fault.UNAUTHORIZED, Failure.HTTP_STATUS, "HTTP 401"),
        (Fault.OPERATION_OUTCOME, Failure.OPERATION_OUTCOME, "OperationOutcome: error processing"),
        (Fault.GARBAGE, Failure.UNREADABLE, "unreadable JSON"),
        (Fault.DEEP_JSON, Failure.UNREADABLE, "unreadable JSON"),
        (Fault.NAN_JSON, Failure.UNREADABLE, "unreadable JSON"),
    ],
)
async def test_failing_fetch_of_an_optional_key_makes_its_topics_unknown(
    ehr: FhirTestServer, fault: Fault, kind: Failure, reason: str
) -> None:
    ehr.fail("Observation", fault)

    result = await resolve(ehr, None)

    labs = result.per_key["labs"]
    assert labs.source is KeySource.FAILED
    assert labs.problem is not None and labs.problem.kind is kind
    assert labs.problem.reason.startswith(reason)
    assert result.missing_required == ()
    assert Topic.CRP in result.unavailable_topics()
    assert Topic.THIOPURINE not in result.unavailable_topics()
    assert "Laboratory results could not be obtained from the FHIR server" in (
        result.problem_descriptions()
    )
    assert not any(r["resourceType"] == "Observation" for r in result.resources)


async def test_wrong_token_is_a_401_failure_not_an_empty_list(ehr: FhirTestServer) -> None:
    ehr.required_token = "the-right-one"

    result = await resolve(ehr, None)

    assert set(result.missing_required) == set(REQUIRED)
    assert {o.problem.http_status for o in result.per_key.values() if o.problem} == {401}


async def test_connection_refused_is_a_failure(closed_port_url: str) -> None:
    result = await resolve(None, None, fhir_server=closed_port_url)

    assert {o.source for o in result.per_key.values()} == {KeySource.FAILED}
    assert {o.problem.kind for o in result.per_key.values() if o.problem} == {Failure.CONNECTION}
    assert set(result.missing_required) == set(REQUIRED)


async def test_spec15_missing_required_reported() -> None:
    result = await resolve(None, None)

    assert result.missing_required == REQUIRED
    assert {o.problem.kind for o in result.per_key.values() if o.problem} == {
        Failure.NO_FHIR_SERVER
    }
    assert result.per_key["medicationStatements"].describe() == (
        "Medication statements could not be fetched: no fhirServer in the request"
    )


async def test_spec15_required_key_failing_on_the_server_is_missing(ehr: FhirTestServer) -> None:
    prefetch = ehr_prefetch(ehr, PREFETCH_TEMPLATES, CONTEXT)
    prefetch["medicationRequests"] = OPERATION_OUTCOME
    ehr.fail("MedicationRequest", Fault.ERROR_500)

    result = await resolve(ehr, prefetch)

    assert result.missing_required == ("medicationRequests",)
    assert result.per_key["medicationRequests"].describe() == (
        "Medication orders could not be obtained from the FHIR server "
        "(the EHR's prefetch reported an error)"
    )


async def test_unreadable_prefetch_without_fhir_server_is_described() -> None:
    result = await resolve(None, {"medicationRequests": "123"})

    assert result.per_key["medicationRequests"].describe() == (
        "Medication orders could not be fetched: no fhirServer in the request "
        "(the EHR's prefetch was unreadable)"
    )


async def test_spec09_http_fhir_server_refused_in_production_mode(ehr: FhirTestServer) -> None:
    result = await resolve(ehr, None, settings=FetchSettings())

    assert ehr.requests == []
    assert {o.problem.kind for o in result.per_key.values() if o.problem} == {
        Failure.INSECURE_FHIR_SERVER
    }
    assert result.missing_required == REQUIRED


async def test_unfillable_template_is_skipped_not_sent(ehr: FhirTestServer) -> None:
    result = await resolve(ehr, None, context={"userId": "Practitioner/u-7"})

    assert ehr.requests == []
    assert {o.source for o in result.per_key.values()} == {KeySource.SKIPPED}
    assert result.missing_required == REQUIRED
    assert result.per_key["labs"].describe() == (
        "Laboratory results were not queried: cannot fill {{context.patientId}}"
    )
