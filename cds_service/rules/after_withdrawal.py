"""Pathway B: infliximab continues after the thiopurine was stopped (decision-spec §4).

Each check is phrased as a criterion that is met when it is reassuring, so the card reads like
pathway A: a not-met check means reintroduce an immunomodulator; missing results once the
monitoring delay has passed mean monitor; reassuring results (or an early date) mean no card.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import date
from typing import Any, TypeVar

from cds_service.rules.assessment import (
    Assessment,
    Criterion,
    CriterionResult,
    Need,
    Note,
    NoteCode,
    Pathway,
    Recommendation,
    Status,
    cited_evidence,
)
from cds_service.rules.policy import Policy
from cds_service.rules.topics import unless_incomplete, with_unusable
from cds_service.rules.window import days_between, describe, describe_all, source
from fhir_mappings.facts import Analyte, AntibodyStatus, DrugClass, Fact, PatientFacts
from fhir_mappings.topics import Topic

F = TypeVar("F", bound=Fact[Any])


def stopped_on(facts: PatientFacts, policy: Policy) -> date | None:
    """The thiopurine stop date when pathway B applies (stopped within the window, IFX active)."""
    thiopurine = facts.exposure(DrugClass.THIOPURINE)
    infliximab = facts.exposure(DrugClass.INFLIXIMAB)
    if thiopurine is None or thiopurine.active or thiopurine.stopped_on is None:
        return None
    if infliximab is None or not infliximab.active:
        return None
    days = days_between(thiopurine.stopped_on, facts.evaluated_on)
    return thiopurine.stopped_on if days >= 0 and policy.pathway_b.window.decide(days) else None


def _split(stop: date, facts: tuple[F, ...]) -> tuple[tuple[F, ...], tuple[F, ...]]:
    """(after the stop, on or before it), newest first; undated results are neither."""
    after: list[F] = []
    before: list[F] = []
    for fact in facts:
        if fact.effective is not None:
            (after if fact.effective.date() > stop else before).append(fact)
    return tuple(after), tuple(before)


def _antibodies(stop: date, facts: PatientFacts, policy: Policy) -> CriterionResult:
    after, _ = _split(stop, facts.antibodies)
    positive = [f for f in after if f.value is AntibodyStatus.POSITIVE]
    shown = positive[0] if positive else (after[0] if after else None)
    if positive:
        status, note = Status.NOT_MET, f"Positive since the stop: {describe_all(positive)}."
    elif shown is not None:
        status, note = Status.MET, f"Negative since the stop {source(shown)}."
    else:
        status, note = Status.UNKNOWN, f"No result since the stop on {stop.isoformat()}."
    return CriterionResult(
        id=Criterion.ANTIBODIES_AFTER_STOP,
        status=status,
        threshold="no positive result since the stop",
        note=note,
        fact=shown,
        references=(shown.reference,) if shown else (),
        evidence=policy.cite(policy.pathway_b.evidence.reintroduce),
    )


def _trough(stop: date, facts: PatientFacts, policy: Policy) -> CriterionResult:
    threshold = policy.pathway_b.trough_after_stop
    after, _ = _split(stop, facts.lab(Analyte.INFLIXIMAB_LEVEL))
    result = CriterionResult(
        id=Criterion.TROUGH_AFTER_STOP,
        status=Status.UNKNOWN,
        threshold=threshold.text,
        note=f"No level since the stop on {stop.isoformat()}.",
        evidence=policy.cite(threshold.evidence),
    )
    if not after:
        return result
    latest = after[0]
    verdict = threshold.decide(latest.value, latest.comparator)
    status = {True: Status.MET, False: Status.NOT_MET, None: Status.UNKNOWN}[verdict]
    return replace(
        result,
        status=status,
        note=f"Latest level since the stop: {describe(latest)}.",
        fact=latest,
        references=(latest.reference,),
    )


def _drop(stop: date, facts: PatientFacts, policy: Policy) -> CriterionResult:
    """The fall from the last level before the stop to the latest after it, in percent."""
    threshold = policy.pathway_b.trough_drop
    after, before = _split(stop, facts.lab(Analyte.INFLIXIMAB_LEVEL))
    result = CriterionResult(
        id=Criterion.TROUGH_DROP,
        status=Status.UNKNOWN,
        threshold=f"fall from the last level before the stop {threshold.text}",
        note="No exact level both before and after the stop.",
        evidence=policy.cite(threshold.evidence),
    )
    if not after or not before or after[0].comparator or before[0].comparator:
        return result
    latest, baseline = after[0], before[0]
    if baseline.value <= 0:
        return result
    # Rounded so that a fall of exactly the limit (9.0 -> 6.3 is 30 %) is not lost to binary floats.
    drop = round((baseline.value - latest.value) / baseline.value * 100, 9)
    ok = threshold.decide(drop) is True
    return replace(
        result,
        status=Status.MET if ok else Status.NOT_MET,
        note=f"Level {describe(latest)} is {drop:.0f} % below {describe(baseline)}.",
        fact=latest,
        references=(latest.reference, baseline.reference),
    )


def assess_after_withdrawal(
    facts: PatientFacts,
    policy: Policy,
    modifiers: tuple[Note, ...],
    incomplete: Collection[Topic] = (),
) -> Assessment | None:
    stop = stopped_on(facts, policy)
    if stop is None:
        return None
    results = tuple(
        unless_incomplete(with_unusable(facts, judge(stop, facts, policy)), incomplete)
        for judge in (_antibodies, _trough, _drop)
    )
    failing = tuple(r.id for r in results if r.status is Status.NOT_MET)
    monitoring_due = policy.pathway_b.monitor_after.decide(days_between(stop, facts.evaluated_on))
    unchecked = any(
        r.status is Status.UNKNOWN
        for r in results
        if r.id in (Criterion.ANTIBODIES_AFTER_STOP, Criterion.TROUGH_AFTER_STOP)
    )
    notes: tuple[Note, ...] = ()
    to_obtain: tuple[Need, ...] = ()
    if failing:
        recommendation = Recommendation.REINTRODUCE_IMMUNOMODULATOR
        notes = (_reintroduce_note(policy), tpmt_note(facts))
        to_obtain = () if facts.thiopurine_metabolism else (Need.TPMT,)
    elif unchecked and monitoring_due:
        recommendation = Recommendation.MONITOR_AFTER_WITHDRAWAL
        to_obtain = (Need.INFLIXIMAB_LEVEL, Need.ANTIBODIES)
    else:
        return None
    return Assessment(
        pathway=Pathway.AFTER_WITHDRAWAL,
        recommendation=recommendation,
        evaluated_on=facts.evaluated_on,
        policy_id=policy.id,
        policy_version=policy.version,
        criteria=results,
        failing=failing,
        to_obtain=to_obtain,
        modifiers=modifiers,
        notes=notes,
        evidence=cited_evidence(results, notes),
        draft_orders=tuple(d for d in facts.draft_orders if d.selected),
        unusable=facts.unusable,
        patient_reference=facts.patient_reference,
    )


def _reintroduce_note(policy: Policy) -> Note:
    return Note(
        NoteCode.REINTRODUCE_OPTIONS,
        "Consider reintroducing azathioprine or switching to methotrexate rather than dose"
        " escalation alone (COMMIT: methotrexate also lowers antibody formation with infliximab).",
        policy.cite(policy.pathway_b.evidence.reintroduce),
    )


def tpmt_note(facts: PatientFacts) -> Note:
    """TPMT/NUDT15 status, which must be known before a thiopurine (re)start."""
    on_record = facts.thiopurine_metabolism
    text = (
        f"TPMT/NUDT15 on record: {describe_all(on_record)}."
        if on_record
        else "No TPMT/NUDT15 result on record: test before a thiopurine (re)start."
    )
    return Note(NoteCode.TPMT_STATUS, text, references=tuple(f.reference for f in on_record))
