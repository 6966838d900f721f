"""The remission criterion (decision-spec §3 and §7): activity wins over remission evidence."""

from __future__ import annotations

import pytest

from cds_service.rules import Need, Status, load_policy
from cds_service.rules.remission import remission
from fhir_mappings.facts import ActivityScore, ConditionState, DrugClass, Fact, Unusable

from .builders import at, example_1, exposure, with_exposure

SEED = load_policy()
REMISSION, RELAPSE, ACTIVE = ConditionState.REMISSION, ConditionState.RELAPSE, ConditionState.ACTIVE


def _state(
    value: ConditionState, days_ago: int | None, ref: str = "Condition/cd"
) -> Fact[ConditionState]:
    return Fact(
        value=value, reference=ref, effective=at(days_ago) if days_ago is not None else None
    )


def _scores(
    score: ActivityScore, *pairs: tuple[float, int]
) -> dict[ActivityScore, tuple[Fact[float], ...]]:
    facts = tuple(
        Fact(value=v, reference=f"Observation/{score.value}-{d}", effective=at(d)) for v, d in pairs
    )
    return {score: facts}


@pytest.mark.parametrize(
    ("days", "status"), [(183, Status.MET), (184, Status.MET), (182, Status.NOT_MET)]
)
def test_s3_remission_boundary_183(days: int, status: Status) -> None:
    result = remission(example_1(condition_states=(_state(REMISSION, days),)), SEED)
    assert result.status is status
    assert result.references == ("Condition/cd",)


def test_rule_remission_relapse_is_not_met() -> None:
    facts = example_1(condition_states=(_state(RELAPSE, 30, "Condition/r"), _state(REMISSION, 400)))
    result = remission(facts, SEED)
    assert (result.status, result.references) == (Status.NOT_MET, ("Condition/r",))


def test_s7_plain_active_problem_list_is_no_evidence() -> None:
    result = remission(example_1(condition_states=(_state(ACTIVE, 2000),)), SEED)
    assert (result.status, result.to_obtain) == (Status.UNKNOWN, (Need.REMISSION_ASSESSMENT,))


def test_rule_remission_undated_is_unknown() -> None:
    assert (
        remission(example_1(condition_states=(_state(REMISSION, None),)), SEED).status
        is Status.UNKNOWN
    )


@pytest.mark.parametrize(
    ("steroid_end", "status"), [(60, Status.NOT_MET), (182, Status.NOT_MET), (183, Status.MET)]
)
def test_s9_rule_steroid_within_183_days_is_not_met(steroid_end: int, status: Status) -> None:
    budesonide = exposure(
        DrugClass.CORTICOSTEROID, 150 + steroid_end, steroid_end, ref="MedicationStatement/bud"
    )
    result = remission(with_exposure(example_1(), budesonide), SEED)
    assert result.status is status
    if status is Status.NOT_MET:
        assert result.references == ("MedicationStatement/bud",) and "corticosteroid" in result.note


def test_rule_ongoing_steroid_is_not_met() -> None:
    pred = exposure(DrugClass.CORTICOSTEROID, 500, None, ref="MedicationRequest/pred")
    assert remission(with_exposure(example_1(), pred), SEED).status is Status.NOT_MET


@pytest.mark.parametrize(
    ("score", "in_range", "above"),
    [
        (ActivityScore.HARVEY_BRADSHAW, 4, 5),
        (ActivityScore.CDAI, 149, 150),
        (ActivityScore.PARTIAL_MAYO, 2, 3),
    ],
)
def test_s7_activity_score_cut_offs(score: ActivityScore, in_range: float, above: float) -> None:
    covering = example_1(
        condition_states=(), activity_scores=_scores(score, (in_range, 10), (in_range, 200))
    )
    assert remission(covering, SEED).status is Status.MET
    active = example_1(activity_scores=_scores(score, (above, 100), (in_range, 300)))
    result = remission(active, SEED)
    assert result.status is Status.NOT_MET  # activity wins over the documented remission
    assert result.references == (f"Observation/{score.value}-100",)


def test_rule_scores_must_cover_183_days_from_a_fresh_one() -> None:
    hbi = ActivityScore.HARVEY_BRADSHAW
    short = example_1(condition_states=(), activity_scores=_scores(hbi, (2, 10), (3, 150)))
    assert remission(short, SEED).status is Status.UNKNOWN
    not_fresh = example_1(condition_states=(), activity_scores=_scores(hbi, (2, 120), (3, 300)))
    assert remission(not_fresh, SEED).status is Status.UNKNOWN
    old_flare = example_1(
        condition_states=(), activity_scores=_scores(hbi, (2, 10), (2, 190), (9, 400))
    )
    assert remission(old_flare, SEED).status is Status.MET


def test_rule_remission_names_unusable_steroid_record() -> None:
    facts = example_1(
        unusable=(Unusable("MedicationStatement/x", "medication not resolvable", "corticosteroid"),)
    )
    result = remission(facts, SEED)
    assert [u.reference for u in result.unusable] == ["MedicationStatement/x"]
    assert "A corticosteroid record (undated) could not be read" in result.note
