"""Pathway A criteria one by one (decision-spec §3): rule, boundaries, provenance."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cds_service.rules import Need, Status, load_policy
from cds_service.rules.criteria import antibodies, crp, duration, hla_dqa1_05, platelets, trough
from fhir_mappings.facts import Analyte, Comparator, Fact, Interval, Unusable

from .builders import NEG, POS, TODAY, antibody, at, day, example_1, lab, with_lab

SEED = load_policy("seed-2026")
GUIDELINE = load_policy("guideline-5")


def _trough(value: float, days_ago: int = 10, comparator: Comparator | None = None):
    return with_lab(
        example_1(),
        Analyte.INFLIXIMAB_LEVEL,
        lab(value, days_ago, "Observation/t", comparator=comparator),
    )


@pytest.mark.parametrize(
    ("value", "status"), [(10.0, Status.NOT_MET), (10.01, Status.MET), (9.99, Status.NOT_MET)]
)
def test_rule_trough_strict(value: float, status: Status) -> None:
    result = trough(_trough(value), SEED)
    assert result.status is status
    assert result.fact is not None and result.fact.reference == "Observation/t"
    assert result.threshold == "> 10 mg/L"


@pytest.mark.parametrize(
    ("value", "status"), [(5.0, Status.MET), (5.01, Status.MET), (4.99, Status.NOT_MET)]
)
def test_s3_guideline_5_trough_boundary(value: float, status: Status) -> None:
    assert trough(_trough(value), GUIDELINE).status is status


def test_rule_trough_censored_cannot_decide() -> None:
    result = trough(_trough(12, comparator=Comparator.LT), SEED)
    assert result.status is Status.UNKNOWN
    assert "<12 mg/L" in result.note and "cannot decide > 10 mg/L" in result.note
    assert result.to_obtain == (Need.INFLIXIMAB_LEVEL,)


def test_rule_trough_censored_above_range_is_met() -> None:
    assert trough(_trough(12, comparator=Comparator.GT), SEED).status is Status.MET


def test_rule_trough_uses_latest_in_window() -> None:
    facts = with_lab(
        example_1(),
        Analyte.INFLIXIMAB_LEVEL,
        lab(8, 5, "Observation/new"),
        lab(14, 40, "Observation/old"),
    )
    result = trough(facts, SEED)
    assert (result.status, result.references) == (Status.NOT_MET, ("Observation/new",))


@pytest.mark.parametrize(
    ("days_ago", "status"), [(89, Status.MET), (90, Status.MET), (91, Status.UNKNOWN)]
)
def test_s3_freshness_boundary_90_inclusive(days_ago: int, status: Status) -> None:
    assert trough(_trough(11.5, days_ago), SEED).status is status


def test_s3_stale_result_is_named() -> None:
    facts = with_lab(example_1(), Analyte.CRP, lab(1.0, 240, "Observation/crp-old"))
    result = crp(facts, SEED)
    assert result.status is Status.UNKNOWN
    assert [f.reference for f in result.stale] == ["Observation/crp-old"]
    # issue 12: the words give value and date; the record's id is provenance, not text
    assert "stale" in result.note and "1 mg/L (2026-03-27)" in result.note
    assert "Observation/" not in result.note
    assert result.to_obtain == (Need.CRP,)


def test_s3_undated_result_is_never_fresh() -> None:
    undated = Fact(value=1.0, reference="Observation/undated", unit="mg/L")
    result = crp(with_lab(example_1(), Analyte.CRP, undated), SEED)
    assert result.status is Status.UNKNOWN and result.stale == (undated,)


def test_s3_missing_lab_is_unknown_never_met() -> None:
    result = platelets(with_lab(example_1(), Analyte.PLATELETS), SEED)
    assert (result.status, result.to_obtain) == (Status.UNKNOWN, (Need.PLATELETS,))


@pytest.mark.parametrize(
    ("value", "status"), [(5.0, Status.MET), (5.01, Status.NOT_MET), (4.99, Status.MET)]
)
def test_s3_crp_boundary_5(value: float, status: Status) -> None:
    assert (
        crp(with_lab(example_1(), Analyte.CRP, lab(value, 10, "Observation/c")), SEED).status
        is status
    )


def test_rule_crp_comparator_less_than_3_is_met() -> None:
    facts = with_lab(
        example_1(), Analyte.CRP, lab(3, 10, "Observation/c", comparator=Comparator.LT)
    )
    result = crp(facts, SEED)
    assert result.status is Status.MET and "<3 mg/L" in result.note


@pytest.mark.parametrize(
    ("value", "status"), [(298, Status.MET), (299, Status.NOT_MET), (297, Status.MET)]
)
def test_s3_platelets_boundary_298(value: float, status: Status) -> None:
    facts = with_lab(example_1(), Analyte.PLATELETS, lab(value, 10, "Observation/p", unit="10*9/L"))
    assert platelets(facts, SEED).status is status


def test_rule_unusable_record_named_in_its_criterion_only() -> None:
    facts = replace(
        with_lab(example_1(), Analyte.CRP),
        unusable=(
            Unusable("Observation/crp-x", "unit 'mmol/L' cannot be converted to mg/L", "crp"),
            Unusable("Observation/other", "no value", "calprotectin"),
        ),
    )
    result = crp(facts, SEED)
    assert [u.reference for u in result.unusable] == ["Observation/crp-x"]
    assert "a CRP result (undated) could not be read: unit 'mmol/L' cannot be" in result.note
    assert platelets(facts, SEED).unusable == ()


def test_rule_antibodies_negative_in_window_is_met() -> None:
    result = antibodies(example_1(), SEED)
    assert (result.status, result.references) == (Status.MET, ("Observation/ab",))


def test_rule_antibodies_positive_ever_is_not_met() -> None:
    facts = example_1(
        antibodies=(antibody(NEG, 10, "Observation/now"), antibody(POS, 1100, "Observation/then"))
    )
    result = antibodies(facts, SEED)
    assert result.status is Status.NOT_MET
    assert result.fact is not None and result.fact.reference == "Observation/then"


def test_rule_antibodies_none_in_window_is_unknown_and_asks_for_level_and_antibodies() -> None:
    result = antibodies(example_1(antibodies=(antibody(NEG, 91, "Observation/old"),)), SEED)
    assert result.status is Status.UNKNOWN
    assert [f.reference for f in result.stale] == ["Observation/old"]
    assert result.to_obtain == (Need.INFLIXIMAB_LEVEL, Need.ANTIBODIES)


def test_rule_antibodies_never_tested_is_unknown() -> None:
    assert antibodies(example_1(antibodies=()), SEED).status is Status.UNKNOWN


def _overlap(days: int) -> Interval:
    return Interval(day(days), None, ("MedicationStatement/ifx", "MedicationStatement/aza"))


@pytest.mark.parametrize(
    ("days", "status"), [(811, Status.NOT_MET), (812, Status.MET), (810, Status.NOT_MET)]
)
def test_s3_duration_boundary_811(days: int, status: Status) -> None:
    result = duration(example_1(combination=_overlap(days)), SEED)
    assert result.status is status
    assert result.fact is not None and result.fact.value == days and result.fact.unit == "d"
    assert result.references == ("MedicationStatement/ifx", "MedicationStatement/aza")


def test_rule_duration_start_unknown_is_unknown() -> None:
    for overlap in (None, Interval(None, None, ("MedicationStatement/aza",))):
        result = duration(example_1(combination=overlap), SEED)
        assert (result.status, result.to_obtain) == (Status.UNKNOWN, (Need.THERAPY_START_DATES,))


def test_rule_hla_never_unknown() -> None:
    untested = hla_dqa1_05(example_1(), SEED)
    assert (untested.status, untested.fact) == (Status.MET, None)
    assert "Not tested" in untested.note
    negative = Fact(value=False, reference="Observation/hla", effective=at(400))
    assert hla_dqa1_05(example_1(hla_dqa1_05_carrier=(negative,)), SEED).status is Status.MET
    carrier = replace(negative, value=True, reference="Observation/hla2")
    result = hla_dqa1_05(example_1(hla_dqa1_05_carrier=(negative, carrier)), SEED)
    assert (result.status, result.references) == (Status.NOT_MET, ("Observation/hla2",))


def test_rule_criteria_carry_their_evidence() -> None:
    assert {e.id for e in duration(example_1(), SEED).evidence} == {"oussalah-2010"}
    assert {e.id for e in hla_dqa1_05(example_1(), SEED).evidence} == {"pants-2020"}


def test_rule_evaluation_date_is_facts_evaluated_on() -> None:
    later = example_1(evaluated_on=TODAY.replace(year=TODAY.year + 1))
    assert trough(later, SEED).status is Status.UNKNOWN


@pytest.mark.parametrize("order", [(12.0, 8.0), (8.0, 12.0)])
def test_rule_contradictory_simultaneous_troughs_are_unknown(order: tuple[float, float]) -> None:
    """Two troughs collected and issued at the same moment, one above and one below 10 mg/L:
    no "latest" exists between them, so neither is read as met (and the order of the records
    cannot change the outcome)."""
    first, second = (lab(value, 5, ref=f"Observation/t{value:g}") for value in order)
    facts = with_lab(example_1(), Analyte.INFLIXIMAB_LEVEL, first, second)
    result = trough(facts, SEED)
    assert result.status is Status.UNKNOWN
    assert "Conflicting results" in result.note
    assert set(result.references) == {"Observation/t12", "Observation/t8"}
    assert result.to_obtain  # the card offers to repeat the test


def test_rule_agreeing_simultaneous_troughs_still_decide() -> None:
    first, second = lab(12.0, 5, ref="Observation/a"), lab(14.0, 5, ref="Observation/b")
    facts = with_lab(example_1(), Analyte.INFLIXIMAB_LEVEL, first, second)
    assert trough(facts, SEED).status is Status.MET
