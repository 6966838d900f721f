"""Paginated answers (SPEC-14): next links followed on the fhirServer's origin, up to a limit."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from cds_service.prefetch import (
    PREFETCH_TEMPLATES,
    Failure,
    FetchSettings,
    KeySource,
    render_template,
    resolve_prefetch,
    with_site_lab_codes,
)
from fhir_mappings.topics import Topic
from tests.prefetch.fhir_server import Fault, FhirTestServer, resource_identities
from tests.prefetch.records import CONTEXT, TOKEN, observation

pytestmark = pytest.mark.anyio

LABS = {"labs": PREFETCH_TEMPLATES["labs"]}
CRP_RESULTS = [
    observation(f"crp-{day:02d}", "1988-5", date=f"2026-10-{day:02d}")
    for day in (3, 9, 1, 7, 5, 2, 8)
]


def settings(max_pages: int = 5) -> FetchSettings:
    return FetchSettings(
        require_https=False, deadline_ms=5000, request_timeout_ms=2000, max_pages=max_pages
    )


async def resolve_labs(server_url: str | None, prefetch: dict[str, Any] | None, max_pages: int = 5):
    return await resolve_prefetch(
        templates=LABS,
        context=CONTEXT,
        prefetch=prefetch,
        fhir_server=server_url,
        access_token=TOKEN,
        settings=settings(max_pages),
    )


@pytest.fixture
def paged(fhir_server: FhirTestServer) -> FhirTestServer:
    fhir_server.add(*CRP_RESULTS)
    fhir_server.page_size = 2
    return fhir_server


def first_page(server: FhirTestServer) -> dict[str, Any]:
    """The first page as an EHR would prefetch it: a Bundle with a next link."""
    query = render_template(PREFETCH_TEMPLATES["labs"].template, CONTEXT)
    assert isinstance(query, str)
    page = httpx.get(f"{server.base_url}/{query}").json()
    server.requests.clear()
    assert [link["relation"] for link in page["link"]] == ["next"]
    return page


async def test_spec14_follows_next_links_up_to_limit(paged: FhirTestServer) -> None:
    result = await resolve_labs(paged.base_url, None, max_pages=3)

    labs = result.per_key["labs"]
    assert labs.source is KeySource.FETCHED and labs.pages == 3
    assert labs.problem is not None and labs.problem.kind is Failure.PAGE_LIMIT
    assert labs.problem.reason == "more than 3 pages; only the first 3 read"  # for the log
    assert labs.describe() == (
        "Laboratory results may be incomplete: some of it could not be obtained from the FHIR "
        "server"
    )
    # Sorted by -date, so what is kept is the most recent six.
    assert [r["id"] for r in result.resources] == [
        "crp-09",
        "crp-08",
        "crp-07",
        "crp-05",
        "crp-03",
        "crp-02",
    ]
    assert [r.params["_page"] for r in paged.requests[1:]] == [["2"], ["3"]]
    assert {r.authorization for r in paged.requests} == {f"Bearer {TOKEN}"}
    assert Topic.CRP in result.incomplete_topics()
    assert Topic.CRP not in result.unavailable_topics()


async def test_spec14_reads_every_page_within_the_limit(paged: FhirTestServer) -> None:
    result = await resolve_labs(paged.base_url, None)

    assert result.per_key["labs"].pages == 4
    assert result.per_key["labs"].problem is None
    assert len(result.resources) == len(CRP_RESULTS)


async def test_spec14_paginated_prefetch_is_completed_from_the_server(
    paged: FhirTestServer,
) -> None:
    result = await resolve_labs(paged.base_url, {"labs": first_page(paged)})

    labs = result.per_key["labs"]
    assert labs.source is KeySource.PREFETCH and labs.pages == 4 and labs.problem is None
    assert len(result.resources) == len(CRP_RESULTS)
    assert [r.params["_page"] for r in paged.requests] == [["2"], ["3"], ["4"]]


async def test_spec14_paginated_prefetch_without_fhir_server_keeps_the_first_page(
    paged: FhirTestServer,
) -> None:
    result = await resolve_labs(None, {"labs": first_page(paged)})

    labs = result.per_key["labs"]
    assert labs.source is KeySource.PREFETCH and labs.resource_count == 2
    assert labs.problem is not None and labs.problem.kind is Failure.NO_FHIR_SERVER
    assert labs.describe() == (
        "Laboratory results may be incomplete: next page not read: no fhirServer in the request"
    )


async def test_spec14_next_link_to_another_origin_is_not_followed(paged: FhirTestServer) -> None:
    with FhirTestServer(CRP_RESULTS) as elsewhere:
        paged.next_link_base = elsewhere.base_url

        result = await resolve_labs(paged.base_url, None)

        assert elsewhere.requests == []  # the token never left the fhirServer's origin
    labs = result.per_key["labs"]
    assert labs.resource_count == 2
    assert labs.problem is not None and labs.problem.kind is Failure.FOREIGN_NEXT_LINK


async def test_spec14_failing_later_page_keeps_the_earlier_ones(paged: FhirTestServer) -> None:
    paged.fail("Observation", Fault.ERROR_500, from_page=3)

    result = await resolve_labs(paged.base_url, None)

    labs = result.per_key["labs"]
    assert labs.source is KeySource.FETCHED and labs.resource_count == 4
    assert labs.problem is not None and labs.problem.http_status == 500
    assert labs.problem.reason.startswith("page 3 not read: HTTP 500")


async def test_window_keys_read_only_their_first_page(fhir_server: FhirTestServer) -> None:
    fhir_server.add(*CRP_RESULTS)
    fhir_server.page_size = 2

    result = await resolve_prefetch(
        templates={"recentLabs": PREFETCH_TEMPLATES["recentLabs"]},
        context=CONTEXT,
        prefetch=None,
        fhir_server=fhir_server.base_url,
        access_token=TOKEN,
        settings=settings(),
    )

    recent = result.per_key["recentLabs"]
    assert recent.pages == 1 and recent.resource_count == 2 and recent.problem is None
    assert len(fhir_server.requests) == 1


async def test_site_antibody_code_finds_results_older_than_the_recent_window(
    fhir_server: FhirTestServer,
) -> None:
    local = "http://lab.example.org/codes"
    old_positive = observation("ab-2023", "IFXAB", system=local, date="2023-05-01")
    recent = [observation(f"na-{i:03d}", "2951-2", date="2026-10-01") for i in range(100)]
    fhir_server.add(old_positive, *recent)
    keys = ("labs", "recentLabs")

    async def found(templates) -> bool:
        result = await resolve_prefetch(
            templates={key: templates[key] for key in keys},
            context=CONTEXT,
            prefetch=None,
            fhir_server=fhir_server.base_url,
            access_token=TOKEN,
            settings=settings(),
        )
        assert result.problems() == ()
        return ("Observation", "ab-2023") in resource_identities(result.resources)

    assert not await found(PREFETCH_TEMPLATES)  # the limitation, stated
    assert await found(with_site_lab_codes([f"{local}|IFXAB"]))
