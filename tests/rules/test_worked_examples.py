"""The worked examples of decision-spec §9 at the facts level (policy seed-2026).

Example 1 is `builders.example_1`; each other row changes what the table says and nothing else.
"""

from __future__ import annotations

from dataclasses import replace

from cds_service.rules import (
    Assessment,
    Criterion,
    Hook,
    Need,
    NoteCode,
    Recommendation,
    Status,
    advise,
    load_policy,
)
from fhir_mappings.facts import (
    Analyte,
    ConditionState,
    DiagnosisClass,
    DrugClass,
    Fact,
    PatientFacts,
)

from .builders import (
    NEG,
    POS,
    antibody,
    at,
    birth,
    day,
    draft,
    example_1,
    exposure,
    lab,
    with_exposure,
    with_lab,
    without_exposure,
)

SEED = load_policy("seed-2026")


def _one(facts: PatientFacts, hook: Hook = Hook.PATIENT_VIEW) -> Assessment:
    (assessment,) = advise(facts, SEED, hook=hook)
    return assessment


def _continue_because(facts: PatientFacts, *failing: Criterion) -> Assessment:
    assessment = _one(facts)
    assert assessment.recommendation is Recommendation.CONTINUE_COMBINATION
    assert assessment.failing == failing
    assert (assessment.follow_up, assessment.follow_up_on) == ((), None)
    return assessment


def test_s9_example_01_withdrawal_candidate() -> None:
    assessment = _one(example_1())
    assert assessment.recommendation is Recommendation.WITHDRAWAL_CANDIDATE
    assert all(c.status is Status.MET for c in assessment.criteria)
    assert [c.id.value for c in assessment.criteria] == [
        "trough", "antibodies", "duration", "crp", "platelets", "remission", "hla-dqa1-05",
    ]  # fmt: skip
    assert (assessment.policy_id, assessment.policy_version) == ("seed-2026", "2026.2")
    assert assessment.follow_up == (Need.INFLIXIMAB_LEVEL, Need.ANTIBODIES)
    assert assessment.follow_up_on == day(-90)


def test_s9_example_02_low_trough() -> None:
    facts = with_lab(example_1(), Analyte.INFLIXIMAB_LEVEL, lab(9.8, 20, "Observation/trough"))
    _continue_because(facts, Criterion.TROUGH)


def test_s9_example_03_short_overlap() -> None:
    facts = example_1(combination=replace(example_1().combination, start=day(700)))  # type: ignore[type-var]
    _continue_because(facts, Criterion.DURATION)


def test_s9_example_04_crp_11_mg_per_l() -> None:
    _continue_because(
        with_lab(example_1(), Analyte.CRP, lab(11, 20, "Observation/crp")), Criterion.CRP
    )


def test_s9_example_05_platelets_305() -> None:
    facts = with_lab(example_1(), Analyte.PLATELETS, lab(305, 20, "Observation/plt", unit="10*9/L"))
    _continue_because(facts, Criterion.PLATELETS)


def test_s9_example_06_stale_crp() -> None:
    facts = with_lab(example_1(), Analyte.CRP, lab(1.0, 240, "Observation/crp-old"))
    assessment = _one(facts)
    assert assessment.recommendation is Recommendation.INSUFFICIENT_DATA
    assert assessment.to_obtain == (Need.CRP,)
    (crp,) = [c for c in assessment.criteria if c.id is Criterion.CRP]
    assert [f.reference for f in crp.stale] == ["Observation/crp-old"]


def test_s9_example_07_antibodies_never_tested() -> None:
    assessment = _one(example_1(antibodies=()))
    assert assessment.recommendation is Recommendation.INSUFFICIENT_DATA
    assert assessment.to_obtain == (Need.INFLIXIMAB_LEVEL, Need.ANTIBODIES)


def test_s9_example_08_antibodies_positive_3_years_ago() -> None:
    facts = example_1(antibodies=(antibody(NEG, 20), antibody(POS, 1095, "Observation/ab-old")))
    _continue_because(facts, Criterion.ANTIBODIES)


