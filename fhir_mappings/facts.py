"""The typed decision inputs: the one contract between FHIR mapping and the clinical rules.

Every value the rules can read arrives as a `Fact`, carrying where it came from (`reference`),
when it was collected (`effective`), its normalised unit and how it was recognised. The rules
never see raw FHIR; the cards never recompute anything, they cite these facts.

Absence is explicit: an empty tuple means "nothing on record", and what was on record but could
not be used is listed in `PatientFacts.unusable` with the reason, so a card can say so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Generic, TypeVar

from fhir_mappings.dates import PartialDate
from fhir_mappings.frozen import fast_init
from fhir_mappings.topics import Topic

T = TypeVar("T")


class MatchedBy(StrEnum):
    """How a record was recognised: by a configured code, or by its name (local lab codes)."""

    CODE = "code"
    NAME = "name"


class Comparator(StrEnum):
    """FHIR `Quantity.comparator`: the true value lies on this side of `Fact.value`."""

    LT = "<"
    LE = "<="
    GE = ">="
    GT = ">"


@fast_init
@dataclass(frozen=True, slots=True)
class Fact(Generic[T]):
    """One value read from one FHIR resource, with everything a card needs to cite it.

    `effective` is the collection (or clinically relevant) time, timezone-aware; a date-only
    FHIR value becomes midnight UTC. `unit` is the normalised UCUM code (see `NORMALISED_UNITS`),
    or None for coded and boolean values. `display` is the human rendering of what was
    received (e.g. "1.1 mg/dL" before conversion, or a coded result's display).
    """

    value: T
    reference: str
    effective: datetime | None = None
    unit: str | None = None
    matched_by: MatchedBy = MatchedBy.CODE
    comparator: Comparator | None = None
    issued: datetime | None = None
    display: str | None = None


class Analyte(StrEnum):
    """Quantitative laboratory results the rules read."""

    INFLIXIMAB_LEVEL = "infliximab-level"
    CRP = "crp"
    PLATELETS = "platelets"
    CALPROTECTIN = "calprotectin"


NORMALISED_UNITS: Mapping[Analyte, str] = {
    Analyte.INFLIXIMAB_LEVEL: "mg/L",
    Analyte.CRP: "mg/L",
    Analyte.PLATELETS: "10*9/L",
    Analyte.CALPROTECTIN: "ug/g",
}


class AntibodyStatus(StrEnum):
    """An anti-infliximab antibody result as judged against its own assay's reference."""

    POSITIVE = "positive"
    NEGATIVE = "negative"


class DrugClass(StrEnum):
    """Drugs by the role they play in the rules (azathioprine and mercaptopurine share one)."""

    INFLIXIMAB = "infliximab"
    THIOPURINE = "thiopurine"
    METHOTREXATE = "methotrexate"
    CORTICOSTEROID = "corticosteroid"
    OTHER_ANTI_TNF = "other-anti-tnf"


class DiagnosisClass(StrEnum):
    CROHNS_DISEASE = "crohns-disease"
    ULCERATIVE_COLITIS = "ulcerative-colitis"
    RHEUMATOID_ARTHRITIS = "rheumatoid-arthritis"


class ConditionState(StrEnum):
    """`Condition.clinicalStatus` of an in-scope diagnosis, as evidence of disease activity."""

    ACTIVE = "active"  # plain problem-list "active": not evidence either way (spec §7)
    RELAPSE = "relapse"  # relapse or recurrence: active disease
    REMISSION = "remission"  # remission or resolved; Fact.effective = abatement date


class ActivityScore(StrEnum):
    """Disease-activity indices; the remission thresholds for each live in the policy."""

    HARVEY_BRADSHAW = "harvey-bradshaw"
    CDAI = "cdai"
    PARTIAL_MAYO = "partial-mayo"


@fast_init
@dataclass(frozen=True, slots=True)
class Interval:
    """A span of exposure to a drug. `start` None: start unknown; `end` None: still running.

    `end` is the earliest day the span may have ended (what exposure durations count).
    `latest_end` is set only when the end is not an exact day (decision-spec §10): the latest
    day it may fall on (a month-precision end: that month's last day), or `date.max` when the
    end is unknown and `end` is only the last recorded use. "No corticosteroid in the last
    183 days" must read this bound, never `end`.
    """

    start: date | None
    end: date | None
    references: tuple[str, ...]
    latest_end: date | None = None


@dataclass(frozen=True, slots=True)
class Exposure:
    """All exposure to one drug class: the union of its records' intervals, oldest first.

    `active` follows spec §2 (statement active/intended/on-hold, a running request course, or
    for infliximab an administration within 120 days). `stopped_on` is the end of the latest
    interval when the drug is not active and that end is known. `matched_by_name` lists the
    records recognised by their medication name rather than a configured code.
    """

    drug: DrugClass
    intervals: tuple[Interval, ...]
    active: bool
    stopped_on: date | None = None
    matched_by_name: tuple[str, ...] = ()

    @property
    def references(self) -> tuple[str, ...]:
        return tuple(ref for interval in self.intervals for ref in interval.references)


@dataclass(frozen=True, slots=True)
class Infusion:
    """A recorded infliximab administration, for trough timing (decision-spec §10): a level
    drawn soon after one is a peak. `timed` is False when only the date was recorded, so the
    infusion may have been at any moment of that day (`given` is then its midnight, UTC)."""

    reference: str
    given: datetime
    timed: bool


@dataclass(frozen=True, slots=True)
class DraftOrder:
    """A draft order from the hook context (`draftOrders`), never counted as exposure."""

    drug: DrugClass
    resource_id: str  # e.g. "MedicationRequest/abc"; the target of a delete suggestion
    selected: bool = True  # order-select: listed in `selections`
    display: str | None = None
    matched_by: MatchedBy = MatchedBy.CODE


@fast_init
@dataclass(frozen=True, slots=True)
class Unusable:
    """A record that was on file but could not be used, and why (the reason reaches the card).

    It still happened (decision-spec §10): `topic` names what it would have informed (None when
    even that could not be told) and `effective` when it was collected or dated (None when that
    is unknown), so the rules can treat it as "a result of unknown value at this date", which
    can make a criterion unknown or not-met, never met.
    """

    reference: str | None
    reason: str
    topic: Topic | None = None
    effective: datetime | None = None


@dataclass(frozen=True, slots=True)
class PatientFacts:
    """Everything the rules may read about one patient on one evaluation date.

    Sequences of facts are ordered newest first (by `effective`, ties by `issued`), so the
    rules take `[0]` as the latest and look further for history (e.g. an antibody ever positive).
    """

    evaluated_on: date
    patient_reference: str | None = None
    birth_date: Fact[PartialDate] | None = None  # a year or month alone is an interval
    sex: Fact[str] | None = None  # FHIR administrative gender code
    diagnoses: tuple[Fact[DiagnosisClass], ...] = ()
    labs: Mapping[Analyte, tuple[Fact[float], ...]] = field(default_factory=dict)
    antibodies: tuple[Fact[AntibodyStatus], ...] = ()
    exposures: Mapping[DrugClass, Exposure] = field(default_factory=dict)
    combination: Interval | None = None  # current infliximab+thiopurine overlap ending today
    condition_states: tuple[Fact[ConditionState], ...] = ()
    activity_scores: Mapping[ActivityScore, tuple[Fact[float], ...]] = field(default_factory=dict)
    hla_dqa1_05_carrier: tuple[Fact[bool], ...] = ()
    thiopurine_metabolism: tuple[Fact[str], ...] = ()  # TPMT / NUDT15 genotype or activity
    draft_orders: tuple[DraftOrder, ...] = ()
    infusions: tuple[Infusion, ...] = ()  # infliximab administrations, newest first
    unusable: tuple[Unusable, ...] = ()
    foreign: tuple[Unusable, ...] = ()  # other patients' records (or unowned): dropped, counted

    def lab(self, analyte: Analyte) -> tuple[Fact[float], ...]:
        return self.labs.get(analyte, ())

    def exposure(self, drug: DrugClass) -> Exposure | None:
        return self.exposures.get(drug)
