"""Threshold boundaries with the units EHRs send (issue 4: exactly at, just above, just below;
unit variants), through the whole chain: FHIR Observation -> fhir_mappings -> rules. Conversion
must not move a result across a threshold (e.g. 0.5 mg/dL is exactly 5 mg/L)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from cds_service.rules import Status, assess, load_policy
from fhir_mappings import build_facts
from tests.conftest import TODAY
from tests.fixtures.worked_examples import worked_example

UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"


def status_with(role: str, quantity: dict[str, Any], code: str | None = None) -> Status:
    example = worked_example(1, today=TODAY)
    resources = copy.deepcopy(example.resources)
    [observation] = [r for r in resources if f"{r['resourceType']}/{r['id']}" == example.refs[role]]
    observation["valueQuantity"] = {**quantity, "system": UCUM}
    if code is not None:
        observation["code"] = {"coding": [{"system": LOINC, "code": code}]}
    facts = build_facts(resources, evaluated_on=TODAY)
    [assessment] = assess(facts, load_policy(), hook="patient-view")
    [criterion] = [c for c in assessment.criteria if c.id == role]
    return criterion.status


MET, NOT_MET = Status.MET, Status.NOT_MET


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (10.0, "mg/L", NOT_MET),  # strict: exactly 10 is not enough
        (10.01, "mg/L", MET),
        (9.99, "mg/L", NOT_MET),
        (10.0, "ug/mL", NOT_MET),
        (10.01, "ug/mL", MET),
        (1.0, "mg/dL", NOT_MET),
        (1.001, "mg/dL", MET),
        (10000.0, "ng/mL", NOT_MET),
        (10010.0, "ng/mL", MET),
    ],
)
def test_rule_trough_strict_with_unit_variants(value: float, unit: str, expected: Status) -> None:
    assert status_with("trough", {"value": value, "unit": unit, "code": unit}) is expected


@pytest.mark.parametrize(
    ("value", "unit", "loinc", "expected"),
    [
        (5.0, "mg/L", "1988-5", MET),
        (5.01, "mg/L", "1988-5", NOT_MET),
        (0.5, "mg/dL", "1988-5", MET),
        (0.501, "mg/dL", "1988-5", NOT_MET),
        (47.6, "nmol/L", "76485-2", MET),  # 47.6 / 9.52 = 5 mg/L exactly
        (47.7, "nmol/L", "76485-2", NOT_MET),
    ],
)
def test_rule_crp_boundary_with_unit_variants(
    value: float, unit: str, loinc: str, expected: Status
) -> None:
    quantity = {"value": value, "unit": unit, "code": unit}
    assert status_with("crp", quantity, code=loinc) is expected


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (298, "10*9/L", MET),
        (299, "10*9/L", NOT_MET),
        (298, "10*3/uL", MET),
        (298.1, "10*3/uL", NOT_MET),
        (298000, "/uL", MET),
        (299000, "/uL", NOT_MET),
        (298000, "/mm3", MET),
    ],
)
def test_rule_platelets_boundary_with_unit_variants(
    value: float, unit: str, expected: Status
) -> None:
    assert status_with("platelets", {"value": value, "unit": unit, "code": unit}) is expected


def test_rule_unconvertible_unit_is_unknown_never_met() -> None:
    quantity = {"value": 1.0, "unit": "U/L", "code": "U/L"}
    assert status_with("crp", quantity) is Status.UNKNOWN


def test_s10_plausibility_molar_crp_in_mmol_is_converted_then_out_of_bounds() -> None:
    # 1 mmol/L = 10^6 nmol/L = 105 042 mg/L: never read as 1 mg/L, and beyond 500 mg/L a
    # probable unit error, so unknown rather than "not met".
    quantity = {"value": 1.0, "unit": "mmol/L", "code": "mmol/L"}
    assert status_with("crp", quantity) is Status.UNKNOWN
