"""Medication records -> drug class and dated spans of exposure (decision-spec §2, §7).

Each MedicationStatement, MedicationRequest or MedicationAdministration is read on its own into
a `MedicationRecord`; `exposure.py` then joins the records of one drug into intervals. Drug class
comes from codes first (the medication's CodeableConcept, or the referenced Medication's code and
ingredients), then from names, recorded as matched by NAME.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date

from fhir_mappings.dates import PartialDate, parse_partial
from fhir_mappings.facts import DrugClass, MatchedBy, Unusable
from fhir_mappings.frozen import fast_init
from fhir_mappings.read import (
    JSON,
    codings,
    mapping,
    mappings,
    names,
    parse_date,
    period_start,
    relative_reference,
    text,
)
from fhir_mappings.terminology import Terminology
from fhir_mappings.topics import topic_of

Resolver = Callable[[str], JSON | None]  # a Medication by "Medication/id" or fullUrl

_DRUGS = {d.value: d for d in DrugClass}
_NEVER = frozenset({"entered-in-error", "cancelled", "not-taken", "not-done"})
_STATEMENT_RUNNING = frozenset({"active", "intended", "on-hold"})
_STATEMENT_ENDED = frozenset({"completed", "stopped"})
_REQUEST_COURSE = frozenset({"active", "on-hold", "completed", "stopped"})
_ADMINISTERED = frozenset({"completed", "in-progress", "on-hold", "stopped"})


@fast_init
@dataclass(frozen=True, slots=True)
class Drug:
    """What a medication record is: its class, how it was recognised, and its name as sent."""

    drug: DrugClass
    matched_by: MatchedBy
    display: str | None


@fast_init
@dataclass(frozen=True, slots=True)
class MedicationRecord:
    """One dated medication record. `kind` is the resource type; `date` anchors renewals.

    `start`/`end` are as recorded (None: not recorded; an ended record without `end` stopped on
    an unknown date); `running` says the record itself claims ongoing use (an active statement
    or request, or an infusion - judged later by its date); `confirmed` is the latest date the
    record attests use (its end, dateAsserted of a running statement, authoredOn, the infusion
    date). A partial end ("2026-05", decision-spec §10) is the span of days it may stand for:
    `end` its earliest day (exposure durations never run longer than the record proves) and
    `latest_end` its latest (for "no corticosteroid since"); for an exact end, `latest_end` is
    None.
    """

    drug: Drug
    reference: str
    kind: str
    status: str
    start: date | None
    end: date | None
    running: bool
    confirmed: date | None
    latest_end: date | None = None


def identify(resource: JSON, terminology: Terminology, resolve: Resolver) -> Drug | str | None:
    """The drug class of a medication record; a reason when its medication cannot be read."""
    concepts: list[object] = []
    if concept := mapping(resource.get("medicationCodeableConcept")):
        concepts.append(concept)
    reference = mapping(resource.get("medicationReference"))
    if reference is not None:
        medication = _resolve(resource, reference, resolve)
        if medication is not None:
            concepts.append(medication.get("code"))
            concepts.extend(
                i.get("itemCodeableConcept") for i in mappings(medication.get("ingredient"))
            )
        elif display := text(reference.get("display")):
            concepts.append({"text": display})
        else:
            raw = text(reference.get("reference")) or "(empty)"
            return f"medicationReference {raw} is neither contained nor in the request"
    if not concepts:
        return "no medication[x]"
    coded = [terminology.coding(s, c) for concept in concepts for s, c, _ in codings(concept)]
    named = [name for concept in concepts for name in names(concept)]
    matched = terminology.medications.match(coded, named)
    if matched is None:
        return None
    topic, matched_by = matched
    return Drug(_DRUGS[topic], matched_by, named[0] if named else None)


def _resolve(resource: JSON, reference: JSON, resolve: Resolver) -> JSON | None:
    raw = text(reference.get("reference"))
    if raw is None:
        return None
    if raw.startswith("#"):
        for contained in mappings(resource.get("contained")):
            if (
                text(contained.get("id")) == raw[1:]
                and contained.get("resourceType") == "Medication"
            ):
                return contained
        return None
    found = resolve(raw)
    if found is None and (relative := relative_reference(raw)):
        found = resolve(relative)
    return found


def read_medication(
    resource: JSON, reference: str, terminology: Terminology, resolve: Resolver
) -> MedicationRecord | Unusable | None:
    """The record's exposure, why it cannot be used, or None (other drug, or not exposure)."""
    status = text(resource.get("status")) or ""
    kind = str(resource.get("resourceType"))
    if status in _NEVER or (kind == "MedicationRequest" and status not in _REQUEST_COURSE):
        return None  # entered-in-error, cancelled, not taken or done, draft: not exposure
    identified = identify(resource, terminology, resolve)
    if identified is None:
        return None
    if isinstance(identified, str):
        return Unusable(reference, identified, None)
    reader = _READERS.get(kind)
    if reader is None:
        return None
    read = reader(resource, status)
    if isinstance(read, str):
        return Unusable(reference, read, topic_of(identified.drug))
    start, end, running, confirmed = read
    return MedicationRecord(
        identified,
        reference,
        kind,
        status,
        start,
        end.earliest if end else None,
        running,
        confirmed,
        end.latest if end and end.latest != end.earliest else None,
    )


