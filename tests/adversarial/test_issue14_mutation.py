"""Issue 14 review: the fast paths read exact JSON types and skip the general readers, so a value
of an unexpected type anywhere in a real record must still end in an answer, never a 500 (a
prefetched Medication whose id was a list did, see tests/prefetch/test_issue14_fast_paths.py).

Starting from the benchmarks' 59-resource record, which meets every criterion (a withdrawal card
on patient-view, and with the thiopurine draft removed at order-sign), hypothesis replaces or
deletes up to three values anywhere in the request (any JSON: null, numbers past 64 bits, empty
and blank strings, references, lists, objects with FHIR's own keys) and posts it to the served
app. The answer is a 200 with conformant cards (ConformantClient checks), a 400 or a 412, each
with an OperationOutcome; the app is run with server exceptions raised, so a 500's traceback is
the failure.

The mappings' own answer to the same mutations is checked apart: `build_facts` turns an
exception inside a reader into "unreadable X (SomeError)" for that one entry (safe: unknown,
never met), so a reader bug would show on cards, not as a 500. Every unusable record must
instead carry a reason of the readers' own.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.records import TODAY, hook_request
from cds_service.http.app import create_app
from cds_service.services import clinical_registry
from cds_service.settings import Settings
from fhir_mappings import build_facts
from tests.conftest import ConformantClient
from tests.fhir_mappings.test_properties import assert_read_without_safety_net, json_paths
from tests.test_order_entry_http import draft_azathioprine

_Path = tuple[str | int, ...]


def _patient_view() -> dict[str, Any]:
    return hook_request(59, ignore_count=False)


def _order_sign() -> dict[str, Any]:
    body = _patient_view()
    body["hook"] = "order-sign"
    draft = draft_azathioprine(body["context"]["patientId"])
    body["context"]["draftOrders"] = {"resourceType": "Bundle", "entry": [{"resource": draft}]}
    return body


def _with_outcome_entry() -> dict[str, Any]:
    """A warning about the search among the labs, as servers add them (search mode outcome)."""
    body = _patient_view()
    warning = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "warning", "code": "too-costly", "diagnostics": "truncated"}],
    }
    body["prefetch"]["labs"]["entry"].append({"resource": warning, "search": {"mode": "outcome"}})
    return body


@dataclass(frozen=True)
class Case:
    service: str
    body: dict[str, Any]
    paths: list[_Path]  # where the edits go


def _case(service: str, body: dict[str, Any], within: Callable[[_Path], bool]) -> Case:
    return Case(
        service, body, [path for path in json_paths(body) if len(path) >= 2 and within(path)]
    )


_OUTCOME_AT = len(_patient_view()["prefetch"]["labs"]["entry"])  # the appended entry
_ORDER_SIGN_FOCUS = ("context", "medicationRequests", "medicationStatements", "patient")
CASES = {
    "patient-view": _case("aza-withdrawal-patient-view", _patient_view(), lambda _: True),
    "order-sign": _case(
        "aza-withdrawal-order-sign",
        _order_sign(),
        lambda path: any(key in path[:2] for key in _ORDER_SIGN_FOCUS),
    ),
    # The reader of outcome entries is rarely reached by edits spread over the whole record.
    "outcome entry": _case(
        "aza-withdrawal-patient-view",
        _with_outcome_entry(),
        lambda path: path[:4] == ("prefetch", "labs", "entry", _OUTCOME_AT) and len(path) > 4,
    ),
}

LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.sampled_from(
        ["", " ", "final", "Patient/other", "2026", "2026-11", "#med", "Medication/x", "mg/L"]
    ),
)
FHIR_KEYS = st.sampled_from(
    ["reference", "system", "code", "value", "start", "coding", "id", "resourceType", "status"]
)
JSON = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(FHIR_KEYS, inner, max_size=3)
    ),
    max_leaves=8,
)
EDITS = st.lists(st.tuples(st.integers(0, 10**6), JSON, st.booleans()), min_size=1, max_size=3)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConformantClient]:
    database = tmp_path_factory.mktemp("mutation") / "feedback.sqlite3"
    configured = Settings(dev=True, feedback_database=database, evaluation_date=TODAY)
    app = create_app(configured, clinical_registry(configured, today=lambda: TODAY))
    with ConformantClient(app) as client:
        yield client


def _edited(case: Case, edits: list[tuple[int, Any, bool]]) -> dict[str, Any]:
    body = copy.deepcopy(case.body)
    paths = case.paths
    for pick, value, delete in edits:
        *parents, last = paths[pick % len(paths)]
        target: Any = body
        try:
            for key in parents:
                target = target[key]
            if delete:
                del target[last]
            else:
                target[last] = value
        except (KeyError, IndexError, TypeError):
            pass  # an earlier edit replaced what led there
    return body


def test_issue14_the_unmutated_records_are_withdrawal_candidates(served: ConformantClient) -> None:
    for case in CASES.values():
        assert case.paths
        answer = served.post(f"/cds-services/{case.service}", json=case.body)
        assert answer.status_code == 200
        summaries = [card["summary"] for card in answer.json()["cards"]]
        assert any(summary.startswith("Thiopurine withdrawal can be") for summary in summaries)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(CASES)), EDITS)
def test_issue14_any_mutated_value_is_answered_never_a_500(
    served: ConformantClient, name: str, edits: list[tuple[int, Any, bool]]
) -> None:
    case = CASES[name]
    answer = served.post(f"/cds-services/{case.service}", json=_edited(case, edits))
    assert answer.status_code in (200, 400, 412), answer.text[:300]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EDITS)
def test_issue14_s10_no_reader_fails_on_a_mutated_value(edits: list[tuple[int, Any, bool]]) -> None:
    body = _edited(CASES["patient-view"], edits)
    patient = CASES["patient-view"].body["context"]["patientId"]
    # The prefetch's Bundles as they came: build_facts flattens them itself.
    prefetch = list(body["prefetch"].values())
    assert_read_without_safety_net(build_facts(prefetch, evaluated_on=TODAY, patient_id=patient))
