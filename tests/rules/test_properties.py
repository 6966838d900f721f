"""Properties of pathway A over generated facts (decision-spec §3): unknown is never met.

Whenever the outcome is withdrawal-candidate, every criterion is met and every lab it rests on
lies within the freshness window; an unknown criterion never yields withdrawal.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import find, given, settings
from hypothesis import strategies as st

from cds_service.rules import Criterion, Recommendation, Status, assess, load_policy
from cds_service.rules.window import days_between
from fhir_mappings.facts import Analyte, AntibodyStatus, Comparator, Fact, Interval, PatientFacts

from .builders import TODAY, antibody, at, born_on, day, example_1, lab

POLICIES = st.sampled_from([load_policy("seed-2026"), load_policy("guideline-5")])
DAYS = st.integers(min_value=0, max_value=400)
COMPARATORS = st.sampled_from([None, None, None, *Comparator])
_FRESH_LABS = (Criterion.TROUGH, Criterion.CRP, Criterion.PLATELETS, Criterion.ANTIBODIES)


def _labs(analyte: Analyte, low: float, high: float) -> st.SearchStrategy[tuple[Fact[float], ...]]:
    one = st.builds(
        lambda v, d, c, i: lab(v, d, f"Observation/{analyte.value}-{i}", comparator=c),
        st.floats(min_value=low, max_value=high, allow_nan=False),
        DAYS,
        COMPARATORS,
        st.integers(0, 9),
    )
    return st.lists(one, max_size=3).map(_newest_first)


def _or_good(good: object, other: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    """Either example 1's (all-met) value or a generated one, so every outcome is reachable."""
    return st.one_of(st.just(good), other)


@st.composite
def patients(draw: st.DrawFn) -> PatientFacts:
    good = example_1()
    statuses = st.sampled_from(list(AntibodyStatus))
    antibodies = st.lists(
        st.builds(antibody, statuses, DAYS, st.just("Observation/ab")), max_size=3
    )
    starts = st.sampled_from([None, 700, 811, 812, 1000])
    carrier = (Fact(value=True, reference="Observation/hla", effective=at(500)),)
    labs = {
        Analyte.INFLIXIMAB_LEVEL: _labs(Analyte.INFLIXIMAB_LEVEL, 0, 20),
        Analyte.CRP: _labs(Analyte.CRP, 0, 10),
        Analyte.PLATELETS: _labs(Analyte.PLATELETS, 150, 400),
    }
    return example_1(
        labs={a: draw(_or_good(good.lab(a), strategy)) for a, strategy in labs.items()},
        antibodies=draw(_or_good(good.antibodies, antibodies.map(_newest_first))),
        combination=draw(
            _or_good(
                good.combination,
                starts.map(
                    lambda d: Interval(day(d) if d else None, None, ("MedicationStatement/aza",))
                ),
            )
        ),
        condition_states=draw(st.sampled_from([(), good.condition_states])),
        hla_dqa1_05_carrier=draw(st.sampled_from([(), carrier])),
    )


def _newest_first(facts: list[Fact[Any]]) -> tuple[Fact[Any], ...]:
    return tuple(sorted(facts, key=lambda f: f.effective or at(0), reverse=True))


def test_s3_property_generator_reaches_every_pathway_a_outcome() -> None:
    """Guards the property below against a generator that never yields a withdrawal."""
    for outcome in (Recommendation.WITHDRAWAL_CANDIDATE, Recommendation.INSUFFICIENT_DATA):
        find(
            patients(),
            lambda f, o=outcome: (
                assess(f, load_policy(), hook="patient-view")[0].recommendation is o
            ),
        )


@settings(max_examples=300, deadline=None)
@given(patients(), POLICIES)
def test_s3_property_withdrawal_only_when_all_met_on_fresh_data(
    facts: PatientFacts, policy
) -> None:
    (assessment,) = assess(facts, policy, hook="patient-view")
    statuses = {c.status for c in assessment.criteria}
    if assessment.recommendation is Recommendation.WITHDRAWAL_CANDIDATE:
        assert statuses == {Status.MET}
        for criterion in assessment.criteria:
            if criterion.id in _FRESH_LABS:
                assert criterion.fact is not None and criterion.fact.effective is not None
                assert days_between(criterion.fact.effective.date(), TODAY) <= 90
    if Status.UNKNOWN in statuses:
        assert assessment.recommendation is not Recommendation.WITHDRAWAL_CANDIDATE
    if Status.NOT_MET in statuses:
        assert assessment.recommendation is Recommendation.CONTINUE_COMBINATION
        assert set(assessment.failing) == {
            c.id for c in assessment.criteria if c.status is Status.NOT_MET
        }
    elif Status.UNKNOWN in statuses:
        assert assessment.recommendation is Recommendation.INSUFFICIENT_DATA
        assert assessment.to_obtain


@settings(max_examples=100, deadline=None)
@given(patients(), st.integers(0, 60), st.sampled_from(["male", "female"]))
def test_s6_property_modifiers_never_change_outcome(
    facts: PatientFacts, age_offset: int, sex: str
) -> None:
    policy = load_policy()
    (plain,) = assess(facts, policy, hook="patient-view")
    other = replace(
        facts,
        birth_date=born_on(TODAY.replace(year=TODAY.year - 18 - age_offset)),
        sex=Fact(value=sex, reference="Patient/p1"),
    )
    (modified,) = assess(other, policy, hook="patient-view")
    assert modified.recommendation is plain.recommendation
