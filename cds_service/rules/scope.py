"""Who the rules apply to, and the messaging modifiers of decision-spec §6.

Modifiers change the message, never the outcome, so they are computed once per patient and
attached to every assessment. Missing data that does not block evaluation (birth date, coded
diagnosis) is said aloud rather than assumed.
"""

from __future__ import annotations

from cds_service.rules.assessment import Note, NoteCode
from cds_service.rules.policy import Policy
from fhir_mappings.facts import DiagnosisClass, PatientFacts

IBD = frozenset({DiagnosisClass.CROHNS_DISEASE, DiagnosisClass.ULCERATIVE_COLITIS})


def age_in_years(facts: PatientFacts) -> int | None:
    if facts.birth_date is None:
        return None
    born, today = facts.birth_date.value, facts.evaluated_on
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def in_scope(facts: PatientFacts, policy: Policy) -> bool:
    """Adults only; a missing birth date is evaluated (and the card says so)."""
    age = age_in_years(facts)
    return age is None or policy.scope.adult.decide(age) is True


def diagnoses(facts: PatientFacts) -> frozenset[DiagnosisClass]:
    return frozenset(fact.value for fact in facts.diagnoses)


def rheumatoid_without_ibd(facts: PatientFacts) -> bool:
    found = diagnoses(facts)
    return DiagnosisClass.RHEUMATOID_ARTHRITIS in found and not found & IBD


def modifiers(facts: PatientFacts, policy: Policy) -> tuple[Note, ...]:
    found = diagnoses(facts)
    age = age_in_years(facts)
    notes: list[Note] = []
    if age is None:
        notes.append(
            Note(
                NoteCode.BIRTH_DATE_MISSING,
                f"Birth date not found: evaluated as an adult ({policy.scope.adult.text}).",
            )
        )
    if not found:
        notes.append(
            Note(
                NoteCode.DIAGNOSIS_NOT_FOUND,
                "No coded Crohn's disease, ulcerative colitis or rheumatoid arthritis diagnosis"
                " found: evaluated as inflammatory bowel disease.",
            )
        )
    if DiagnosisClass.ULCERATIVE_COLITIS in found:
        notes.append(
            Note(
                NoteCode.ULCERATIVE_COLITIS,
                "Ulcerative colitis: the withdrawal evidence is mostly from Crohn's disease.",
            )
        )
    if age is not None and _is_male(facts) and policy.modifiers.hstcl.decide(age):
        notes.append(hstcl_note(policy, f"Male aged {age} ({policy.modifiers.hstcl.text}). "))
    if age is not None and policy.modifiers.older.decide(age):
        notes.append(
            Note(
                NoteCode.OLDER_PATIENT,
                f"Aged {age} ({policy.modifiers.older.text}): higher risk of serious infection"
                " and malignancy on combination therapy.",
                policy.cite(policy.modifiers.older.evidence),
            )
        )
    return tuple(notes)


def hstcl_note(policy: Policy, prefix: str = "") -> Note:
    return Note(
        NoteCode.HSTCL,
        prefix + "Hepatosplenic T-cell lymphoma (HSTCL): almost all reported cases were young men"
        " on an anti-TNF plus a thiopurine, usually for more than 2 years.",
        policy.cite(policy.modifiers.hstcl.evidence),
    )


def _is_male(facts: PatientFacts) -> bool:
    return facts.sex is not None and facts.sex.value == "male"
