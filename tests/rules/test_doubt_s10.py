"""decision-spec §10, the rules side: a record that cannot be read still happened.

Each test gives a record that meets every criterion plus one unreadable record, and checks that
the unreadable record can make its criterion unknown or not-met, never met, and is named with
its date and why.
"""

from __future__ import annotations

from dataclasses import replace

from cds_service.rules import Need, Recommendation, Status, assess, load_policy
from cds_service.rules.criteria import antibodies, crp, hla_dqa1_05, trough
from fhir_mappings.facts import Analyte, Fact, Infusion, Unusable
from fhir_mappings.topics import Topic

from .builders import POS, antibody, at, example_1, lab, with_lab

SEED = load_policy()


def _with(*unusable: Unusable, **overrides: object) -> object:
    return replace(example_1(**overrides), unusable=unusable)


def test_s10_unreadable_newer_result_makes_criterion_unknown() -> None:
    facts = replace(
        with_lab(example_1(), Analyte.CRP, lab(2.1, 20, "Observation/crp-old")),
        unusable=(Unusable("Observation/crp-new", "unit 'mg/l (H)'", Topic.CRP, at(5)),),
    )
    result = crp(facts, SEED)
    assert result.status is Status.UNKNOWN
    assert Need.CRP in result.to_obtain
    assert [u.reference for u in result.unusable] == ["Observation/crp-new"]
    assert "A newer CRP result (2026-11-17) could not be read (unit 'mg/l (H)')" in result.note
    assert "the older result cannot decide" in result.note
    (assessment,) = assess(facts, SEED, hook="patient-view")
    assert assessment.recommendation is Recommendation.INSUFFICIENT_DATA


def test_s10_unreadable_newer_result_overrides_an_older_not_met_too() -> None:
    facts = replace(
        with_lab(example_1(), Analyte.CRP, lab(12, 20, "Observation/crp-old")),
        unusable=(Unusable("Observation/crp-new", "no value", Topic.CRP, at(5)),),
    )
    assert crp(facts, SEED).status is Status.UNKNOWN


def test_s10_unreadable_older_result_does_not_hide_a_newer_readable_one() -> None:
    facts = replace(
        example_1(), unusable=(Unusable("Observation/crp-x", "no value", Topic.CRP, at(60)),)
    )
    result = crp(facts, SEED)
    assert result.status is Status.MET
    assert [u.reference for u in result.unusable] == ["Observation/crp-x"]


def test_s10_undated_unreadable_result_may_be_the_latest() -> None:
    facts = replace(
        example_1(),
        unusable=(Unusable("Observation/t-x", "no collection date", Topic.INFLIXIMAB_LEVEL),),
    )
    assert trough(facts, SEED).status is Status.UNKNOWN


def test_s10_antibodies_any_unreadable_record_in_history_is_unknown() -> None:
    old = Unusable("Observation/ab-old", "free text 'Inconclusive'", Topic.ANTIBODIES, at(900))
    result = antibodies(replace(example_1(), unusable=(old,)), SEED)
    assert result.status is Status.UNKNOWN
    assert [u.reference for u in result.unusable] == ["Observation/ab-old"]
    assert "An anti-infliximab antibody result (2024-06-05) could not be read" in result.note
    assert "Inconclusive" in result.note


def test_s10_antibodies_clear_positive_anywhere_stays_not_met() -> None:
    doubt = Unusable("Observation/ab-x", "no reference range", Topic.ANTIBODIES, at(5))
    facts = replace(
        example_1(antibodies=(antibody(POS, 700, "Observation/ab-pos"),)), unusable=(doubt,)
    )
    assert antibodies(facts, SEED).status is Status.NOT_MET


def test_s10_hla_unreadable_record_is_unknown_never_not_tested() -> None:
    doubt = Unusable("Observation/hla-x", "no HLA-DQA1 allele in the result", Topic.HLA_DQA1_05)
    result = hla_dqa1_05(replace(example_1(), unusable=(doubt,)), SEED)
    assert result.status is Status.UNKNOWN
    assert [u.reference for u in result.unusable] == ["Observation/hla-x"]
    assert "An HLA-DQA1*05 result (undated) could not be read" in result.note


