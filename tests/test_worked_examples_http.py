"""Every worked example of decision-spec §9 as an EHR would send it, through the real app:
FHIR fixtures on a loopback FHIR server, prefetch rendered from the advertised templates.

The same example must give the same cards whether the EHR prefetched everything (prefetch
mode), nothing (fallback: the service queries the FHIR server), or a mix of present, absent and
`null` keys (issue 5).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from cds_service.prefetch import PREFETCH_TEMPLATES
from cds_service.settings import Settings
from tests.conftest import TODAY, ConformantClient, clinical_client
from tests.fixtures.worked_examples import NUMBERS, WorkedExample, worked_example
from tests.prefetch.fhir_server import FhirTestServer, ehr_prefetch

SERVICE_FOR_HOOK = {
    "patient-view": "aza-withdrawal-patient-view",
    "order-select": "aza-withdrawal-order-select",
    "order-sign": "aza-withdrawal-order-sign",
}
PATHWAY_A = {"withdrawal-candidate", "continue-combination", "insufficient-data"}
INDICATOR = {  # decision-spec §8
    "withdrawal-candidate": "info",
    "continue-combination": "info",
    "monitor-after-withdrawal": "info",
    "unsupported-indication": "info",
    "consider-combination": "info",
    "insufficient-data": "warning",
    "check-tpmt": "warning",
    "reintroduce-immunomodulator": "warning",
}


def context_of(example: WorkedExample) -> dict[str, Any]:
    context: dict[str, Any] = {"userId": "Practitioner/dr-1", "patientId": example.patient_id}
    if example.hook in ("order-select", "order-sign"):
        context["draftOrders"] = example.draft_orders_bundle()
    if example.hook == "order-select":
        context["selections"] = example.selections
    return context


def call(
    client: ConformantClient,
    example: WorkedExample,
    server: FhirTestServer,
    prefetch: dict[str, Any] | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": example.hook,
        "hookInstance": f"00000000-0000-4000-8000-{example.number:012d}",
        "fhirServer": server.base_url,
        "context": context_of(example),
    }
    if prefetch is not None:
        body["prefetch"] = prefetch
    response = client.post(f"/cds-services/{SERVICE_FOR_HOOK[example.hook]}", json=body)
    assert response.status_code == 200, response.text
    cards: dict[str, Any] = response.json()
    return cards


def comparable(response: dict[str, Any]) -> list[dict[str, Any]]:
    """The cards without their per-response UUIDs."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k != "uuid"}
        if isinstance(value, list):
            return [strip(item) for item in value]
        return value

    return [strip(card) for card in response["cards"]]


def advice(card: dict[str, Any]) -> dict[str, Any]:
    extension: dict[str, Any] = card["extension"]["aza-advisor"]
    return extension


def ids_with(card: dict[str, Any], status: str) -> set[str]:
    return {c["id"] for c in advice(card).get("criteria", []) if c["status"] == status}


def assert_expected_card(example: WorkedExample, response: dict[str, Any]) -> None:
    if example.expected is None:
        assert response == {"cards": []}
        return
    [card] = response["cards"]
    assert advice(card)["recommendation"] == example.expected
    assert card["indicator"] == INDICATOR[example.expected]
    assert "seed-2026" in card["source"]["label"]
    if example.expected == "continue-combination":
        assert ids_with(card, "not-met") == set(example.expected_criteria)
    if example.expected == "insufficient-data":
        assert ids_with(card, "unknown") == set(example.expected_criteria)
        assert ids_with(card, "not-met") == set()
    if example.expected == "withdrawal-candidate":
        assert ids_with(card, "not-met") | ids_with(card, "unknown") == set()
    if example.expected in PATHWAY_A:  # every criterion cites its FHIR resource
        # Issue 12: in the machine-readable extension; the visible text carries no FHIR id.
        cited = {c.get("reference") for c in advice(card)["criteria"]} | set(
            advice(card).get("records", [])
        )
        for role in ("trough", "crp", "platelets"):
            if role in example.refs:
                assert example.refs[role] in cited, role
                assert example.refs[role] not in card["detail"], role