# (start, end, running, confirmed), or why the record cannot be used
_Read = tuple[date | None, PartialDate | None, bool, date | None] | str


def _end(value: object, start: date | None) -> PartialDate | None:
    """An end date of any precision; a partial end in the month a course started cannot be
    earlier than that start, so its earliest day is clamped to it."""
    end = parse_partial(value)
    if end is not None and start is not None and end.earliest < start <= end.latest:
        return PartialDate(start, end.latest, end.text)
    return end


def _on(day: date) -> PartialDate:
    return PartialDate(day, day, day.isoformat())


def _statement(resource: JSON, status: str) -> _Read:
    period = mapping(resource.get("effectivePeriod")) or {}
    start = parse_date(period_start(resource, "effective"))
    asserted = parse_date(resource.get("dateAsserted"))
    if status in _STATEMENT_RUNNING:
        return start, None, True, max(filter(None, (start, asserted)), default=None)
    if status not in _STATEMENT_ENDED:
        return f"status {status or 'missing'!r}: cannot tell whether it is taken"
    end = _end(period.get("end"), start)
    if start and end and end.latest < start:
        return f"effectivePeriod ends ({end.text}) before it starts ({start})"
    if "effectivePeriod" not in resource and start is not None:
        end = _on(start)  # a single effectiveDateTime: taken on that day
    # An ended statement asserted later says only that use ended by then, not that it went on
    # until then: without an end, its start is the last day it proves use (decision-spec §10).
    confirmed = end.earliest if end else start or asserted
    if confirmed is None:
        return f"{status} with no dates: taken at some time, when is unknown"
    return start, end, False, confirmed


def _request(resource: JSON, status: str) -> _Read:
    dispense = mapping(resource.get("dispenseRequest")) or {}
    validity = mapping(dispense.get("validityPeriod")) or {}
    authored = parse_date(resource.get("authoredOn")) or parse_date(validity.get("start"))
    if authored is None:
        return "no authoredOn date"
    end = _end(validity.get("end"), authored)
    return authored, end, status in ("active", "on-hold"), authored


def _administration(resource: JSON, status: str) -> _Read:
    if status not in _ADMINISTERED:
        return f"administration status {status or 'missing'!r}"
    given = parse_date(period_start(resource, "effective"))
    if given is None:
        return "no administration date"
    return given, _on(given), True, given


_READERS: Mapping[str, Callable[[JSON, str], _Read]] = {
    "MedicationStatement": _statement,
    "MedicationRequest": _request,
    "MedicationAdministration": _administration,
}
