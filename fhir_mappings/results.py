"""Reading a result the way its own report states it (decision-spec §7).

Anti-drug antibody assays are not interchangeable, so a result is positive or negative only by
what its report says: a coded or worded value, an interpretation flag, or the report's own
reference range - never a cut-off from another assay. Every reason returned is shown to the
clinician, so each says what was wrong with the result.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from fhir_mappings.facts import AntibodyStatus, Comparator
from fhir_mappings.read import JSON, codings, mapping, mappings, names, number, text
from fhir_mappings.terminology import Terminology
from fhir_mappings.units import same_unit_value, ucum_code

NO_VALUE = "no value"
_COMPARATORS = {c.value: c for c in Comparator}


@dataclass(frozen=True, slots=True)
class Judged:
    status: AntibodyStatus
    comparator: Comparator | None
    display: str


class BadComparator(ValueError):
    """A comparator that is not a bound (e.g. "ad"): the value cannot be placed."""


def comparator(quantity: JSON) -> Comparator | None:
    raw = text(quantity.get("comparator"))
    if raw is None:
        return None
    if raw not in _COMPARATORS:
        raise BadComparator(f"comparator {raw!r} cannot be read as a bound")
    return _COMPARATORS[raw]


def shown(quantity: JSON) -> str:
    value = quantity.get("value")
    unit = text(quantity.get("unit")) or text(quantity.get("code")) or ""
    return f"{text(quantity.get('comparator')) or ''}{value} {unit}".strip()


def has_no_value(resource: JSON) -> bool:
    return not any(key.startswith("value") for key in resource)


def qualitative(resource: JSON, terminology: Terminology) -> Iterator[tuple[AntibodyStatus, str]]:
    """Positive/negative as the report states it: coded or worded value, interpretation flag."""
    value_concept = resource.get("valueCodeableConcept")
    for system, code, display in codings(value_concept):
        if status := terminology.antibody_codes.get(terminology.coding(system, code)):
            yield status, display or status.value.title()
    worded = [*names(value_concept), *filter(None, [text(resource.get("valueString"))])]
    for word in worded:
        for pattern, status in terminology.antibody_names:
            if pattern.search(word):
                yield status, word
    for concept in mappings(resource.get("interpretation")):
        for system, code, display in codings(concept):
            if status := terminology.antibody_codes.get(terminology.coding(system, code)):
                yield status, f"interpretation {display or code}"


def _against_range(resource: JSON) -> tuple[AntibodyStatus, str] | str | None:
    """A quantitative result judged by its own reference range's upper limit."""
    quantity = mapping(resource.get("valueQuantity"))
    if quantity is None:
        return None
    value = number(quantity.get("value"))
    try:
        bound = comparator(quantity)
    except BadComparator as problem:
        return str(problem)
    if value is None:
        return "quantitative result without a readable value"
    for reference_range in mappings(resource.get("referenceRange")):
        high = mapping(reference_range.get("high"))
        if high is None:
            continue
        unit = ucum_code(quantity)
        limit = same_unit_value(high, unit) if ucum_code(high) else number(high.get("value"))
        if limit is None:
            return "reference range in a unit not comparable with the result"
        status = _place(value, bound, limit)
        if status is None:
            return f"{shown(quantity)} cannot be placed against its reference range"
        return status, f"{shown(quantity)} (reference <= {high.get('value')})"
    return "no reference range"


def _place(value: float, comparator: Comparator | None, limit: float) -> AntibodyStatus | None:
    """Above the upper reference limit is positive; a bound that straddles it says nothing."""
    if comparator is None:
        return AntibodyStatus.POSITIVE if value > limit else AntibodyStatus.NEGATIVE
    if comparator is Comparator.GT:
        return AntibodyStatus.POSITIVE if value >= limit else None
    if comparator is Comparator.GE:
        return AntibodyStatus.POSITIVE if value > limit else None
    return AntibodyStatus.NEGATIVE if value <= limit else None


def judge_antibodies(resource: JSON, terminology: Terminology) -> Judged | str:
    """Positive or negative by the report's own coded value, flag or reference range."""
    verdicts = list(qualitative(resource, terminology))
    ranged = _against_range(resource)
    if isinstance(ranged, tuple):
        verdicts.append(ranged)
    if not verdicts:
        if isinstance(ranged, str):
            return ranged
        return NO_VALUE if has_no_value(resource) else "result is neither positive nor negative"
    statuses = {status for status, _ in verdicts}
    if len(statuses) > 1:
        return "result, interpretation and reference range disagree"
    quantity = mapping(resource.get("valueQuantity"))
    try:
        bound = comparator(quantity) if quantity else None
    except BadComparator:
        bound = None  # judged by its coded value or flag, which do not need the bound
    shown_as = "; ".join(dict.fromkeys(shown for _, shown in verdicts))
    return Judged(statuses.pop(), bound, shown_as)
