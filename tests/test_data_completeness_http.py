"""Data the service could not obtain is never read as normal (decision-spec §3, issue 5):
criteria resting on failed or cut-short data are unknown, and the card says what is missing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from cds_service.completeness import WHOLE_HISTORY, incomplete_topics
from cds_service.prefetch import PREFETCH_TEMPLATES
from cds_service.prefetch.outcome import (
    Failure,
    KeyOutcome,
    KeySource,
    PrefetchResult,
    PrefetchState,
    Problem,
)
from fhir_mappings.topics import MEDICATIONS, Topic
from tests.conftest import TODAY, ConformantClient
from tests.fixtures.routine_labs import routine_labs
from tests.fixtures.worked_examples import worked_example
from tests.prefetch.fhir_server import Fault, FhirTestServer, ehr_prefetch
from tests.test_worked_examples_http import advice, call, context_of

EXAMPLE_1 = 1  # withdrawal-candidate when every datum is there


def statuses(card: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["status"] for c in advice(card)["criteria"]}


def test_spec13_failed_lab_fetch_never_yields_withdrawal(clinical: ConformantClient) -> None:
    example = worked_example(EXAMPLE_1, today=TODAY)
    with FhirTestServer(example.resources) as server:
        prefetch = ehr_prefetch(server, PREFETCH_TEMPLATES, context_of(example))
        for key in ("labs", "recentLabs"):
            del prefetch[key]
        server.fail("Observation", Fault.ERROR_500)
        [card] = call(clinical, example, server, prefetch)["cards"]
    assert advice(card)["recommendation"] == "insufficient-data"
    found = statuses(card)
    assert found["trough"] == found["antibodies"] == found["crp"] == "unknown"
    assert "Laboratory results could not be obtained from the FHIR server" in card["detail"]
    assert "HTTP 500" not in card["detail"]  # issue 11: no upstream text to the caller


def test_s3_failed_genetics_keeps_hla_not_required_and_says_so(clinical: ConformantClient) -> None:
    example = worked_example(EXAMPLE_1, today=TODAY)
    with FhirTestServer(example.resources) as server:
        prefetch = ehr_prefetch(server, PREFETCH_TEMPLATES, context_of(example))
        del prefetch["genetics"]
        server.fail("Observation", Fault.ERROR_500)
        [card] = call(clinical, example, server, prefetch)["cards"]
    assert advice(card)["recommendation"] == "withdrawal-candidate"
    assert statuses(card)["hla-dqa1-05"] == "met"  # §3: never unknown, testing not required
    assert "genetic" in card["detail"].lower()


def test_s3_cut_short_antibody_history_is_unknown_not_met(clinical: ConformantClient) -> None:
    """The page limit stops the search for lab results before an old positive antibody result
    could be seen; "no positive result ever" cannot be claimed, the latest results still can."""
    example = worked_example(EXAMPLE_1, today=TODAY)
    older = routine_labs(example.patient_id, 12, newest=TODAY - timedelta(days=200))
    with FhirTestServer([*example.resources, *older]) as server:
        prefetch = ehr_prefetch(server, PREFETCH_TEMPLATES, context_of(example))
        del prefetch["recentLabs"]
        server.page_size = 2
        [card] = call(clinical, example, server, prefetch)["cards"]
    found = statuses(card)
    assert found["antibodies"] == "unknown"
    assert found["trough"] == found["crp"] == found["platelets"] == "met"
    assert advice(card)["recommendation"] == "insufficient-data"


def _outcome(key: str, *, obtained: bool) -> KeyOutcome:
    template = PREFETCH_TEMPLATES[key]
    return KeyOutcome(
        key=key,
        source=KeySource.FETCHED if obtained else KeySource.FAILED,
        prefetch=PrefetchState.ABSENT,
        required=template.required,
        label=template.label,
        informs=template.informs,
        elapsed_ms=1.0,
        problem=Problem(Failure.PAGE_LIMIT if obtained else Failure.TIMEOUT, "x"),
    )


def test_failed_key_makes_all_its_topics_incomplete() -> None:
    result = PrefetchResult((), {"labs": _outcome("labs", obtained=False)}, (), 1.0)
    assert incomplete_topics(result) == PREFETCH_TEMPLATES["labs"].informs
    assert {Topic.INFLIXIMAB_LEVEL, Topic.CRP, Topic.PLATELETS} <= incomplete_topics(result)


def test_cut_short_sorted_key_leaves_only_whole_history_topics() -> None:
    result = PrefetchResult((), {"recentLabs": _outcome("recentLabs", obtained=True)}, (), 1.0)
    assert incomplete_topics(result) == frozenset({Topic.ANTIBODIES})
    labs = PrefetchResult((), {"labs": _outcome("labs", obtained=True)}, (), 1.0)
    assert incomplete_topics(labs) == frozenset()  # the latest results are all there
    assert {Topic.ANTIBODIES, Topic.HLA_DQA1_05, Topic.THIOPURINE_METABOLISM} == WHOLE_HISTORY


def test_cut_short_unsorted_key_is_wholly_incomplete() -> None:
    key = "medicationRequests"
    result = PrefetchResult((), {key: _outcome(key, obtained=True)}, (), 1.0)
    assert incomplete_topics(result) == {*MEDICATIONS, Topic.REMISSION}
