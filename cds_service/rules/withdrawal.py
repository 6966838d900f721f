"""Pathway A: can the thiopurine be withdrawn from an infliximab combination (decision-spec §3)?

Any not-met criterion keeps the combination (every failing one is named); otherwise any unknown
asks for exactly the missing data; only all-met yields a withdrawal candidate. Rheumatoid arthritis
without IBD replaces the outcome (the evidence is from IBD) but the criteria are still shown.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import date, timedelta

from cds_service.rules import criteria
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
from cds_service.rules.order_entry import relevant_drafts
from cds_service.rules.policy import Policy
from cds_service.rules.remission import remission
from cds_service.rules.scope import rheumatoid_without_ibd
from cds_service.rules.topics import unless_incomplete
from fhir_mappings.facts import DrugClass, PatientFacts
from fhir_mappings.topics import Topic

CRITERIA: tuple[Callable[[PatientFacts, Policy], CriterionResult], ...] = (
    criteria.trough,
    criteria.antibodies,
    criteria.duration,
    criteria.crp,
    criteria.platelets,
    remission,
    criteria.hla_dqa1_05,
)


def applies(facts: PatientFacts) -> bool:
    """Infliximab and a thiopurine both active now."""
    return all(
        (exposure := facts.exposure(drug)) is not None and exposure.active
        for drug in (DrugClass.INFLIXIMAB, DrugClass.THIOPURINE)
    )


def outcome(
    results: tuple[CriterionResult, ...],
) -> tuple[Recommendation, tuple[Criterion, ...], tuple[Need, ...]]:
    """(recommendation, failing criteria, what to obtain) from the criteria alone."""
    failing = tuple(r.id for r in results if r.status is Status.NOT_MET)
    if failing:
        return Recommendation.CONTINUE_COMBINATION, failing, ()
    unknown = [r for r in results if r.status is Status.UNKNOWN]
    if unknown:
        needs = tuple(dict.fromkeys(need for r in unknown for need in r.to_obtain))
        return Recommendation.INSUFFICIENT_DATA, (), needs
    return Recommendation.WITHDRAWAL_CANDIDATE, (), ()


def assess_withdrawal(
    facts: PatientFacts,
    policy: Policy,
    modifiers: tuple[Note, ...],
    incomplete: Collection[Topic] = (),
) -> Assessment:
    results = tuple(unless_incomplete(judge(facts, policy), incomplete) for judge in CRITERIA)
    recommendation, failing, to_obtain = outcome(results)
    notes: list[Note] = []
    if failing == (Criterion.HLA_DQA1_05,):
        notes.append(
            Note(
                NoteCode.HLA_ONLY_LOW_CERTAINTY,
                "HLA-DQA1*05 carriage is the only failing criterion. Its evidence concerns"
                " antibody risk when starting an anti-TNF: low certainty for withdrawal.",
                policy.cite(policy.pathway_a.evidence.hla_dqa1_05),
            )
        )
    if rheumatoid_without_ibd(facts):
        recommendation, failing, to_obtain = Recommendation.UNSUPPORTED_INDICATION, (), ()
        notes.append(
            Note(
                NoteCode.RHEUMATOID_ARTHRITIS,
                "Rheumatoid arthritis without IBD: the withdrawal evidence is from IBD, and in"
                " rheumatoid arthritis infliximab is labelled for use with methotrexate. The"
                " criteria are listed for information only.",
            )
        )
    candidate = recommendation is Recommendation.WITHDRAWAL_CANDIDATE
    return Assessment(
        pathway=Pathway.WITHDRAWAL,
        recommendation=recommendation,
        evaluated_on=facts.evaluated_on,
        policy_id=policy.id,
        policy_version=policy.version,
        criteria=results,
        failing=failing,
        to_obtain=to_obtain,
        modifiers=modifiers,
        notes=tuple(notes),
        evidence=cited_evidence(results, notes),
        follow_up=(Need.INFLIXIMAB_LEVEL, Need.ANTIBODIES) if candidate else (),
        follow_up_on=_follow_up_on(facts, policy) if candidate else None,
        draft_orders=relevant_drafts(facts),
        unusable=facts.unusable,
        patient_reference=facts.patient_reference,
    )


def _follow_up_on(facts: PatientFacts, policy: Policy) -> date:
    """Trough and antibodies are due after pathway B's monitoring delay (about 3 months)."""
    return facts.evaluated_on + timedelta(days=policy.pathway_b.monitor_after.value)