def test_s10_hla_carrier_beside_unreadable_stays_not_met() -> None:
    doubt = Unusable("Observation/hla-x", "unreadable", Topic.HLA_DQA1_05)
    carrier = (Fact(value=True, reference="Observation/hla", effective=at(500)),)
    facts = replace(example_1(hla_dqa1_05_carrier=carrier), unusable=(doubt,))
    assert hla_dqa1_05(facts, SEED).status is Status.NOT_MET


def test_s10_unreadable_record_of_another_topic_changes_nothing() -> None:
    doubt = Unusable("Observation/calp", "no value", Topic.CALPROTECTIN, at(1))
    (assessment,) = assess(replace(example_1(), unusable=(doubt,)), SEED, hook="patient-view")
    assert assessment.recommendation is Recommendation.WITHDRAWAL_CANDIDATE


def test_s10_unreadable_records_are_named_in_a_fixed_order() -> None:
    records = (
        Unusable("Observation/a", "no value", Topic.CRP, at(3)),
        Unusable("Observation/b", "no value", Topic.CRP, at(1)),
        Unusable("Observation/c", "no value", Topic.CRP),
    )
    notes = {
        crp(replace(example_1(), unusable=order), SEED).note
        for order in (records, records[::-1], records[1:] + records[:1])
    }
    assert len(notes) == 1


# --- trough timing: a level drawn soon after an infusion is a peak --------------------------


def _infused(days_ago: int, *, hour: int | None = 9) -> Infusion:
    given = at(days_ago) if hour is None else at(days_ago).replace(hour=hour)
    return Infusion("MedicationAdministration/ifx-1", given, timed=hour is not None)


def test_s10_trough_timing_level_within_14_days_after_infusion_is_unknown() -> None:
    facts = example_1(infusions=(_infused(23),))  # the level is 20 days ago: 3 days after
    result = trough(facts, SEED)
    assert result.status is Status.UNKNOWN
    assert "not a trough: drawn 3 days after the infusion of" in result.note
    assert "MedicationAdministration/ifx-1" in result.references
    assert Need.INFLIXIMAB_LEVEL in result.to_obtain
    (assessment,) = assess(facts, SEED, hook="patient-view")
    assert assessment.recommendation is Recommendation.INSUFFICIENT_DATA


def test_s10_trough_timing_infusion_after_the_level_is_a_trough() -> None:
    """The usual practice: the level drawn at 08:30, just before the 09:00 infusion."""
    assert trough(example_1(infusions=(_infused(20),)), SEED).status is Status.MET


def test_s10_trough_timing_untimed_infusion_on_the_day_of_the_level_is_unknown() -> None:
    result = trough(example_1(infusions=(_infused(20, hour=None),)), SEED)
    assert result.status is Status.UNKNOWN
    assert "on the day of the infusion" in result.note and "time is not recorded" in result.note


def test_s10_trough_timing_boundary_14_days_is_a_peak_15_a_trough() -> None:
    """'No infliximab administration in the 14 days before its collection'."""
    assert trough(example_1(infusions=(_infused(34, hour=8),)), SEED).status is Status.UNKNOWN
    assert trough(example_1(infusions=(_infused(35),)), SEED).status is Status.MET


def test_s10_trough_timing_without_administrations_levels_are_troughs() -> None:
    assert trough(example_1(), SEED).status is Status.MET


def test_s10_trough_timing_only_the_latest_infusion_before_the_level_counts() -> None:
    """An infusion after the level and an old one before it: the level is a trough."""
    facts = example_1(infusions=(_infused(10), _infused(76)))
    assert trough(facts, SEED).status is Status.MET


def test_s10_trough_timing_a_low_level_after_an_infusion_is_unknown_too() -> None:
    """The spec makes the criterion unknown, whatever the peak's value."""
    facts = with_lab(
        example_1(infusions=(_infused(23),)), Analyte.INFLIXIMAB_LEVEL, lab(4, 20, "Observation/t")
    )
    assert trough(facts, SEED).status is Status.UNKNOWN
