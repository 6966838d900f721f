"""Pathways B, C, D, the scope and modifiers of §6, and which hook shows what (§2, §4-§6)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cds_service.rules import (
    Criterion,
    Hook,
    Need,
    NoteCode,
    Pathway,
    Recommendation,
    advise,
    assess,
    load_policy,
    shown_on,
)
from fhir_mappings.facts import Analyte, Comparator, DiagnosisClass, DrugClass, Fact
from fhir_mappings.topics import Topic

from .builders import (
    NEG,
    POS,
    antibody,
    birth,
    draft,
    example_1,
    exposure,
    lab,
    with_exposure,
    with_lab,
    without_exposure,
)

SEED = load_policy()
PV, SELECT, SIGN = Hook.PATIENT_VIEW, Hook.ORDER_SELECT, Hook.ORDER_SIGN


def _codes(facts, hook=PV):
    return [a.recommendation for a in assess(facts, SEED, hook=hook)]


def _stopped(days_ago: int, **overrides: object):
    aza = exposure(DrugClass.THIOPURINE, 1500, days_ago, ref="MedicationStatement/aza")
    facts = with_exposure(example_1(combination=None, **overrides), aza)
    return with_lab(facts, Analyte.INFLIXIMAB_LEVEL, lab(9.0, days_ago + 30, "Observation/before"))


# --- pathway B -------------------------------------------------------------------------------


def test_s4_monitor_after_90_days_without_results() -> None:
    facts = _stopped(150, antibodies=())
    (assessment,) = assess(facts, SEED, hook=PV)
    assert assessment.recommendation is Recommendation.MONITOR_AFTER_WITHDRAWAL
    assert assessment.to_obtain == (Need.INFLIXIMAB_LEVEL, Need.ANTIBODIES)


@pytest.mark.parametrize(
    ("days", "codes"), [(89, []), (90, [Recommendation.MONITOR_AFTER_WITHDRAWAL])]
)
def test_s4_monitoring_boundary_90_days(days: int, codes: list[Recommendation]) -> None:
    assert _codes(_stopped(days, antibodies=())) == codes


@pytest.mark.parametrize(
    ("days", "codes"), [(365, [Recommendation.MONITOR_AFTER_WITHDRAWAL]), (366, [])]
)
def test_s4_window_boundary_365_days(days: int, codes: list[Recommendation]) -> None:
    assert _codes(_stopped(days, antibodies=())) == codes


def test_s4_positive_antibodies_after_stop_reintroduce() -> None:
    facts = _stopped(180, antibodies=(antibody(POS, 30, "Observation/ab-pos"),))
    (assessment,) = assess(facts, SEED, hook=PV)
    assert assessment.recommendation is Recommendation.REINTRODUCE_IMMUNOMODULATOR
    assert assessment.failing == (Criterion.ANTIBODIES_AFTER_STOP,)
    assert {n.code for n in assessment.notes} == {
        NoteCode.REINTRODUCE_OPTIONS,
        NoteCode.TPMT_STATUS,
    }
    assert assessment.to_obtain == (Need.TPMT,)
    assert "commit-2014" in {e.id for e in assessment.evidence}


def _after(stop: int, level: float, comparator: Comparator | None = None):
    facts = _stopped(stop, antibodies=(antibody(NEG, 20),))
    before = facts.lab(Analyte.INFLIXIMAB_LEVEL)
    return with_lab(
        facts,
        Analyte.INFLIXIMAB_LEVEL,
        lab(level, 20, "Observation/after", comparator=comparator),
        *before,
    )


@pytest.mark.parametrize(
    ("level", "codes"),
    [
        (4.99, [Recommendation.REINTRODUCE_IMMUNOMODULATOR]),  # < 5 mg/L
        (6.2, [Recommendation.REINTRODUCE_IMMUNOMODULATOR]),  # 31 % below 9.0
        (6.3, []),  # exactly 30 % below 9.0: not more than 30 %
        (9.5, []),
    ],
)
def test_s4_trough_after_stop_low_or_dropped(level: float, codes: list[Recommendation]) -> None:
    assert _codes(_after(150, level)) == codes


def test_s4_censored_trough_below_5_reintroduce() -> None:
    (assessment,) = assess(_after(150, 5, Comparator.LT), SEED, hook=PV)
    assert assessment.failing == (Criterion.TROUGH_AFTER_STOP,)


def test_s4_results_since_stop_fine_gives_no_card() -> None:
    assert _codes(_after(300, 9.0)) == []


def test_s4_not_applicable_when_infliximab_stopped_too() -> None:
    facts = with_exposure(
        _stopped(150), exposure(DrugClass.INFLIXIMAB, 1500, 100, ref="MedicationStatement/ifx")
    )
    assert _codes(facts) == []


# --- pathways C and D ------------------------------------------------------------------------


def _naive(**overrides: object):
    facts = example_1(combination=None, **overrides)
    return without_exposure(without_exposure(facts, DrugClass.INFLIXIMAB), DrugClass.THIOPURINE)


def test_s5_consider_combination_for_naive_crohns() -> None:
    facts = _naive(draft_orders=(draft(DrugClass.INFLIXIMAB, "MedicationRequest/ifx-draft"),))
    (assessment,) = assess(facts, SEED, hook=SELECT)
    assert assessment.pathway is Pathway.INITIATION
    assert assessment.recommendation is Recommendation.CONSIDER_COMBINATION
    codes = [n.code for n in assessment.notes]
    assert codes == [NoteCode.SONIC_RESULTS, NoteCode.TPMT_STATUS, NoteCode.HSTCL]
    assert "56.8 %" in assessment.notes[0].text and "14.6 %" in assessment.notes[0].text
    assert assessment.to_obtain == (Need.TPMT,)


@pytest.mark.parametrize(
    "blocker",
    ["prior-anti-tnf", "prior-thiopurine", "ulcerative-colitis", "unselected", "patient-view"],
)
def test_s5_consider_combination_needs_all_conditions(blocker: str) -> None:
    ifx = draft(
        DrugClass.INFLIXIMAB, "MedicationRequest/ifx-draft", selected=blocker != "unselected"
    )
    facts = _naive(draft_orders=(ifx,))
    if blocker == "prior-anti-tnf":
        facts = with_exposure(
            facts, exposure(DrugClass.OTHER_ANTI_TNF, 900, 600, ref="MedicationStatement/ada")
        )
    if blocker == "prior-thiopurine":
        facts = with_exposure(
            facts, exposure(DrugClass.THIOPURINE, 900, 600, ref="MedicationStatement/aza")
        )
    if blocker == "ulcerative-colitis":
        facts = replace(
            facts,
            diagnoses=(Fact(value=DiagnosisClass.ULCERATIVE_COLITIS, reference="Condition/uc"),),
        )
    assert _codes(facts, PV if blocker == "patient-view" else SELECT) == []


def test_s5_check_tpmt_on_thiopurine_start_without_result() -> None:
    facts = _naive(draft_orders=(draft(DrugClass.THIOPURINE, "MedicationRequest/aza-draft"),))
    (assessment,) = assess(facts, SEED, hook=SIGN)
    assert assessment.recommendation is Recommendation.CHECK_TPMT
    assert assessment.to_obtain == (Need.TPMT,)
    assert [d.resource_id for d in assessment.draft_orders] == ["MedicationRequest/aza-draft"]


def test_s5_check_tpmt_not_for_renewal_or_known_status() -> None:
    renewal = example_1(draft_orders=(draft(DrugClass.THIOPURINE, "MedicationRequest/aza-draft"),))
    assert Recommendation.CHECK_TPMT not in _codes(renewal, SIGN)
    known = _naive(
        draft_orders=(draft(DrugClass.THIOPURINE, "MedicationRequest/aza-draft"),),
        thiopurine_metabolism=(Fact(value="TPMT *1/*1", reference="Observation/tpmt"),),
    )
    assert _codes(known, SIGN) == []


# --- scope and modifiers (§6) ----------------------------------------------------------------


@pytest.mark.parametrize(("age", "codes"), [(17, []), (18, [Recommendation.WITHDRAWAL_CANDIDATE])])
def test_s6_adults_only_boundary_18(age: int, codes: list[Recommendation]) -> None:
    assert _codes(example_1(birth_date=birth(age))) == codes


def test_s6_birth_date_missing_evaluates_and_says_so() -> None:
    (assessment,) = assess(example_1(birth_date=None), SEED, hook=PV)
    assert assessment.recommendation is Recommendation.WITHDRAWAL_CANDIDATE
    assert [m.code for m in assessment.modifiers] == [NoteCode.BIRTH_DATE_MISSING]


def test_s6_no_coded_diagnosis_evaluates_and_says_so() -> None:
    (assessment,) = assess(example_1(diagnoses=()), SEED, hook=PV)
    assert assessment.recommendation is Recommendation.WITHDRAWAL_CANDIDATE
    assert [m.code for m in assessment.modifiers] == [NoteCode.DIAGNOSIS_NOT_FOUND]


def test_s6_ulcerative_colitis_note() -> None:
    uc = (Fact(value=DiagnosisClass.ULCERATIVE_COLITIS, reference="Condition/uc"),)
    (assessment,) = assess(example_1(diagnoses=uc), SEED, hook=PV)
    assert [m.code for m in assessment.modifiers] == [NoteCode.ULCERATIVE_COLITIS]


def test_s6_rheumatoid_arthritis_with_ibd_is_in_scope() -> None:
    ra = Fact(value=DiagnosisClass.RHEUMATOID_ARTHRITIS, reference="Condition/ra")
    both = (*example_1().diagnoses, ra)
    assert _codes(example_1(diagnoses=both)) == [Recommendation.WITHDRAWAL_CANDIDATE]


@pytest.mark.parametrize(
    ("age", "sex", "codes"),
    [
        (34, "male", [NoteCode.HSTCL]),
        (35, "male", []),
        (34, "female", []),
        (64, "female", []),
        (65, "female", [NoteCode.OLDER_PATIENT]),
    ],
)
def test_s6_modifier_boundaries(age: int, sex: str, codes: list[NoteCode]) -> None:
    facts = example_1(birth_date=birth(age), sex=Fact(value=sex, reference="Patient/p1"))
    (assessment,) = assess(facts, SEED, hook=PV)
    assert [m.code for m in assessment.modifiers] == codes


def test_s6_modifiers_never_change_the_outcome() -> None:
    low = with_lab(example_1(), Analyte.INFLIXIMAB_LEVEL, lab(9, 10, "Observation/t"))
    for age, sex in ((27, "male"), (70, "female"), (45, "female")):
        facts = replace(low, birth_date=birth(age), sex=Fact(value=sex, reference="Patient/p1"))
        assert _codes(facts) == [Recommendation.CONTINUE_COMBINATION]


# --- which hook shows what -------------------------------------------------------------------


def test_s2_order_entry_shows_only_actionable() -> None:
    missing_crp = with_lab(example_1(), Analyte.CRP)
    (insufficient,) = assess(missing_crp, SEED, hook=SELECT)
    assert shown_on(insufficient, hook=PV) and not shown_on(insufficient, hook=SELECT)
    renewal = replace(
        missing_crp, draft_orders=(draft(DrugClass.INFLIXIMAB, "MedicationRequest/ifx-draft"),)
    )
    (before_renewal,) = assess(renewal, SEED, hook=SIGN)
    assert shown_on(before_renewal, hook=SIGN)
    low = with_lab(renewal, Analyte.INFLIXIMAB_LEVEL, lab(9, 10, "Observation/t"))
    assert advise(low, SEED, hook=SIGN) == ()
    assert [a.recommendation for a in advise(low, SEED, hook=PV)] == [
        Recommendation.CONTINUE_COMBINATION
    ]
    (candidate,) = assess(example_1(), SEED, hook=SELECT)
    assert shown_on(candidate, hook=SELECT) and shown_on(candidate, hook=SIGN)


def test_s2_unknown_hook_is_an_error() -> None:
    with pytest.raises(ValueError):
        assess(example_1(), SEED, hook="encounter-discharge")


# --- data that could not all be obtained (failed or truncated fetch) -------------------------


def test_rule_incomplete_data_never_counts_as_met() -> None:
    incomplete = {Topic.ANTIBODIES, Topic.CORTICOSTEROID}
    (assessment,) = assess(example_1(), SEED, hook=PV, incomplete=incomplete)
    assert assessment.recommendation is Recommendation.INSUFFICIENT_DATA
    unknown = {c.id for c in assessment.criteria if c.status.value == "unknown"}
    assert unknown == {Criterion.ANTIBODIES, Criterion.REMISSION}
    notes = {c.id: c.note for c in assessment.criteria}
    assert "Not all anti-infliximab antibody data could be obtained" in notes[Criterion.ANTIBODIES]
    assert "Not all corticosteroid data could be obtained" in notes[Criterion.REMISSION]


def test_rule_incomplete_data_names_every_missing_topic_in_words() -> None:
    incomplete = {Topic.REMISSION, Topic.CORTICOSTEROID, Topic.CDAI}
    (assessment,) = assess(example_1(), SEED, hook=PV, incomplete=incomplete)
    remission = next(c for c in assessment.criteria if c.id is Criterion.REMISSION)
    assert "Not all remission, corticosteroid and CDAI data could be obtained" in remission.note


def test_rule_incomplete_data_keeps_not_met_and_hla_never_unknown() -> None:
    low = with_lab(example_1(), Analyte.INFLIXIMAB_LEVEL, lab(9, 10, "Observation/t"))
    incomplete = {Topic.INFLIXIMAB_LEVEL, Topic.HLA_DQA1_05}
    (assessment,) = assess(low, SEED, hook=PV, incomplete=incomplete)
    assert assessment.recommendation is Recommendation.CONTINUE_COMBINATION
    assert assessment.failing == (Criterion.TROUGH,)
    hla = assessment.criteria[-1]
    assert hla.status.value == "met" and "not required" in hla.note


def test_s4_incomplete_antibodies_after_stop_means_monitor() -> None:
    facts = _stopped(150, antibodies=(antibody(NEG, 20),))
    facts = with_lab(
        facts,
        Analyte.INFLIXIMAB_LEVEL,
        lab(9.0, 20, "Observation/after"),
        *facts.lab(Analyte.INFLIXIMAB_LEVEL),
    )
    assert _codes(facts) == []
    codes = [a.recommendation for a in assess(facts, SEED, hook=PV, incomplete={Topic.ANTIBODIES})]
    assert codes == [Recommendation.MONITOR_AFTER_WITHDRAWAL]
