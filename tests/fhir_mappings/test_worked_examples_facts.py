"""Every worked example of decision-spec §9 maps to the facts its row states, with provenance."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest

from fhir_mappings import (
    NORMALISED_UNITS,
    Analyte,
    AntibodyStatus,
    ConditionState,
    DiagnosisClass,
    DrugClass,
    Exposure,
    MatchedBy,
    PatientFacts,
    build_facts,
)
from tests.fixtures.worked_examples import NUMBERS, WorkedExample, worked_example

TODAY = date(2026, 11, 22)
FRESH_DAYS = 90


def mapped(number: int) -> tuple[WorkedExample, PatientFacts]:
    example = worked_example(number, today=TODAY)
    facts = build_facts(
        example.resources,
        evaluated_on=example.today,
        draft_orders=example.draft_orders,
        selections=example.selections,
    )
    return example, facts


def days_ago(moment: date) -> int:
    return (TODAY - moment).days


def exposure(facts: PatientFacts, drug: DrugClass) -> Exposure:
    found = facts.exposure(drug)
    assert found is not None, drug
    return found


def assert_lab(
    example: WorkedExample, facts: PatientFacts, analyte: Analyte, role: str, value: float
) -> None:
    latest = facts.lab(analyte)[0]
    expected = (value, NORMALISED_UNITS[analyte], example.refs[role])
    assert (latest.value, latest.unit, latest.reference) == expected
    assert latest.matched_by is MatchedBy.CODE


def assert_combination_base(
    example: WorkedExample, facts: PatientFacts, overlap: int = 1100
) -> None:
    """What example 1 states, unless the variant changes it."""
    assert facts.patient_reference == example.patient_reference
    assert facts.combination is not None and facts.combination.start is not None
    assert days_ago(facts.combination.start) == overlap
    assert example.refs["aza"] in facts.combination.references
    assert example.refs["ifx-rx1"] in facts.combination.references
    state = facts.condition_states[0]
    assert state.value is ConditionState.REMISSION and state.effective is not None
    assert days_ago(state.effective.date()) >= 14 * 30
    assert state.reference == example.refs["crohns"]
    assert [d.value for d in facts.diagnoses] == [DiagnosisClass.CROHNS_DISEASE]
    trough = facts.lab(Analyte.INFLIXIMAB_LEVEL)[0]
    assert trough.reference == example.refs["trough"]
    assert trough.effective is not None
    assert days_ago(trough.effective.date()) <= FRESH_DAYS
    assert facts.unusable == ()


def example_1(example: WorkedExample, facts: PatientFacts) -> None:
    assert_combination_base(example, facts)
    trough = facts.lab(Analyte.INFLIXIMAB_LEVEL)[0]
    assert (trough.value, trough.unit, trough.display) == (11.5, "mg/L", "11.5 ug/mL")
    assert_lab(example, facts, Analyte.CRP, "crp", 1.2)
    assert_lab(example, facts, Analyte.PLATELETS, "platelets", 260.0)
    assert facts.lab(Analyte.PLATELETS)[0].unit == "10*9/L"
    [antibodies] = facts.antibodies
    assert (antibodies.value, antibodies.matched_by, antibodies.reference) == (
        AntibodyStatus.NEGATIVE,
        MatchedBy.NAME,
        example.refs["antibodies"],
    )
    assert facts.exposure(DrugClass.CORTICOSTEROID) is None
    assert facts.hla_dqa1_05_carrier == ()
    assert facts.sex is not None and facts.sex.value == "female"


def example_2(example: WorkedExample, facts: PatientFacts) -> None:
    assert_combination_base(example, facts)
    assert_lab(example, facts, Analyte.INFLIXIMAB_LEVEL, "trough", 9.8)


def example_3(example: WorkedExample, facts: PatientFacts) -> None:
    assert_combination_base(example, facts, overlap=700)


def example_4(example: WorkedExample, facts: PatientFacts) -> None:
    assert_combination_base(example, facts)
    assert_lab(example, facts, Analyte.CRP, "crp", 11.0)
    assert facts.lab(Analyte.CRP)[0].display == "1.1 mg/dL"


def example_5(example: WorkedExample, facts: PatientFacts) -> None:
    assert_combination_base(example, facts)
    assert_lab(example, facts, Analyte.PLATELETS, "platelets", 305.0)


def example_6(example: WorkedExample, facts: PatientFacts) -> None:
    assert_combination_base(example, facts)
    [crp] = facts.lab(Analyte.CRP)
    assert crp.effective is not None and days_ago(crp.effective.date()) > 7 * 30


def example_7(example: WorkedExample, facts: PatientFacts) -> None:
    assert_combination_base(example, facts)
    assert facts.antibodies == ()


def example_8(example: WorkedExample, facts: PatientFacts) -> None:
    assert_combination_base(example, facts)
    latest, old = facts.antibodies
    assert (latest.value, latest.reference) == (AntibodyStatus.NEGATIVE, example.refs["antibodies"])
    assert (old.value, old.reference) == (AntibodyStatus.POSITIVE, example.refs["antibodies-old"])
    assert old.effective is not None and days_ago(old.effective.date()) >= 3 * 365 - 1


def example_9(example: WorkedExample, facts: PatientFacts) -> None:
    assert_combination_base(example, facts)
    [hla] = facts.hla_dqa1_05_carrier
    assert (hla.value, hla.reference) == (True, example.refs["hla"])


def example_10(example: WorkedExample, facts: PatientFacts) -> None:
    assert_combination_base(example, facts)
    steroid = exposure(facts, DrugClass.CORTICOSTEROID)
    assert (steroid.active, steroid.stopped_on) == (False, TODAY - timedelta(days=60))
    assert steroid.references == (example.refs["budesonide"],)


def example_11(example: WorkedExample, facts: PatientFacts) -> None:
    assert [d.value for d in facts.diagnoses] == [DiagnosisClass.RHEUMATOID_ARTHRITIS]
    assert facts.diagnoses[0].reference == example.refs["ra"]
    assert facts.condition_states == ()
    assert facts.combination is not None


def example_12(example: WorkedExample, facts: PatientFacts) -> None:
    assert_combination_base(example, facts)
    assert facts.sex is not None and facts.sex.value == "male"
    assert facts.birth_date is not None
    born = facts.birth_date.value.earliest
    age = TODAY.year - born.year - ((TODAY.month, TODAY.day) < (born.month, born.day))
    assert age == 27


def assert_withdrawn(example: WorkedExample, facts: PatientFacts, stopped_days_ago: int) -> None:
    thiopurine = exposure(facts, DrugClass.THIOPURINE)
    assert (thiopurine.active, thiopurine.stopped_on) == (
        False,
        TODAY - timedelta(days=stopped_days_ago),
    )
    assert example.refs["aza"] in thiopurine.references
    assert exposure(facts, DrugClass.INFLIXIMAB).active
    assert facts.combination is None
    for trough in facts.lab(Analyte.INFLIXIMAB_LEVEL):
        assert trough.effective is not None
        assert days_ago(trough.effective.date()) > stopped_days_ago


def example_13(example: WorkedExample, facts: PatientFacts) -> None:
    assert_withdrawn(example, facts, 152)
    assert all(a.value is AntibodyStatus.NEGATIVE for a in facts.antibodies)


def example_14(example: WorkedExample, facts: PatientFacts) -> None:
    assert_withdrawn(example, facts, 183)
    latest = facts.antibodies[0]
    assert (latest.value, latest.reference) == (
        AntibodyStatus.POSITIVE,
        example.refs["antibodies-after-stop"],
    )


def example_15(example: WorkedExample, facts: PatientFacts) -> None:
    [order] = facts.draft_orders
    assert (order.drug, order.resource_id, order.selected) == (
        DrugClass.INFLIXIMAB,
        example.selections[0],
        True,
    )
    assert not {DrugClass.INFLIXIMAB, DrugClass.THIOPURINE, DrugClass.OTHER_ANTI_TNF} & set(
        facts.exposures
    )
    assert [d.value for d in facts.diagnoses] == [DiagnosisClass.CROHNS_DISEASE]


def example_16(example: WorkedExample, facts: PatientFacts) -> None:
    [order] = facts.draft_orders
    assert (order.drug, order.resource_id, order.selected) == (
        DrugClass.THIOPURINE,
        example.selections[0],
        True,
    )
    assert facts.exposure(DrugClass.THIOPURINE) is None
    assert facts.thiopurine_metabolism == ()


def example_17(example: WorkedExample, facts: PatientFacts) -> None:
    infliximab = exposure(facts, DrugClass.INFLIXIMAB)
    assert infliximab.active
    assert infliximab.matched_by_name == (example.refs["ifx"],)
    assert facts.exposure(DrugClass.THIOPURINE) is None
    assert facts.combination is None


STATED: dict[int, Callable[[WorkedExample, PatientFacts], None]] = {
    n: globals()[f"example_{n}"] for n in NUMBERS
}


@pytest.mark.parametrize("number", NUMBERS)
def test_s9_worked_example_maps_to_the_facts_it_states(number: int) -> None:
    STATED[number](*mapped(number))


@pytest.mark.parametrize("number", NUMBERS)
def test_s9_worked_examples_have_nothing_unusable(number: int) -> None:
    assert mapped(number)[1].unusable == ()
