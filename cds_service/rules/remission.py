"""The remission criterion: steroid-free clinical remission for at least the policy's period.

Evidence of activity wins over evidence of remission (a relapse, a short remission, a score above
its cut-off in the period, or a systemic corticosteroid in the period each make it not-met). A
plain problem-list "active" status is no evidence either way (decision-spec §7): chronic
conditions stay active on problem lists during remission.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from itertools import takewhile
from typing import Any

from cds_service.rules.assessment import Criterion, CriterionResult, Need, Status
from cds_service.rules.criteria import window
from cds_service.rules.policy import Policy
from cds_service.rules.topics import with_unusable
from cds_service.rules.window import days_between, describe, source
from fhir_mappings.facts import ConditionState, DrugClass, Fact, PatientFacts

_Finding = tuple[str, Fact[Any] | None, tuple[str, ...]]  # (why, fact, references)


def remission(facts: PatientFacts, policy: Policy) -> CriterionResult:
    period = policy.pathway_a.remission
    result = CriterionResult(
        id=Criterion.REMISSION,
        status=Status.UNKNOWN,
        threshold=f"steroid-free remission {period.text}",
        note="No evidence of remission or of activity on record.",
        to_obtain=(Need.REMISSION_ASSESSMENT,),
        evidence=policy.cite(period.evidence),
    )
    activity = next(_activity(facts, policy), None)
    found = activity or _remission(facts, policy)
    if found is not None:
        why, fact, references = found
        result = replace(
            result,
            status=Status.NOT_MET if activity else Status.MET,
            note=why,
            fact=fact,
            references=references,
            to_obtain=(),
        )
    return with_unusable(facts, result)


def _days_ago(facts: PatientFacts, fact: Fact[Any]) -> int | None:
    return days_between(fact.effective.date(), facts.evaluated_on) if fact.effective else None


def _activity(facts: PatientFacts, policy: Policy) -> Iterator[_Finding]:
    """Every piece of evidence of disease activity within the period, most decisive first."""
    period = policy.pathway_a.remission
    for state in facts.condition_states:
        if state.value is ConditionState.RELAPSE:
            yield (
                f"Active disease (relapse) on record {source(state)}.",
                state,
                (state.reference,),
            )
        days = _days_ago(facts, state)
        if state.value is ConditionState.REMISSION and days is not None and not period.decide(days):
            yield (
                f"Remission for {days} days only {source(state)}; needs {period.text}.",
                state,
                (state.reference,),
            )
    for score, cut_off in policy.activity_scores.items():
        for fact in facts.activity_scores.get(score, ()):
            days = _days_ago(facts, fact)
            in_period = days is not None and not period.decide(days)
            if in_period and cut_off.decide(fact.value, fact.comparator) is False:
                yield (
                    f"{score.value} score {describe(fact)} is not {cut_off.text}.",
                    fact,
                    (fact.reference,),
                )
    yield from _steroids(facts, policy)


def _steroids(facts: PatientFacts, policy: Policy) -> Iterator[_Finding]:
    period = policy.pathway_a.remission
    exposure = facts.exposure(DrugClass.CORTICOSTEROID)
    if exposure is None:
        return
    for interval in exposure.intervals:
        end = interval.end
        if end is None or not period.decide(days_between(end, facts.evaluated_on)):
            until = "ongoing" if end is None else f"until {end.isoformat()}"
            refs = ", ".join(interval.references) or "a medication record"
            yield (
                f"Systemic corticosteroid {until} ({refs}): not steroid-free for {period.text}.",
                None,
                interval.references,
            )


def _remission(facts: PatientFacts, policy: Policy) -> _Finding | None:
    """Evidence of remission lasting the whole period: a dated remission, or a run of scores."""
    period = policy.pathway_a.remission
    for state in facts.condition_states:
        days = _days_ago(facts, state)
        if state.value is ConditionState.REMISSION and days is not None and period.decide(days):
            return (f"In remission for {days} days {source(state)}.", state, (state.reference,))
    return _score_run(facts, policy)


def _score_run(facts: PatientFacts, policy: Policy) -> _Finding | None:
    """Scores all within their cut-offs from a fresh one back to one at least a period old."""
    dated = sorted(
        (
            (fact.effective, fact, cut_off.decide(fact.value, fact.comparator) is True)
            for score, cut_off in policy.activity_scores.items()
            for fact in facts.activity_scores.get(score, ())
            if fact.effective is not None
        ),
        key=lambda entry: entry[0],
        reverse=True,
    )
    run = [fact for _, fact, _ in takewhile(lambda entry: entry[2], dated)]
    if not run or not window(facts, policy).is_fresh(run[0]):
        return None
    days = _days_ago(facts, run[-1])
    if days is None or not policy.pathway_a.remission.decide(days):
        return None
    return (
        f"{len(run)} activity scores within their cut-offs over {days} days, latest "
        f"{describe(run[0])}.",
        run[-1],
        tuple(f.reference for f in run),
    )
