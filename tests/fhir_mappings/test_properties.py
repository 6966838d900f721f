"""Properties that must hold for any input (issue 3): never raise, never let bad data through."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import date
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fhir_mappings import NORMALISED_UNITS, PatientFacts, build_facts
from tests.fhir_mappings.resources import ATC, LOCAL, LOINC, RXNORM, SNOMED, UCUM
from tests.fixtures.worked_examples import all_worked_examples

TODAY = date(2026, 11, 22)
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["", "final", "2026-01-01", "2026-01-01T10:00:00", "Patient/p1", "#m", "<"]),
    st.sampled_from(
        [
            10**400,
            1e308,
            "9999-12-31",
            "0001-01-01",
            "9999-12-31T23:59:59-14:00",
            "0001-01-01T00:00:00+14:00",
        ]
    ),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
RESOURCE_TYPES = [
    "Patient",
    "Observation",
    "Condition",
    "MedicationStatement",
    "MedicationRequest",
    "MedicationAdministration",
    "Medication",
    "Bundle",
    "OperationOutcome",
    "Basic",
]
KEYS = [
    "status",
    "code",
    "valueQuantity",
    "valueCodeableConcept",
    "valueString",
    "effectiveDateTime",
    "effectivePeriod",
    "issued",
    "interpretation",
    "referenceRange",
    "component",
    "subject",
    "medicationCodeableConcept",
    "medicationReference",
    "contained",
    "authoredOn",
    "dispenseRequest",
    "clinicalStatus",
    "verificationStatus",
    "abatementDateTime",
    "entry",
    "birthDate",
    "gender",
    "issue",
    "id",
    "resource",
    "fullUrl",
    "ingredient",
]
resources = st.fixed_dictionaries(
    {"resourceType": st.sampled_from(RESOURCE_TYPES)},
    optional={key: json_values for key in KEYS},
)
EXAMPLE_RESOURCES = [
    r for e in all_worked_examples(today=TODAY) for r in [*e.resources, *e.draft_orders]
]


def facts_of(items: Sequence[Any], drafts: Sequence[Any] = ()) -> PatientFacts:
    """Selections include a non-string on purpose: hook contexts are JSON too."""
    selections: list[Any] = ["x", 3]
    return build_facts(items, evaluated_on=TODAY, draft_orders=drafts, selections=selections)


@PROPERTY
@given(st.lists(st.one_of(json_values, resources), max_size=6), st.lists(resources, max_size=3))
def test_arbitrary_json_never_raises(items: list[Any], drafts: list[Any]) -> None:
    assert_read_without_safety_net(facts_of(items, drafts))


def assert_read_without_safety_net(facts: PatientFacts) -> None:
    """The per-entry guard in build.py is a last resort; readers must handle bad JSON themselves."""
    assert not [u for u in facts.unusable if u.reason.startswith("unreadable")]


def json_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key and index path below `value` (the root itself is not one)."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(json_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(json_paths(item, (*prefix, index)))
    return found


@st.composite
def malformed(draw: st.DrawFn) -> dict[str, Any]:
    """A realistic resource with one to three elements replaced by arbitrary JSON."""
    resource = copy.deepcopy(draw(st.sampled_from(EXAMPLE_RESOURCES)))
    for _ in range(draw(st.integers(1, 3))):
        paths = json_paths(resource)
        if not paths:
            break
        *parents, last = draw(st.sampled_from(paths))
        holder: Any = resource
        for step in parents:
            holder = holder[step]
        holder[last] = draw(json_values)
    return resource


@PROPERTY
@given(st.lists(malformed(), min_size=1, max_size=5))
def test_malformed_realistic_resources_never_raise(items: list[dict[str, Any]]) -> None:
    assert_read_without_safety_net(facts_of(items))


def _all_references(facts: PatientFacts) -> set[str]:
    found = {f.reference for group in facts.labs.values() for f in group}
    found |= {f.reference for f in (*facts.antibodies, *facts.hla_dqa1_05_carrier)}
    found |= {f.reference for f in (*facts.thiopurine_metabolism, *facts.diagnoses)}
    found |= {f.reference for f in facts.condition_states}
    found |= {f.reference for group in facts.activity_scores.values() for f in group}
    found |= {ref for e in facts.exposures.values() for ref in e.references}
    found |= {u.reference for u in facts.unusable if u.reference}
    return found


codes = st.sampled_from(
    [
        {"coding": [{"system": LOINC, "code": c}]}
        for c in ("1988-5", "777-3", "39803-2", "59019-0", "38445-3")
    ]
    + [{"coding": [{"system": RXNORM, "code": c}]} for c in ("191831", "1256", "1790546", "8640")]
    + [{"coding": [{"system": ATC, "code": "L04AX01"}]}, {"text": "Anti-infliximab antibodies"}]
    + [{"coding": [{"system": LOCAL, "code": "ATI", "display": "ATI"}]}]
)


@st.composite
def voided(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(
        st.sampled_from(
            ["Observation", "MedicationStatement", "MedicationRequest", "MedicationAdministration"]
        )
    )
    code = draw(codes)
    resource: dict[str, Any] = {
        "resourceType": kind,
        "id": f"v{draw(st.integers(0, 99))}",
        "status": draw(st.sampled_from(["entered-in-error", "cancelled"])),
        "code" if kind == "Observation" else "medicationCodeableConcept": code,
        "effectiveDateTime": draw(st.sampled_from(["2026-11-01", "2026-01-01T08:00:00Z"])),
        "authoredOn": "2026-10-01",
        "valueQuantity": {"value": draw(st.floats(0, 1e6)), "system": UCUM, "code": "mg/L"},
        "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": "10828004"}]},
        "valueString": "HLA-DQA1*05:01",
    }
    return resource


@PROPERTY
@given(st.lists(voided(), min_size=1, max_size=6))
def test_entered_in_error_and_cancelled_never_produce_a_fact(items: list[dict[str, Any]]) -> None:
    facts = facts_of(items)
    voided_references = {f"{r['resourceType']}/{r['id']}" for r in items}
    assert not (_all_references(facts) & voided_references)
    assert facts.combination is None


units = st.sampled_from(
    [
        "mg/L",
        "ug/mL",
        "mg/dL",
        "g/L",
        "nmol/L",
        "10*3/uL",
        "10*9/L",
        "/uL",
        "/mm3",
        "ug/g",
        "mg/kg",
        "%",
        "{titer}",
        "[arb'U]/mL",
        "x10^9/L",
        "",
        "mmol/L",
        "U/L",
        "mg",
    ]
)


@PROPERTY
@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                ["1988-5", "30522-7", "76485-2", "777-3", "26515-7", "39803-2", "38445-3"]
            ),
            st.floats(-1e9, 1e9, allow_nan=False),
            units,
            st.booleans(),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_a_lab_fact_is_always_in_its_normalised_unit(
    labs: list[tuple[str, float, str, bool]],
) -> None:
    items = [
        {
            "resourceType": "Observation",
            "id": f"o{index}",
            "status": "final",
            "code": {"coding": [{"system": LOINC, "code": loinc}]},
            "effectiveDateTime": "2026-11-01",
            "valueQuantity": {
                "value": value,
                "unit": unit,
                **({"system": UCUM, "code": unit} if coded else {}),
            },
        }
        for index, (loinc, value, unit, coded) in enumerate(labs)
    ]
    facts = facts_of(items)
    for analyte, found in facts.labs.items():
        assert all(f.unit == NORMALISED_UNITS[analyte] for f in found)
    assert sum(map(len, facts.labs.values())) + len(facts.unusable) == len(items)
