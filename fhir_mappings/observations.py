"""Observations -> lab, antibody, HLA, TPMT/NUDT15 and activity-score facts (decision-spec §7).

One Observation yields at most one fact or one `Unusable`. Results are judged only against what
the report itself says (its coded value, interpretation flag or reference range), never against a
cut-off from another assay, because anti-drug antibody assays are not interchangeable.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fhir_mappings.facts import (
    NORMALISED_UNITS,
    ActivityScore,
    Analyte,
    AntibodyStatus,
    Comparator,
    Fact,
    MatchedBy,
    Unusable,
)
from fhir_mappings.read import (
    JSON,
    codings,
    mapping,
    mappings,
    names,
    number,
    parse_datetime,
    period_start,
    text,
)
from fhir_mappings.terminology import Terminology
from fhir_mappings.units import Converted, convert, same_unit_value, ucum_code

ANTIBODIES = "antibodies"
HLA_DQA1 = "hla-dqa1-05"
THIOPURINE_METABOLISM = "thiopurine-metabolism"

_COUNTED = frozenset({"final", "amended", "corrected"})
_NEVER_A_FACT = frozenset({"entered-in-error", "cancelled"})
_ANALYTES = {a.value: a for a in Analyte}
_SCORES = {s.value: s for s in ActivityScore}
_COMPARATORS = {c.value: c for c in Comparator}
_DQA1_ALLELE = re.compile(r"(?:HLA-)?DQA1\*\s*(\d{2})", re.IGNORECASE)
_DQA1_05_TEST = re.compile(r"DQA1\*\s*05", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ObservationFact:
    """A fact and the topic it informs (an Analyte or ActivityScore value, or a topic above)."""

    topic: str
    fact: Fact[Any]


def read_observation(
    resource: JSON, reference: str, terminology: Terminology
) -> ObservationFact | Unusable | None:
    """The fact this Observation states, why it cannot be used, or None if irrelevant."""
    recognised = _recognise(resource, terminology)
    if recognised is None:
        return None
    topic, matched_by = recognised
    status = text(resource.get("status"))
    if status in _NEVER_A_FACT:
        return None
    if status not in _COUNTED:
        return Unusable(reference, f"status {status or 'missing'!r} is not a final result", topic)
    effective = parse_datetime(period_start(resource, "effective"))
    if effective is None:
        return Unusable(reference, "no full collection date (effective[x])", topic)
    base = _Base(reference, effective, parse_datetime(resource.get("issued")), matched_by)
    outcome = _read_value(resource, topic, base, terminology)
    if isinstance(outcome, str):
        absent = names(resource.get("dataAbsentReason"))
        reason = f"no value ({absent[0]})" if absent and outcome == _NO_VALUE else outcome
        return Unusable(reference, reason, topic)
    return ObservationFact(topic, outcome)


@dataclass(frozen=True, slots=True)
class _Base:
    reference: str
    effective: datetime
    issued: datetime | None
    matched_by: MatchedBy


_NO_VALUE = "no value"


def _recognise(resource: JSON, terminology: Terminology) -> tuple[str, MatchedBy] | None:
    concept = resource.get("code")
    coded = [terminology.coding(system, code) for system, code, _ in codings(concept)]
    if any(c in terminology.genotype_panels for c in coded):
        for component in mappings(resource.get("component")):
            component_codes = codings(component.get("code"))
            if any(
                terminology.coding(s, c) in terminology.gene_components
                for s, c, _ in component_codes
            ):
                for system, code, _ in codings(component.get("valueCodeableConcept")):
                    if topic := terminology.genes.get(terminology.coding(system, code)):
                        return topic, MatchedBy.CODE
    return terminology.observations.match(coded, names(concept))


def _read_value(
    resource: JSON, topic: str, base: _Base, terminology: Terminology
) -> Fact[Any] | str:
    if topic in _ANALYTES:
        return _analyte(resource, _ANALYTES[topic], base, terminology)
    if topic == ANTIBODIES:
        return _antibodies(resource, base, terminology)
    if topic == HLA_DQA1:
        return _hla(resource, base, terminology)
    if topic == THIOPURINE_METABOLISM:
        return _metabolism(resource, base)
    if topic in _SCORES:
        return _score(resource, base)
    return f"no reader for topic {topic!r}"


def _fact(base: _Base, value: Any, **details: Any) -> Fact[Any]:
    return Fact(
        value=value,
        reference=base.reference,
        effective=base.effective,
        issued=base.issued,
        matched_by=base.matched_by,
        **details,
    )


class _BadComparator(ValueError):
    """A comparator that is not a bound (e.g. "ad"): the value cannot be placed."""


def _comparator(quantity: JSON) -> Comparator | None:
    raw = text(quantity.get("comparator"))
    if raw is None:
        return None
    if raw not in _COMPARATORS:
        raise _BadComparator(f"comparator {raw!r} cannot be read as a bound")
    return _COMPARATORS[raw]


def _shown(quantity: JSON) -> str:
    value = quantity.get("value")
    unit = text(quantity.get("unit")) or text(quantity.get("code")) or ""
    return f"{text(quantity.get('comparator')) or ''}{value} {unit}".strip()


def _analyte(
    resource: JSON, analyte: Analyte, base: _Base, terminology: Terminology
) -> Fact[Any] | str:
    quantity = mapping(resource.get("valueQuantity"))
    if quantity is None:
        return _NO_VALUE if _has_no_value(resource) else "not a quantity (valueQuantity)"
    try:
        comparator = _comparator(quantity)
    except _BadComparator as problem:
        return str(problem)
    converted = convert(quantity, NORMALISED_UNITS[analyte], terminology.molar.get(analyte.value))
    if not isinstance(converted, Converted):
        return converted
    return _fact(
        base, converted.value, unit=converted.unit, comparator=comparator, display=_shown(quantity)
    )


def _has_no_value(resource: JSON) -> bool:
    return not any(key.startswith("value") for key in resource)


def _qualitative(resource: JSON, terminology: Terminology) -> Iterator[tuple[AntibodyStatus, str]]:
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
        comparator = _comparator(quantity)
    except _BadComparator as problem:
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
        status = _place(value, comparator, limit)
        if status is None:
            return f"{_shown(quantity)} cannot be placed against its reference range"
        return status, f"{_shown(quantity)} (reference <= {high.get('value')})"
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


def _antibodies(resource: JSON, base: _Base, terminology: Terminology) -> Fact[Any] | str:
    verdicts = list(_qualitative(resource, terminology))
    ranged = _against_range(resource)
    if isinstance(ranged, tuple):
        verdicts.append(ranged)
    if not verdicts:
        if isinstance(ranged, str):
            return ranged
        return _NO_VALUE if _has_no_value(resource) else "result is neither positive nor negative"
    statuses = {status for status, _ in verdicts}
    if len(statuses) > 1:
        return "result, interpretation and reference range disagree"
    quantity = mapping(resource.get("valueQuantity"))
    try:
        comparator = _comparator(quantity) if quantity else None
    except _BadComparator:
        comparator = None  # judged by its coded value or flag, which do not need the bound
    return _fact(
        base,
        statuses.pop(),
        comparator=comparator,
        display="; ".join(dict.fromkeys(shown for _, shown in verdicts)),
    )


def _result_strings(resource: JSON, terminology: Terminology) -> list[str]:
    """Every string a genetic result may carry its alleles in (value and non-gene components)."""
    found: list[str] = []
    holders = [resource]
    for component in mappings(resource.get("component")):
        component_codes = {terminology.coding(s, c) for s, c, _ in codings(component.get("code"))}
        if not component_codes & terminology.gene_components:
            holders.append(component)
    for holder in holders:
        concept = holder.get("valueCodeableConcept")
        found.extend(names(concept))
        found.extend(code for _, code, _ in codings(concept))
        if value := text(holder.get("valueString")):
            found.append(value)
    return found


def _hla(resource: JSON, base: _Base, terminology: Terminology) -> Fact[Any] | str:
    strings = _result_strings(resource, terminology)
    alleles = [m for s in strings for m in _DQA1_ALLELE.findall(s)]
    if alleles:
        return _fact(base, "05" in alleles, display="; ".join(dict.fromkeys(strings)))
    if any(_DQA1_05_TEST.search(name) for name in names(resource.get("code"))):
        verdicts = {status for status, _ in _qualitative(resource, terminology)}
        if len(verdicts) == 1:
            return _fact(
                base, verdicts.pop() is AntibodyStatus.POSITIVE, display=", ".join(strings)
            )
    return _NO_VALUE if _has_no_value(resource) else "no HLA-DQA1 allele in the result"


def _metabolism(resource: JSON, base: _Base) -> Fact[Any] | str:
    quantity = mapping(resource.get("valueQuantity"))
    rendered = [
        *names(resource.get("valueCodeableConcept")),
        *filter(None, [text(resource.get("valueString"))]),
        *([_shown(quantity)] if quantity and number(quantity.get("value")) is not None else []),
        *(
            name
            for component in mappings(resource.get("component"))
            for name in [
                *names(component.get("valueCodeableConcept")),
                text(component.get("valueString")),
            ]
            if name
        ),
    ]
    if not rendered:
        return _NO_VALUE
    test = names(resource.get("code"))
    return _fact(base, "; ".join(dict.fromkeys(rendered)), display=test[0] if test else None)


def _score(resource: JSON, base: _Base) -> Fact[Any] | str:
    quantity = mapping(resource.get("valueQuantity"))
    raw = quantity.get("value") if quantity else resource.get("valueInteger")
    value = number(raw)
    if value is None:
        return _NO_VALUE if _has_no_value(resource) else "score is not a number"
    return _fact(base, value, display=str(raw))
