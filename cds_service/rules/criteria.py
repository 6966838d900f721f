"""Pathway A criteria (decision-spec §3), one function each: met, not-met or unknown.

Unknown is never met: a missing, stale, censored-across-the-limit or unreadable value leaves the
criterion unknown and says what to obtain. Remission has its own module (it weighs several kinds
of evidence).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time
from typing import Any

from cds_service.rules.assessment import Criterion, CriterionResult, Need, Status
from cds_service.rules.policy import Policy, Threshold
from cds_service.rules.topics import with_unusable
from cds_service.rules.trough_timing import infusion_before, peak_text
from cds_service.rules.window import (
    Window,
    days_between,
    describe,
    describe_all,
    simultaneous,
    source,
)
from fhir_mappings.facts import Analyte, AntibodyStatus, Fact, PatientFacts

_NEVER = datetime.min.replace(tzinfo=UTC)
_LAB_NEEDS = {
    Analyte.INFLIXIMAB_LEVEL: (Need.INFLIXIMAB_LEVEL,),
    Analyte.CRP: (Need.CRP,),
    Analyte.PLATELETS: (Need.PLATELETS,),
}


def window(facts: PatientFacts, policy: Policy) -> Window:
    return Window(facts.evaluated_on, policy.pathway_a.freshness)


def stale_text(stale: tuple[Fact[Any], ...]) -> str:
    return f" Outside the window (stale): {describe_all(stale)}." if stale else ""


def trough(facts: PatientFacts, policy: Policy) -> CriterionResult:
    threshold = policy.pathway_a.trough
    judged = _latest_lab(Criterion.TROUGH, facts, policy, Analyte.INFLIXIMAB_LEVEL, threshold)
    if judged.fact is None or judged.status is Status.UNKNOWN:
        return judged
    infusion = infusion_before(judged.fact, facts.infusions, policy.pathway_a.trough_timing)
    if infusion is None:
        return judged
    return replace(
        judged,
        status=Status.UNKNOWN,
        references=(*judged.references, infusion.reference),
        note=f"Latest level {describe(judged.fact)} is not a trough: "
        f"{peak_text(judged.fact, infusion)}. Draw the next level just before an infusion.",
        to_obtain=_LAB_NEEDS[Analyte.INFLIXIMAB_LEVEL],
    )


def crp(facts: PatientFacts, policy: Policy) -> CriterionResult:
    return _latest_lab(Criterion.CRP, facts, policy, Analyte.CRP, policy.pathway_a.crp)


def platelets(facts: PatientFacts, policy: Policy) -> CriterionResult:
    threshold = policy.pathway_a.platelets
    return _latest_lab(Criterion.PLATELETS, facts, policy, Analyte.PLATELETS, threshold)


def _latest_lab(
    criterion: Criterion,
    facts: PatientFacts,
    policy: Policy,
    analyte: Analyte,
    threshold: Threshold,
) -> CriterionResult:
    """The latest result in the freshness window, judged against `threshold`."""
    win = window(facts, policy)
    fresh, stale = win.split(facts.lab(analyte))
    note = f"No result within {win.text}."
    if not fresh:
        # Only this note names the stale results: a judged one replaces it, and a large
        # record holds hundreds of stale results (issue 14).
        note += stale_text(stale)
    base = CriterionResult(
        id=criterion,
        status=Status.UNKNOWN,
        threshold=threshold.text,
        note=note,
        stale=stale,
        to_obtain=_LAB_NEEDS[analyte],
        evidence=policy.cite(threshold.evidence),
    )
    if not fresh:
        return with_unusable(facts, base, latest_since=_NEVER)
    judged = _judge_latest(base, simultaneous(fresh), threshold)
    # §10: an unreadable record as new as the latest readable one may be the real latest.
    return with_unusable(facts, judged, latest_since=fresh[0].effective)


def _judge_latest(
    base: CriterionResult, latest: tuple[Fact[float], ...], threshold: Threshold
) -> CriterionResult:
    """Judge the latest result; results collected and issued at the same moment that would be
    judged differently contradict each other, and contradictory data is never read as met."""
    judged = [_judge(base, fact, threshold) for fact in latest]
    if len({result.status for result in judged}) == 1:
        return judged[0]
    return replace(
        base,
        references=tuple(fact.reference for fact in latest),
        note=f"Conflicting results collected at the same time: {describe_all(latest)}."
        " Repeat the test.",
    )


def _judge(base: CriterionResult, latest: Fact[float], threshold: Threshold) -> CriterionResult:
    verdict = threshold.decide(latest.value, latest.comparator)
    references = (latest.reference,)
    if verdict is None:
        note = (
            f"Latest result {describe(latest)} is censored and cannot decide {threshold.text};"
            " a quantitative result is needed."
        )
        return replace(base, fact=latest, references=references, stale=(), note=note)
    verb = "meets" if verdict else "does not meet"
    return replace(
        base,
        fact=latest,
        references=references,
        stale=(),
        status=Status.MET if verdict else Status.NOT_MET,
        note=f"Latest result {describe(latest)} {verb} {threshold.text}.",
        to_obtain=(),
    )


def antibodies(facts: PatientFacts, policy: Policy) -> CriterionResult:
    """Any positive result ever is a history of antibody formation; else the latest fresh one."""
    win = window(facts, policy)
    fresh, stale = win.split(facts.antibodies)
    positives = tuple(f for f in facts.antibodies if f.value is AntibodyStatus.POSITIVE)
    note = f"No result within {win.text}."
    if not positives and not fresh:  # else a decided note replaces this one (see _latest_lab)
        note += stale_text(stale)
    result = CriterionResult(
        id=Criterion.ANTIBODIES,
        status=Status.UNKNOWN,
        threshold=f"negative within {win.text}, never positive",
        note=note,
        stale=stale,
        # Antibody results are read together with a drug level (drug-tolerant assays).
        to_obtain=(Need.INFLIXIMAB_LEVEL, Need.ANTIBODIES),
        evidence=policy.cite(policy.pathway_a.evidence.antibodies),
    )
    if positives:
        result = replace(
            result,
            status=Status.NOT_MET,
            note=f"Positive result on record: {describe_all(positives)}.",
            fact=positives[0],
            references=tuple(f.reference for f in positives),
            stale=(),
            to_obtain=(),
        )
    elif fresh:
        result = replace(
            result,
            status=Status.MET,
            note=f"Latest result negative {source(fresh[0])}; never positive.",
            fact=fresh[0],
            references=(fresh[0].reference,),
            stale=(),
            to_obtain=(),
        )
    return with_unusable(facts, result)


def duration(facts: PatientFacts, policy: Policy) -> CriterionResult:
    """The current continuous overlap of infliximab and thiopurine, in days."""
    threshold = policy.pathway_a.duration
    overlap = facts.combination
    result = CriterionResult(
        id=Criterion.DURATION,
        status=Status.UNKNOWN,
        threshold=threshold.text,
        note="Start of the current infliximab and thiopurine overlap is not on record.",
        references=overlap.references if overlap else (),
        to_obtain=(Need.THERAPY_START_DATES,),
        evidence=policy.cite(threshold.evidence),
    )
    if overlap is not None and overlap.start is not None:
        days = days_between(overlap.start, facts.evaluated_on)
        verdict = threshold.decide(days) is True
        since = overlap.start.isoformat()
        fact = Fact(
            value=days,
            reference=overlap.references[0] if overlap.references else "combination",
            effective=datetime.combine(overlap.start, time(), tzinfo=UTC),
            unit="d",
        )
        verb = "meets" if verdict else "does not meet"
        result = replace(
            result,
            status=Status.MET if verdict else Status.NOT_MET,
            note=f"Combination for {days} days since {since}: {verb} {threshold.text}.",
            fact=fact,
            to_obtain=(),
        )
    return with_unusable(facts, result)


def hla_dqa1_05(facts: PatientFacts, policy: Policy) -> CriterionResult:
    """Carrier is not-met; a negative test or no test at all is met (testing is not required)."""
    results = facts.hla_dqa1_05_carrier
    carriers = [f for f in results if f.value]
    shown = carriers[0] if carriers else (results[0] if results else None)
    if carriers:
        note = f"HLA-DQA1*05 carrier {source(carriers[0])}."
    elif shown is not None:
        note = f"Tested, not a carrier {source(shown)}."
    else:
        note = "Not tested (not required)."
    result = CriterionResult(
        id=Criterion.HLA_DQA1_05,
        status=Status.NOT_MET if carriers else Status.MET,
        threshold="not an HLA-DQA1*05 carrier (testing not required)",
        note=note,
        fact=shown,
        references=(shown.reference,) if shown else (),
        evidence=policy.cite(policy.pathway_a.evidence.hla_dqa1_05),
    )
    return with_unusable(facts, result)
