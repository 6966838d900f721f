"""Issue 14: the prefetch's fast paths read every input as the general paths do."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from cds_service.prefetch.bundles import Page, read_answer
from cds_service.prefetch.outcome import Failure, Problem
from cds_service.prefetch.references import Gathered, unresolved_medication_ids
from cds_service.prefetch.templates import PREFETCH_TEMPLATES
from tests.conftest import ConformantClient, hook_request

LABS = PREFETCH_TEMPLATES["labs"]


class _Dict(dict[str, Any]):
    """A dict subclass: not the JSON decoder's type, so it takes the general path."""


def _bundle(*entries: Any) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": list(entries)}


def _observation(identifier: str) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": identifier}


def test_issue14_plain_bundle_reads_every_resource_in_order() -> None:
    first, second = _observation("a"), _observation("b")
    answer = read_answer(_bundle({"resource": first}, {"resource": second}), LABS)
    assert answer == Page((first, second))
    assert answer.resources[0] is first


def test_issue14_entries_off_the_fast_path_are_read_the_general_way() -> None:
    kept = _observation("a")
    warning = {"resourceType": "OperationOutcome", "issue": [{"severity": "warning"}]}
    subclassed = _Dict(resourceType="Observation", id="s")
    answer = read_answer(
        _bundle(
            {"resource": kept},
            "not an entry",
            {"fullUrl": "no resource"},
            {"resource": {"resourceType": 7}},
            _Dict(resource=subclassed),
            {"resource": warning, "search": {"mode": "outcome"}},
        ),
        LABS,
    )
    assert answer == Page((kept, subclassed))


def test_issue14_an_error_outcome_entry_still_fails_the_key() -> None:
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "diagnostics": "boom"}],
    }
    answer = read_answer(_bundle({"resource": _observation("a")}, {"resource": outcome}), LABS)
    assert answer == Problem(Failure.OPERATION_OUTCOME, "OperationOutcome: error")


_ANY_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=12)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=2), st.dictionaries(st.text(max_size=6), inner, max_size=2)
    ),
    max_leaves=4,
)
_CODED = re.compile(r"OperationOutcome: ([a-z-]+( [a-z-]+)?(; [a-z-]+( [a-z-]+)?)*|no coded issue)")


@given(
    severity=st.one_of(st.sampled_from(["error", "fatal", "warning"]), _ANY_JSON),
    code=st.one_of(st.sampled_from(["not-found", "processing"]), _ANY_JSON),
    words=_ANY_JSON,
)
def test_issue14_an_outcome_is_named_by_fhir_codes_only_whatever_it_holds(
    severity: Any, code: Any, words: Any
) -> None:
    """Any JSON in an outcome entry's issue is read without failing (a list as severity was a
    500: unhashable), and only codes of FHIR's IssueSeverity and IssueType are named: no
    server words, which may name a patient, reach the audit log."""
    issue = {"severity": severity, "code": code, "diagnostics": words, "details": words}
    outcome = {"resourceType": "OperationOutcome", "issue": [issue]}
    answer = read_answer(_bundle({"resource": outcome}), LABS)
    assert isinstance(answer, Problem) and answer.kind is Failure.OPERATION_OUTCOME
    assert _CODED.fullmatch(answer.reason), answer.reason
    named = answer.reason.removeprefix("OperationOutcome: ").replace(";", " ").split()
    assert set(named) <= {
        "error",
        "fatal",
        "warning",
        "not-found",
        "processing",
        "no",
        "coded",
        "issue",
    }


def test_issue14_an_unexpected_resource_type_is_named_only_if_it_is_one_of_ours() -> None:
    """The reason reaches the audit log: a server-chosen resourceType is not repeated."""
    for sent, named in (("Patient", "Patient"), ("Smith, John 5551234", "another resource type")):
        answer = read_answer({"resourceType": sent}, LABS)
        assert answer == Problem(Failure.UNREADABLE, f"unreadable: expected Bundle, got {named}")


def test_issue14_prefetched_outcome_entry_with_a_list_severity_is_answered(
    clinical: ConformantClient,
) -> None:
    """End to end: was a 500 (TypeError: unhashable type: 'list')."""
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": ["error"]}]}
    prefetch = {
        "labs": _bundle({"resource": _observation("a")}, {"resource": outcome}),
        "medicationRequests": _bundle(),
        "medicationStatements": _bundle(),
    }
    response = clinical.post(
        "/cds-services/aza-withdrawal-patient-view", json=hook_request(prefetch=prefetch)
    )
    assert response.status_code == 200, response.text


def _request(identifier: str, reference: str) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": identifier,
        "medicationReference": {"reference": reference},
    }


def test_issue14_gathered_keeps_first_occurrences_and_every_reference() -> None:
    """A dropped duplicate's reference is still read, as when the references were found in a
    walk of their own; resources without a string id are all kept."""
    first = _request("r", "Medication/1")
    duplicate = _request("r", "Medication/2")
    no_id = {"resourceType": "Observation"}
    numeric_id = {"resourceType": "Observation", "id": 5}
    gathered = Gathered("https://ehr.example.org/fhir/")
    gathered.add([first, no_id, numeric_id])
    gathered.add([duplicate, dict(no_id), {"resourceType": "Medication", "id": "1"}])
    assert gathered.kept == [
        first,
        no_id,
        numeric_id,
        no_id,
        {"resourceType": "Medication", "id": "1"},
    ]
    assert gathered.unresolved_medication_ids() == ["2"]
    everything = [first, no_id, numeric_id, duplicate, {"resourceType": "Medication", "id": "1"}]
    assert unresolved_medication_ids(everything, "https://ehr.example.org/fhir") == ["2"]


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)


@given(identifier=_JSON_VALUES)
def test_issue14_medication_with_any_json_id_is_kept_never_a_crash(identifier: Any) -> None:
    """A Medication's `id` may be any JSON (a list made this a 500): it is kept for the
    mappings to judge, and only a string id can answer a record's reference."""
    medication = {"resourceType": "Medication", "id": identifier}
    gathered = Gathered(None)
    gathered.add([_request("r", "Medication/1"), medication])
    assert gathered.kept[-1] is medication
    expected = [] if identifier == "1" and isinstance(identifier, str) else ["1"]
    assert gathered.unresolved_medication_ids() == expected


def test_issue14_prefetched_medication_with_a_list_id_is_answered(
    clinical: ConformantClient,
) -> None:
    """End to end: the request is answered (the ConformantClient checks it), not a 500; the
    record whose Medication is unreadable shows no combination therapy, so no card."""
    prefetch = {
        "medicationRequests": _bundle(
            {"resource": _request("r", "Medication/1") | {"subject": {"reference": "Patient/p1"}}},
            {"resource": {"resourceType": "Medication", "id": ["1"]}},
        ),
        "medicationStatements": _bundle(),
        "medicationAdministrations": _bundle(),
    }
    response = clinical.post(
        "/cds-services/aza-withdrawal-patient-view", json=hook_request(prefetch=prefetch)
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"cards": []}  # no readable combination therapy: out of scope
