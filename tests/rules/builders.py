"""Hand-built PatientFacts for the rules tests: worked example 1 of decision-spec §9 and tweaks.

Dates are days before `TODAY`; every fact has a distinct reference so a test can see which one
a criterion used.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fhir_mappings.dates import PartialDate
from fhir_mappings.facts import (
    Analyte,
    AntibodyStatus,
    Comparator,
    ConditionState,
    DiagnosisClass,
    DraftOrder,
    DrugClass,
    Exposure,
    Fact,
    Interval,
    PatientFacts,
)

TODAY = date(2026, 11, 22)


def day(days_ago: int) -> date:
    return TODAY - timedelta(days=days_ago)


def at(days_ago: int) -> datetime:
    return datetime.combine(day(days_ago), time(8, 30), tzinfo=UTC)


def lab(
    value: float,
    days_ago: int,
    ref: str,
    unit: str = "mg/L",
    comparator: Comparator | None = None,
) -> Fact[float]:
    return Fact(
        value=value, reference=ref, effective=at(days_ago), unit=unit, comparator=comparator
    )


def antibody(
    status: AntibodyStatus, days_ago: int, ref: str = "Observation/ab"
) -> Fact[AntibodyStatus]:
    return Fact(value=status, reference=ref, effective=at(days_ago))


NEG = AntibodyStatus.NEGATIVE
POS = AntibodyStatus.POSITIVE


def exposure(
    drug: DrugClass, start_days_ago: int | None, end_days_ago: int | None = None, *, ref: str
) -> Exposure:
    start = day(start_days_ago) if start_days_ago is not None else None
    end = day(end_days_ago) if end_days_ago is not None else None
    return Exposure(
        drug=drug,
        intervals=(Interval(start, end, (ref,)),),
        active=end is None,
        stopped_on=end,
    )


def born_on(value: date) -> Fact[PartialDate]:
    return Fact(value=PartialDate(value, value, value.isoformat()), reference="Patient/p1")


def birth(age: int) -> Fact[PartialDate]:
    return born_on(date(TODAY.year - age, 3, 1))


def example_1(**overrides: Any) -> PatientFacts:
    """Crohn's in remission 14 months, no steroids, overlap 1100 days, all labs fresh and fine."""
    facts = PatientFacts(
        evaluated_on=TODAY,
        patient_reference="Patient/p1",
        birth_date=birth(45),
        sex=Fact(value="female", reference="Patient/p1"),
        diagnoses=(Fact(value=DiagnosisClass.CROHNS_DISEASE, reference="Condition/cd"),),
        labs={
            Analyte.INFLIXIMAB_LEVEL: (lab(11.5, 20, "Observation/trough"),),
            Analyte.CRP: (lab(1.2, 20, "Observation/crp"),),
            Analyte.PLATELETS: (lab(260, 20, "Observation/plt", unit="10*9/L"),),
        },
        antibodies=(antibody(NEG, 20),),
        exposures={
            DrugClass.INFLIXIMAB: exposure(
                DrugClass.INFLIXIMAB, 1200, ref="MedicationStatement/ifx"
            ),
            DrugClass.THIOPURINE: exposure(
                DrugClass.THIOPURINE, 1100, ref="MedicationStatement/aza"
            ),
        },
        combination=Interval(
            day(1100), None, ("MedicationStatement/ifx", "MedicationStatement/aza")
        ),
        condition_states=(
            Fact(value=ConditionState.REMISSION, reference="Condition/cd", effective=at(425)),
        ),
    )
    return replace(facts, **overrides)


def with_lab(facts: PatientFacts, analyte: Analyte, *results: Fact[float]) -> PatientFacts:
    return replace(facts, labs={**facts.labs, analyte: results})


def with_exposure(facts: PatientFacts, *exposures: Exposure) -> PatientFacts:
    return replace(facts, exposures={**facts.exposures, **{e.drug: e for e in exposures}})


def without_exposure(facts: PatientFacts, drug: DrugClass) -> PatientFacts:
    return replace(facts, exposures={k: v for k, v in facts.exposures.items() if k is not drug})


def draft(drug: DrugClass, ref: str, selected: bool = True) -> DraftOrder:
    return DraftOrder(drug=drug, resource_id=ref, selected=selected)
