"""What the rules conclude: frozen values that the card layer renders without recomputing.

Every conclusion carries the facts it rests on (with their provenance), the threshold text it was
judged against, and the evidence records to cite, so a card can say which rule fired, on which
data, from which source.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from cds_service.rules.policy import Evidence
from fhir_mappings.facts import DraftOrder, Fact, Unusable


class Hook(StrEnum):
    PATIENT_VIEW = "patient-view"
    ORDER_SELECT = "order-select"
    ORDER_SIGN = "order-sign"


class Pathway(StrEnum):
    WITHDRAWAL = "A"
    AFTER_WITHDRAWAL = "B"
    INITIATION = "C"
    THIOPURINE_START = "D"


class Recommendation(StrEnum):
    """The recommendation codes of decision-spec §2 (they appear verbatim in the extension)."""

    WITHDRAWAL_CANDIDATE = "withdrawal-candidate"
    CONTINUE_COMBINATION = "continue-combination"
    INSUFFICIENT_DATA = "insufficient-data"
    UNSUPPORTED_INDICATION = "unsupported-indication"
    MONITOR_AFTER_WITHDRAWAL = "monitor-after-withdrawal"
    REINTRODUCE_IMMUNOMODULATOR = "reintroduce-immunomodulator"
    CONSIDER_COMBINATION = "consider-combination"
    CHECK_TPMT = "check-tpmt"


class Status(StrEnum):
    MET = "met"
    NOT_MET = "not-met"
    UNKNOWN = "unknown"


class Criterion(StrEnum):
    TROUGH = "trough"
    ANTIBODIES = "antibodies"
    DURATION = "duration"
    CRP = "crp"
    PLATELETS = "platelets"
    REMISSION = "remission"
    HLA_DQA1_05 = "hla-dqa1-05"
    # pathway B: what has happened since the thiopurine was stopped
    ANTIBODIES_AFTER_STOP = "antibodies-after-stop"
    TROUGH_AFTER_STOP = "trough-after-stop"
    TROUGH_DROP = "trough-drop"


class Need(StrEnum):
    """Something to obtain before the rules can decide; the labs become order suggestions."""

    INFLIXIMAB_LEVEL = "infliximab-level"
    ANTIBODIES = "antibodies"
    CRP = "crp"
    PLATELETS = "platelets"
    TPMT = "tpmt-nudt15"
    THERAPY_START_DATES = "therapy-start-dates"
    REMISSION_ASSESSMENT = "remission-assessment"


class NoteCode(StrEnum):
    BIRTH_DATE_MISSING = "birth-date-missing"
    DIAGNOSIS_NOT_FOUND = "diagnosis-not-found"
    ULCERATIVE_COLITIS = "ulcerative-colitis"
    RHEUMATOID_ARTHRITIS = "rheumatoid-arthritis"
    HSTCL = "hstcl"
    OLDER_PATIENT = "older-patient"
    HLA_ONLY_LOW_CERTAINTY = "hla-low-certainty"
    TPMT_STATUS = "tpmt-status"
    REINTRODUCE_OPTIONS = "reintroduce-options"
    SONIC_RESULTS = "sonic-results"


@dataclass(frozen=True, slots=True)
class Note:
    """A message for the clinician; modifiers (§6) change the message, never the outcome.

    `references` are the records the text speaks of (e.g. a TPMT result): the words never carry
    FHIR ids, so the provenance is kept here for the card's extension."""

    code: NoteCode
    text: str
    evidence: tuple[Evidence, ...] = ()
    references: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CriterionResult:
    """One criterion judged on one fact (or on none, then `status` says why it is unknown).

    `fact` is the value the decision rests on; `references` every record behind it (a derived
    value such as the combination's length cites all the medication records it came from).
    `stale` names results that exist but fell outside the freshness window; `unusable` names
    records on file that could not be read.
    """

    id: Criterion
    status: Status
    threshold: str
    note: str
    fact: Fact[Any] | None = None
    references: tuple[str, ...] = ()
    stale: tuple[Fact[Any], ...] = ()
    unusable: tuple[Unusable, ...] = ()
    to_obtain: tuple[Need, ...] = ()
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True, slots=True)
class Assessment:
    """One pathway's conclusion for one patient on one evaluation date under one policy.

    `failing` lists the criteria behind a continue/reintroduce outcome; `to_obtain` what would
    let an insufficient-data (or monitoring) outcome be decided. `follow_up` is what to check on
    `follow_up_on` after a withdrawal (pathway B's monitoring delay, so the card need not know
    it). `draft_orders` are the hook's draft orders the card may act on (e.g. delete a draft
    thiopurine renewal). `unusable` is every record on file that could not be read, so the card
    can be open about data it did not use, whatever criterion it might have informed.
    """

    pathway: Pathway
    recommendation: Recommendation
    evaluated_on: date
    policy_id: str
    policy_version: str
    criteria: tuple[CriterionResult, ...] = ()
    failing: tuple[Criterion, ...] = ()
    to_obtain: tuple[Need, ...] = ()
    modifiers: tuple[Note, ...] = ()
    notes: tuple[Note, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    follow_up: tuple[Need, ...] = ()
    follow_up_on: date | None = None
    draft_orders: tuple[DraftOrder, ...] = ()
    unusable: tuple[Unusable, ...] = ()
    patient_reference: str | None = None


def cited_evidence(
    results: tuple[CriterionResult, ...], notes: Iterable[Note]
) -> tuple[Evidence, ...]:
    """The evidence of every criterion and note, each once, in first-cited order."""
    cited = [e for r in results for e in r.evidence] + [e for n in notes for e in n.evidence]
    return tuple(dict.fromkeys(cited))
