"""Conditions -> diagnosis class and disease-state evidence; Patient -> birth date and sex.

A problem list keeps a chronic disease "active" through years of remission, so plain `active`
is recorded but is not remission evidence either way (decision-spec §7); remission and relapse
are taken only from the explicit clinical statuses.
"""

from __future__ import annotations

from dataclasses import dataclass

from fhir_mappings.dates import PartialDate, parse_partial
from fhir_mappings.facts import ConditionState, DiagnosisClass, Fact, Unusable
from fhir_mappings.read import (
    JSON,
    codings,
    concept_codes,
    names,
    parse_datetime,
    period_start,
    text,
)
from fhir_mappings.terminology import Terminology
from fhir_mappings.topics import Topic

_DIAGNOSES = {d.value: d for d in DiagnosisClass}
_IGNORED_VERIFICATION = frozenset({"refuted", "entered-in-error"})
_IBD = frozenset({DiagnosisClass.CROHNS_DISEASE, DiagnosisClass.ULCERATIVE_COLITIS})
_STATES = {
    "remission": ConditionState.REMISSION,
    "resolved": ConditionState.REMISSION,
    "relapse": ConditionState.RELAPSE,
    "recurrence": ConditionState.RELAPSE,
    "active": ConditionState.ACTIVE,
}
# decision-spec §10: relapse/recurrence > active > remission > resolved (both read as REMISSION).
_PRECEDENCE = (ConditionState.RELAPSE, ConditionState.ACTIVE, ConditionState.REMISSION)
_ADMINISTRATIVE_GENDER = frozenset({"male", "female", "other", "unknown"})


@dataclass(frozen=True, slots=True)
class ConditionFacts:
    diagnosis: Fact[DiagnosisClass]
    state: Fact[ConditionState] | Unusable | None  # IBD only: remission is about IBD


def read_condition(
    resource: JSON, reference: str, terminology: Terminology
) -> ConditionFacts | None:
    """The diagnosis a Condition establishes (None: out of scope, refuted or in error)."""
    if concept_codes(resource.get("verificationStatus")) & _IGNORED_VERIFICATION:
        return None
    concept = resource.get("code")
    coded = [terminology.coding(s, c) for s, c, _ in codings(concept)]
    topic = terminology.conditions.by_code(coded)
    if topic is None:
        return None
    diagnosis = _DIAGNOSES[topic]
    label = names(concept)
    onset = parse_datetime(period_start(resource, "onset")) or parse_datetime(
        resource.get("recordedDate")
    )
    fact = Fact(
        value=diagnosis, reference=reference, effective=onset, display=label[0] if label else None
    )
    return ConditionFacts(fact, _state(resource, reference, diagnosis))


def _state(
    resource: JSON, reference: str, diagnosis: DiagnosisClass
) -> Fact[ConditionState] | Unusable | None:
    """Disease state; an undated remission is unusable, since §3 needs how long it has lasted."""
    if diagnosis not in _IBD:
        return None
    codes = concept_codes(resource.get("clinicalStatus"))
    statuses = [_STATES[c] for c in codes if c in _STATES]
    if not statuses:
        return None
    # Several codings contradict each other: the worst wins, whatever their order (§10).
    state = min(statuses, key=_PRECEDENCE.index)
    if state is ConditionState.REMISSION:
        effective = parse_datetime(period_start(resource, "abatement"))
        if effective is None:
            reason = "in remission, but no full date it began (abatementDateTime)"
            return Unusable(reference, reason, Topic.REMISSION)
    else:
        effective = parse_datetime(period_start(resource, "onset")) or parse_datetime(
            resource.get("recordedDate")
        )
    shown = names(resource.get("clinicalStatus"))
    return Fact(
        value=state,
        reference=reference,
        effective=effective,
        display=shown[0] if shown else state.value,
    )


def read_patient(
    resource: JSON, reference: str
) -> tuple[Fact[PartialDate] | None, Fact[str] | None, Unusable | None]:
    """Birth date (a year or month alone is an interval, §10) and administrative gender."""
    raw_birth = text(resource.get("birthDate"))
    birth = parse_partial(raw_birth)
    problem = None
    if raw_birth is not None and birth is None:
        reason = f"birthDate {raw_birth!r} is not a FHIR date"
        problem = Unusable(reference, reason, Topic.PATIENT)
    gender = text(resource.get("gender"))
    return (
        Fact(value=birth, reference=reference, display=raw_birth) if birth else None,
        Fact(value=gender, reference=reference) if gender in _ADMINISTRATIVE_GENDER else None,
        problem,
    )
