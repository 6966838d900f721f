"""SPEC-18 over every combination: the summary stays under 140 characters whatever the rules
name (any failing criteria, anything to obtain), and still states the recommendation."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from cds_service.cards.wording import CRITERION_NAMES, summary
from cds_service.rules import (
    Assessment,
    Criterion,
    CriterionResult,
    Need,
    Pathway,
    Recommendation,
    Status,
)

BASE = Assessment(
    pathway=Pathway.WITHDRAWAL,
    recommendation=Recommendation.WITHDRAWAL_CANDIDATE,
    evaluated_on=date(2026, 11, 22),
    policy_id="seed-2026",
    policy_version="2026.1",
)


@given(
    st.sampled_from(list(Recommendation)),
    st.lists(st.sampled_from(list(Criterion)), unique=True),
    st.lists(st.sampled_from(list(Need)), unique=True),
)
def test_spec_18_summary_under_140_for_every_combination(
    code: Recommendation, failing: list[Criterion], needs: list[Need]
) -> None:
    text = summary(
        replace(BASE, recommendation=code, failing=tuple(failing), to_obtain=tuple(needs))
    )
    assert 0 < len(text) < 140


def test_spec_18_summary_names_failing_criteria_when_they_fit() -> None:
    few = replace(
        BASE,
        recommendation=Recommendation.CONTINUE_COMBINATION,
        failing=(Criterion.CRP, Criterion.TROUGH),
    )
    assert summary(few) == "Continue infliximab + thiopurine; not met: CRP, infliximab trough"
    every = replace(few, failing=tuple(CRITERION_NAMES))
    assert (
        summary(every)
        == f"Continue infliximab + thiopurine; not met: {len(CRITERION_NAMES)} criteria"
    )


def test_spec_18_summary_names_what_to_obtain() -> None:
    missing = replace(
        BASE, recommendation=Recommendation.INSUFFICIENT_DATA, to_obtain=(Need.CRP, Need.PLATELETS)
    )
    assert (
        summary(missing)
        == "Thiopurine withdrawal cannot be assessed yet; obtain: CRP, platelet count"
    )


def test_spec_18_summary_when_nothing_to_order_but_data_missing() -> None:
    incomplete = replace(BASE, recommendation=Recommendation.INSUFFICIENT_DATA)
    assert "could not be obtained" in summary(incomplete)


def test_spec_18_reintroduce_summary_says_what_happened_since_the_stop() -> None:
    failing = (Criterion.ANTIBODIES_AFTER_STOP, Criterion.TROUGH_DROP)
    reintroduce = replace(
        BASE, recommendation=Recommendation.REINTRODUCE_IMMUNOMODULATOR, failing=failing
    )
    assert summary(reintroduce) == (
        "Consider reintroducing an immunomodulator; since the thiopurine stop: "
        "antibodies positive, trough fell"
    )


def test_s10_summary_names_the_undecided_criterion_when_no_test_would_settle_it() -> None:
    """An unreadable HLA record: the EHR sent it, so the summary does not blame missing data."""
    hla = CriterionResult(
        id=Criterion.HLA_DQA1_05, status=Status.UNKNOWN, threshold="not a carrier", note="x"
    )
    text = summary(replace(BASE, recommendation=Recommendation.INSUFFICIENT_DATA, criteria=(hla,)))
    assert text == "Thiopurine withdrawal cannot be assessed yet; undecided: HLA-DQA1*05"
