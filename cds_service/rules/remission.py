"""The remission criterion: steroid-free clinical remission for at least the policy's period.

Evidence of activity wins over evidence of remission (a relapse, a short remission, a score above
its cut-off in the period, or a systemic corticosteroid in the period each make it not-met). A
plain problem-list "active" status is no evidence either way (decision-spec §7): chronic
conditions stay active on problem lists during remission.

A corticosteroid course counts by the latest day it may have ended (decision-spec §10): a
month-precision end by that month's last day. A course whose end is unknown may have run into
the period: it is activity when recorded within the period, doubt (unknown) otherwise - never
taken as ended on its start or order date.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date
from itertools import takewhile
from typing import Any

from cds_service.rules.assessment import Criterion, CriterionResult, Need, Status
from cds_service.rules.criteria import window
from cds_service.rules.policy import Policy
from cds_service.rules.topics import with_unusable
from cds_service.rules.window import days_between, describe, source
from fhir_mappings.facts import ConditionState, DrugClass, Fact, Interval, PatientFacts
from fhir_mappings.topics import TOPIC_LABELS, Topic

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
    doubt = None if activity else next(_steroids(facts, policy, Status.UNKNOWN), None)
    evidence = None if activity else _remission(facts, policy)
    if (found := activity or evidence) is not None:
        why, fact, references = found
        result = replace(
            result,
            status=Status.NOT_MET if activity else Status.MET,
            note=why,
            fact=fact,
            references=references,
            to_obtain=(),
        )
    if doubt is not None:  # remission or not, a steroid may have run into the period
        why, _, references = doubt
        result = replace(
            result,
            status=Status.UNKNOWN,
            note=f"{result.note} {why}" if evidence else why,
            references=tuple(dict.fromkeys((*result.references, *references))),
            to_obtain=(Need.REMISSION_ASSESSMENT,),
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
                    f"{TOPIC_LABELS[Topic(score.value)]} {describe(fact)} is not {cut_off.text}.",
                    fact,
                    (fact.reference,),
                )
    yield from _steroids(facts, policy, Status.NOT_MET)


def _steroids(facts: PatientFacts, policy: Policy, status: Status) -> Iterator[_Finding]:
    """The corticosteroid courses that make the criterion `status` (not-met or unknown)."""
    period = policy.pathway_a.remission
    exposure = facts.exposure(DrugClass.CORTICOSTEROID)
    if exposure is None:
        return

    def in_period(day: date) -> bool:
        return not period.decide(days_between(day, facts.evaluated_on))

    for interval in exposure.intervals:
        if _steroid_status(interval, in_period) is not status:
            continue
        if status is Status.NOT_MET:
            why = f"not steroid-free for {period.text}"
        else:
            why = f"it may have continued into the last {period.text}: record when it ended"
        yield (
            f"Systemic corticosteroid {_course_text(interval)}: {why}.",
            None,
            interval.references,
        )


def _steroid_status(interval: Interval, in_period: Callable[[date], bool]) -> Status | None:
    """NOT_MET when a course certainly reaches into the period (ongoing, its latest possible
    end within it, or of unknown end but recorded within it), UNKNOWN when an unknown end may
    reach it, None when it ended before the period."""
    if interval.end is None:
        return Status.NOT_MET
    if interval.latest_end == date.max:  # end unknown: `end` is the last recorded use
        return Status.NOT_MET if in_period(interval.end) else Status.UNKNOWN
    return Status.NOT_MET if in_period(interval.latest_end or interval.end) else None


def _course_text(interval: Interval) -> str:
    start = interval.start.isoformat() if interval.start else "an unknown date"
    if interval.end is None:
        return "ongoing"
    if interval.latest_end == date.max:
        return f"from {start}, end not recorded (last recorded {interval.end.isoformat()})"
    if interval.latest_end is not None:
        return f"ending between {interval.end.isoformat()} and {interval.latest_end.isoformat()}"
    return f"until {interval.end.isoformat()}"


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
