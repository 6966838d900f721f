"""Pathways C and D: advice at order entry on a draft infliximab or thiopurine order (§5),
and the gate of every order-entry card (issue 12).

All of it reads only the draft orders the clinician is acting on (`DraftOrder.selected`: the
ids in `context.selections` on order-select, every draft on order-sign), so a draft that merely
sits in the basket on order-select does not trigger advice.
"""

from __future__ import annotations

from cds_service.rules.after_withdrawal import tpmt_note
from cds_service.rules.assessment import Assessment, Need, Note, NoteCode, Pathway, Recommendation
from cds_service.rules.policy import Policy
from cds_service.rules.scope import diagnoses, hstcl_note
from fhir_mappings.facts import DiagnosisClass, DraftOrder, DrugClass, PatientFacts

ORDER_ENTRY_DRUGS = frozenset({DrugClass.INFLIXIMAB, DrugClass.THIOPURINE})


def relevant_drafts(facts: PatientFacts) -> tuple[DraftOrder, ...]:
    """The selected draft orders that order-entry advice is about: infliximab or a thiopurine.

    An order for another drug (naproxen), an empty draft, or a draft whose thiopurine order the
    clinician has just removed gives nothing to advise on: every pathway's card is about these
    two drugs, and a card repeated on unrelated orders is the alert fatigue that gets CDS
    switched off. Biosimilar product codes and medicationReferences are recognised upstream
    (`fhir_mappings.medications.identify`), so a relevant draft always has its `drug` here.
    """
    return tuple(d for d in facts.draft_orders if d.selected and d.drug in ORDER_ENTRY_DRUGS)


def _drafts(facts: PatientFacts, drug: DrugClass) -> tuple[DraftOrder, ...]:
    return tuple(d for d in facts.draft_orders if d.selected and d.drug is drug)


def _ever_exposed(facts: PatientFacts, drug: DrugClass) -> bool:
    exposure = facts.exposure(drug)
    return exposure is not None and (exposure.active or bool(exposure.intervals))


def assess_initiation(
    facts: PatientFacts, policy: Policy, modifiers: tuple[Note, ...]
) -> Assessment | None:
    """C: a first infliximab order in Crohn's disease: consider combination (SONIC)."""
    drafts = _drafts(facts, DrugClass.INFLIXIMAB)
    naive = not any(
        _ever_exposed(facts, drug)
        for drug in (DrugClass.INFLIXIMAB, DrugClass.OTHER_ANTI_TNF, DrugClass.THIOPURINE)
    )
    if not drafts or not naive or DiagnosisClass.CROHNS_DISEASE not in diagnoses(facts):
        return None
    sonic = policy.cite(policy.pathway_c.evidence.consider_combination)
    notes = [
        Note(NoteCode.SONIC_RESULTS, " ".join(e.findings for e in sonic if e.findings), sonic),
        tpmt_note(facts),
    ]
    if not any(m.code is NoteCode.HSTCL for m in modifiers):
        notes.append(hstcl_note(policy))
    return _assessment(
        facts,
        policy,
        Pathway.INITIATION,
        Recommendation.CONSIDER_COMBINATION,
        modifiers,
        tuple(notes),
        () if facts.thiopurine_metabolism else (Need.TPMT,),
        drafts,
    )


def assess_thiopurine_start(
    facts: PatientFacts, policy: Policy, modifiers: tuple[Note, ...]
) -> Assessment | None:
    """D: a thiopurine start or restart with no TPMT/NUDT15 result on record."""
    drafts = _drafts(facts, DrugClass.THIOPURINE)
    current = facts.exposure(DrugClass.THIOPURINE)
    if not drafts or (current is not None and current.active) or facts.thiopurine_metabolism:
        return None
    sonic = policy.cite(policy.pathway_c.evidence.consider_combination)
    note = Note(
        NoteCode.TPMT_STATUS,
        "No TPMT/NUDT15 genotype or activity result on record: test before starting a"
        " thiopurine (SONIC excluded TPMT-deficient patients).",
        sonic,
    )
    return _assessment(
        facts,
        policy,
        Pathway.THIOPURINE_START,
        Recommendation.CHECK_TPMT,
        modifiers,
        (note,),
        (Need.TPMT,),
        drafts,
    )


def _assessment(
    facts: PatientFacts,
    policy: Policy,
    pathway: Pathway,
    recommendation: Recommendation,
    modifiers: tuple[Note, ...],
    notes: tuple[Note, ...],
    to_obtain: tuple[Need, ...],
    drafts: tuple[DraftOrder, ...],
) -> Assessment:
    return Assessment(
        pathway=pathway,
        recommendation=recommendation,
        evaluated_on=facts.evaluated_on,
        policy_id=policy.id,
        policy_version=policy.version,
        to_obtain=to_obtain,
        modifiers=modifiers,
        notes=notes,
        evidence=tuple(dict.fromkeys(e for n in notes for e in n.evidence)),
        draft_orders=drafts,
        unusable=facts.unusable,
        patient_reference=facts.patient_reference,
    )
