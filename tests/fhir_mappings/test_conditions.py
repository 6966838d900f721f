"""Diagnoses, disease state and the patient (decision-spec §6, §7)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from fhir_mappings import ConditionState, DiagnosisClass, PatientFacts, build_facts
from tests.fhir_mappings.resources import SNOMED, TODAY, concept, condition, patient

ICD10 = "http://hl7.org/fhir/sid/icd-10"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CROHNS = concept(SNOMED, "34000006", "Crohn's disease")


def facts(*resources: dict[str, Any]) -> PatientFacts:
    return build_facts([patient(), *resources], evaluated_on=TODAY)


@pytest.mark.parametrize(
    ("code", "diagnosis"),
    [
        (concept(SNOMED, "34000006"), DiagnosisClass.CROHNS_DISEASE),
        (concept(SNOMED, "64766004"), DiagnosisClass.ULCERATIVE_COLITIS),
        (concept(SNOMED, "69896004"), DiagnosisClass.RHEUMATOID_ARTHRITIS),
        (concept(ICD10, "K50.1"), DiagnosisClass.CROHNS_DISEASE),
        (concept(ICD10CM, "K5090"), DiagnosisClass.CROHNS_DISEASE),
        (concept(ICD10CM, "K51.00"), DiagnosisClass.ULCERATIVE_COLITIS),
        (concept(ICD10, "M05.79"), DiagnosisClass.RHEUMATOID_ARTHRITIS),
        (concept(ICD10, "M06.9"), DiagnosisClass.RHEUMATOID_ARTHRITIS),
    ],
)
def test_s7_diagnosis_codes_and_icd10_families(
    code: dict[str, Any], diagnosis: DiagnosisClass
) -> None:
    [fact] = facts(condition("c1", code)).diagnoses
    assert (fact.value, fact.reference) == (diagnosis, "Condition/c1")


def test_s7_other_diagnoses_are_ignored() -> None:
    assert (
        facts(
            condition("c1", concept(ICD10, "K52.9")), condition("c2", {"text": "Crohn's"})
        ).diagnoses
        == ()
    )


@pytest.mark.parametrize("status", ["refuted", "entered-in-error"])
def test_s7_refuted_or_in_error_diagnosis_is_ignored(status: str) -> None:
    record = condition(
        "c1",
        CROHNS,
        "remission",
        verificationStatus=concept(VERIFICATION, status),
        abatementDateTime="2025-01-01",
    )
    result = facts(record)
    assert (result.diagnoses, result.condition_states) == ((), ())


@pytest.mark.parametrize("clinical", ["remission", "resolved"])
def test_s7_remission_dated_by_abatement(clinical: str) -> None:
    [state] = facts(
        condition("c1", CROHNS, clinical, abatementDateTime="2025-09-22")
    ).condition_states
    assert (state.value, state.effective, state.reference) == (
        ConditionState.REMISSION,
        datetime(2025, 9, 22, tzinfo=UTC),
        "Condition/c1",
    )


@pytest.mark.parametrize("clinical", ["relapse", "recurrence"])
def test_s7_relapse_and_recurrence_mean_active_disease(clinical: str) -> None:
    [state] = facts(condition("c1", CROHNS, clinical, onsetDateTime="2026-10-01")).condition_states
    assert (state.value, state.effective) == (
        ConditionState.RELAPSE,
        datetime(2026, 10, 1, tzinfo=UTC),
    )


def test_s7_plain_active_is_recorded_as_active_only() -> None:
    [state] = facts(condition("c1", CROHNS, "active")).condition_states
    assert state.value is ConditionState.ACTIVE


def test_s7_inactive_status_is_no_state_evidence() -> None:
    assert facts(condition("c1", CROHNS, "inactive")).condition_states == ()


def test_s7_rheumatoid_arthritis_gives_no_ibd_state() -> None:
    result = facts(
        condition("c1", concept(SNOMED, "69896004"), "remission", abatementDateTime="2025-01-01")
    )
    assert result.condition_states == ()
    assert result.diagnoses[0].value is DiagnosisClass.RHEUMATOID_ARTHRITIS


def test_s6_birth_date_and_sex() -> None:
    result = build_facts([patient(gender="male")], evaluated_on=TODAY)
    assert result.patient_reference == "Patient/p1"
    assert result.birth_date is not None and result.birth_date.value.earliest == date(1980, 5, 17)
    assert result.birth_date.value.exact
    assert result.sex is not None and result.sex.value == "male"
    assert result.birth_date.reference == "Patient/p1"


def test_s10_partial_birth_date_is_an_interval_not_guessed() -> None:
    result = build_facts([patient(birthDate="1980")], evaluated_on=TODAY)
    assert result.birth_date is not None
    assert (result.birth_date.value.earliest, result.birth_date.value.latest) == (
        date(1980, 1, 1),
        date(1980, 12, 31),
    )
    assert result.unusable == ()


def test_s10_unreadable_birth_date_is_unusable() -> None:
    result = build_facts([patient(birthDate="1980-13")], evaluated_on=TODAY)
    assert result.birth_date is None
    [problem] = result.unusable
    assert (problem.topic, problem.reference) == ("patient", "Patient/p1")


def test_s6_missing_birth_date_is_simply_absent() -> None:
    record = patient()
    del record["birthDate"]
    result = build_facts([record], evaluated_on=TODAY)
    assert (result.birth_date, result.unusable) == (None, ())


@pytest.mark.parametrize(
    "abatement", [{}, {"abatementString": "spring 2024"}, {"abatementDateTime": "2024"}]
)
def test_s3_remission_without_a_full_abatement_date_is_unusable(abatement: dict[str, Any]) -> None:
    result = facts(condition("c1", CROHNS, "remission", **abatement))
    assert result.condition_states == ()
    [problem] = result.unusable
    assert (problem.reference, problem.topic) == ("Condition/c1", "remission")
    assert [d.value for d in result.diagnoses] == [DiagnosisClass.CROHNS_DISEASE]