@pytest.mark.parametrize("number", NUMBERS)
def test_s9_worked_example_prefetch_mode(clinical: ConformantClient, number: int) -> None:
    example = worked_example(number, today=TODAY)
    with FhirTestServer(example.resources) as server:
        prefetch = ehr_prefetch(server, PREFETCH_TEMPLATES, context_of(example))
        response = call(clinical, example, server, prefetch)
        assert server.requests == []  # everything was prefetched: no query was needed
    assert_expected_card(example, response)


@pytest.mark.parametrize("number", NUMBERS)
def test_s9_spec11_fallback_equals_prefetch(unhurried: ConformantClient, number: int) -> None:
    example = worked_example(number, today=TODAY)
    with FhirTestServer(example.resources) as server:
        prefetched = call(
            unhurried,
            example,
            server,
            ehr_prefetch(server, PREFETCH_TEMPLATES, context_of(example)),
        )
        fetched = call(unhurried, example, server, None)
        assert server.requests  # the service did query the FHIR server itself
    assert comparable(fetched) == comparable(prefetched)
    assert_expected_card(example, fetched)


@pytest.mark.parametrize("number", NUMBERS)
def test_s9_spec12_mixed_mode_equals_prefetch(unhurried: ConformantClient, number: int) -> None:
    """Alternate keys are left out (fetched by the service); keys whose search is empty are
    sent as `null` (known empty, never queried)."""
    example = worked_example(number, today=TODAY)
    with FhirTestServer(example.resources) as server:
        full = ehr_prefetch(server, PREFETCH_TEMPLATES, context_of(example))
        prefetched = call(unhurried, example, server, full)
        mixed: dict[str, Any] = {}
        for index, (key, value) in enumerate(full.items()):
            if value.get("resourceType") == "Bundle" and not value.get("entry"):
                mixed[key] = None
            elif index % 2 == 0:
                mixed[key] = value
        response = call(unhurried, example, server, mixed)
        queried = {request.resource_type for request in server.requests}
    absent = set(full) - set(mixed)
    assert queried == {PREFETCH_TEMPLATES[key].resource_type for key in absent}
    assert comparable(response) == comparable(prefetched)


def test_issue10_fhir_server_refusing_a_raw_bar_still_gives_the_card(
    unhurried: ConformantClient,
) -> None:
    """Tomcat (under many HAPI servers) answers 400 to `code=http://loinc.org|1988-5`."""
    example = worked_example(1, today=TODAY)
    with FhirTestServer(example.resources) as server:
        server.refuse_raw_bar = True
        fetched = call(unhurried, example, server, None)
        assert server.requests and all(r.path.startswith("/fhir/") for r in server.requests)
    assert_expected_card(example, fetched)


# --- issue 12: concise cards by default, the long form on request ------------------------


@pytest.fixture(scope="module")
def verbose(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConformantClient]:
    yield from clinical_client(tmp_path_factory, verbose_cards=True)


def test_issue12_verbose_cards_setting_keeps_the_long_form(
    clinical: ConformantClient, verbose: ConformantClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = worked_example(1, today=TODAY)
    with FhirTestServer(example.resources) as server:
        prefetch = ehr_prefetch(server, PREFETCH_TEMPLATES, context_of(example))
        [short] = call(clinical, example, server, prefetch)["cards"]
        [long] = call(verbose, example, server, prefetch)["cards"]
    assert example.refs["trough"] not in short["detail"]
    assert example.refs["trough"] in long["detail"]  # one line per criterion with its record
    assert long["detail"].count("- met · ") == 7 and len(long["links"]) == 6
    assert advice(short) == advice(long)  # the same decision and provenance
    monkeypatch.setenv("AZA_VERBOSE_CARDS", "true")
    assert Settings().verbose_cards is True
    monkeypatch.delenv("AZA_VERBOSE_CARDS")
    assert Settings().verbose_cards is False


def test_issue12_source_label_is_no_dead_link_without_a_source_url(
    clinical: ConformantClient,
) -> None:
    """CDS Hooks 2.0 source.url is optional: without AZA_SOURCE_URL there is no link at all."""
    example = worked_example(1, today=TODAY)
    with FhirTestServer(example.resources) as server:
        [card] = call(clinical, example, server, None)["cards"]
    assert card["source"] == {"label": "aza-advisor · policy seed-2026 v2026.2"}