def test_s9_example_09_hla_carrier_low_certainty() -> None:
    carrier = Fact(value=True, reference="Observation/hla", effective=at(800))
    assessment = _continue_because(example_1(hla_dqa1_05_carrier=(carrier,)), Criterion.HLA_DQA1_05)
    assert [n.code for n in assessment.notes] == [NoteCode.HLA_ONLY_LOW_CERTAINTY]


def test_s9_hla_note_only_when_hla_is_the_only_failure() -> None:
    carrier = Fact(value=True, reference="Observation/hla", effective=at(800))
    facts = with_lab(
        example_1(hla_dqa1_05_carrier=(carrier,)), Analyte.CRP, lab(11, 20, "Observation/crp")
    )
    assessment = _continue_because(facts, Criterion.CRP, Criterion.HLA_DQA1_05)
    assert assessment.notes == ()


def test_s9_example_10_budesonide_until_2_months_ago() -> None:
    budesonide = exposure(DrugClass.CORTICOSTEROID, 150, 60, ref="MedicationStatement/budesonide")
    _continue_because(with_exposure(example_1(), budesonide), Criterion.REMISSION)


def test_s9_example_11_rheumatoid_arthritis_only() -> None:
    ra = (Fact(value=DiagnosisClass.RHEUMATOID_ARTHRITIS, reference="Condition/ra"),)
    assessment = _one(example_1(diagnoses=ra))
    assert assessment.recommendation is Recommendation.UNSUPPORTED_INDICATION
    assert len(assessment.criteria) == 7  # still listed for information
    assert [n.code for n in assessment.notes] == [NoteCode.RHEUMATOID_ARTHRITIS]


def test_s9_example_12_male_27_hstcl_note() -> None:
    facts = example_1(birth_date=birth(27), sex=Fact(value="male", reference="Patient/p1"))
    assessment = _one(facts)
    assert assessment.recommendation is Recommendation.WITHDRAWAL_CANDIDATE
    assert [m.code for m in assessment.modifiers] == [NoteCode.HSTCL]


def _withdrawn(days_ago: int) -> PatientFacts:
    aza = exposure(DrugClass.THIOPURINE, 1500, days_ago, ref="MedicationStatement/aza")
    facts = with_exposure(example_1(combination=None, antibodies=()), aza)
    return with_lab(facts, Analyte.INFLIXIMAB_LEVEL, lab(11.5, days_ago + 20, "Observation/before"))


def test_s9_example_13_monitor_5_months_after_stop() -> None:
    assessment = _one(_withdrawn(152))
    assert assessment.recommendation is Recommendation.MONITOR_AFTER_WITHDRAWAL


def test_s9_example_14_antibodies_positive_after_stop() -> None:
    facts = replace(_withdrawn(183), antibodies=(antibody(POS, 30, "Observation/ab-pos"),))
    assessment = _one(facts)
    assert assessment.recommendation is Recommendation.REINTRODUCE_IMMUNOMODULATOR
    assert assessment.failing == (Criterion.ANTIBODIES_AFTER_STOP,)


def _naive() -> PatientFacts:
    facts = example_1(
        combination=None,
        condition_states=(Fact(value=ConditionState.RELAPSE, reference="Condition/cd"),),
    )
    return without_exposure(without_exposure(facts, DrugClass.INFLIXIMAB), DrugClass.THIOPURINE)


def test_s9_example_15_consider_combination() -> None:
    facts = replace(_naive(), draft_orders=(draft(DrugClass.INFLIXIMAB, "MedicationRequest/ifx"),))
    assert _one(facts, Hook.ORDER_SELECT).recommendation is Recommendation.CONSIDER_COMBINATION


def test_s9_example_16_check_tpmt() -> None:
    facts = replace(_naive(), draft_orders=(draft(DrugClass.THIOPURINE, "MedicationRequest/aza"),))
    assert _one(facts, Hook.ORDER_SELECT).recommendation is Recommendation.CHECK_TPMT


def test_s9_example_17_infliximab_only_no_card() -> None:
    facts = without_exposure(example_1(combination=None), DrugClass.THIOPURINE)
    assert advise(facts, SEED, hook=Hook.PATIENT_VIEW) == ()
