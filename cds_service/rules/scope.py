"""Who the rules apply to, and the messaging modifiers of decision-spec §6.

Modifiers change the message, never the outcome, so they are computed once per patient and
attached to every assessment. Missing data that does not block evaluation (birth date, coded
diagnosis) is said aloud rather than assumed.
"""

from __future__ import annotations

from cds_service.rules.assessment import Note, NoteCode
from cds_service.rules.policy import Policy
from fhir_mappings import dates
from fhir_mappings.facts import DiagnosisClass, PatientFacts

IBD = frozenset({DiagnosisClass.CROHNS_DISEASE, DiagnosisClass.ULCERATIVE_COLITIS})


def age_range(facts: PatientFacts) -> tuple[int, int] | None:
    """(youngest, oldest) possible age: a year-only birth date spans two ages (§10)."""
    if facts.birth_date is None:
        return None
    return dates.age_range(facts.birth_date.value, facts.evaluated_on)


def in_scope(facts: PatientFacts, policy: Policy) -> bool:
    """Adults only: every possible age must be adult (a year-only birth date that may be
    under 18 is out of scope, §10); a missing birth date is evaluated (and the card says so)."""
    ages = age_range(facts)
    return ages is None or policy.scope.adult.decide(ages[0]) is True


def _age_text(ages: tuple[int, int]) -> str:
    return str(ages[0]) if ages[0] == ages[1] else f"{ages[0]}-{ages[1]}"


def diagnoses(facts: PatientFacts) -> frozenset[DiagnosisClass]:
    return frozenset(fact.value for fact in facts.diagnoses)


def rheumatoid_without_ibd(facts: PatientFacts) -> bool:
    found = diagnoses(facts)
    return DiagnosisClass.RHEUMATOID_ARTHRITIS in found and not found & IBD


def modifiers(facts: PatientFacts, policy: Policy) -> tuple[Note, ...]:
    found = diagnoses(facts)
    ages = age_range(facts)
    notes: list[Note] = []
    if ages is None:
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
    # A note applies when any possible age falls in its band: notes inform, never decide.
    if ages is not None and _is_male(facts) and policy.modifiers.hstcl.decide(ages[0]):
        notes.append(
            hstcl_note(policy, f"Male aged {_age_text(ages)} ({policy.modifiers.hstcl.text}). ")
        )
    if ages is not None and policy.modifiers.older.decide(ages[1]):
        notes.append(
            Note(
                NoteCode.OLDER_PATIENT,
                f"Aged {_age_text(ages)} ({policy.modifiers.older.text}): higher risk of serious"
                " infection and malignancy on combination therapy.",
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
