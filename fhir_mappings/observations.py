"""Observations -> lab, antibody, HLA, TPMT/NUDT15 and activity-score facts (decision-spec §7).

One Observation yields at most one fact or one `Unusable`. Results are judged only against what
the report itself says (its coded value, interpretation flag or reference range), never against a
cut-off from another assay, because anti-drug antibody assays are not interchangeable.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime, time, tzinfo
from functools import lru_cache
from typing import Any, NamedTuple

from fhir_mappings.dates import parse_partial
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
    UCUM_SYSTEM,
    codings,
    mapping,
    mappings,
    names,
    number,
    parse_instant,
    period_start,
    text,
)
from fhir_mappings.results import (
    NO_VALUE,
    BadComparator,
    comparator,
    has_no_value,
    judge_antibodies,
    qualitative,
    shown,
)
from fhir_mappings.terminology import Terminology
from fhir_mappings.topics import Topic, topic_of
from fhir_mappings.units import Converted, convert, factor, tidy, ucum_code

ANTIBODIES = Topic.ANTIBODIES
HLA_DQA1 = Topic.HLA_DQA1_05
THIOPURINE_METABOLISM = Topic.THIOPURINE_METABOLISM

_COUNTED = frozenset({"final", "amended", "corrected"})
_NEVER_A_FACT = frozenset({"entered-in-error", "cancelled"})
_ANALYTES = {a.value: a for a in Analyte}
_SCORES = {s.value: s for s in ActivityScore}
_TOPICS = {a: topic_of(a.value) for a in Analyte}
_DQA1_ALLELE = re.compile(r"(?:HLA-)?DQA1\*\s*(\d{2})", re.IGNORECASE)
_DQA1_05_TEST = re.compile(r"DQA1\*\s*05", re.IGNORECASE)
_CLAUSE = re.compile(r"[;,|\n]|\band\b", re.IGNORECASE)
_ABSENT = re.compile(
    r"\b(not\s+(detected|present|found|identified|carried)|negative|absent|undetected|"
    r"non-?carrier|no)\b",
    re.IGNORECASE,
)


class ObservationFact(NamedTuple):  # a tuple, as `_Base`
    """A fact and the topic it informs (an Analyte or ActivityScore value, or a topic above)."""

    topic: Topic
    fact: Fact[Any]


def read_observation(
    resource: JSON, reference: str, terminology: Terminology, zone: tzinfo = UTC
) -> list[ObservationFact | Unusable]:
    """The facts this Observation states, or why they cannot be used; [] if irrelevant.

    A panel whose own code is not recognised (e.g. "Infliximab level and antibodies") is read
    component by component, each with the panel's status and dates and the panel as source.
    Times are moments in `zone`, the service's (§10).
    """
    recognised = _recognise(resource, terminology)
    if recognised is not None:
        analyte = _ANALYTES.get(recognised[0])
        if analyte is not None:
            fact = _coded_quantity(resource, reference, analyte, recognised[1], terminology, zone)
            if fact is not None:
                return [ObservationFact(_TOPICS[analyte], fact)]
        return _listed(_read(resource, reference, recognised, terminology, zone))
    found: list[ObservationFact | Unusable] = []
    for component in mappings(resource.get("component")):
        part = {**{k: v for k, v in resource.items() if k in _INHERITED}, **component}
        part_recognised = _recognise(part, terminology)
        if part_recognised is not None:
            found.extend(_listed(_read(part, reference, part_recognised, terminology, zone)))
    return found


_INHERITED = frozenset(
    {"resourceType", "status", "effectiveDateTime", "effectivePeriod", "effectiveInstant", "issued"}
)


def _listed(
    found: ObservationFact | Unusable | None,
) -> list[ObservationFact | Unusable]:
    return [] if found is None else [found]


def _read(
    resource: JSON,
    reference: str,
    recognised: tuple[str, MatchedBy],
    terminology: Terminology,
    zone: tzinfo,
) -> ObservationFact | Unusable | None:
    topic, matched_by = topic_of(recognised[0]), recognised[1]
    status = text(resource.get("status"))
    if status in _NEVER_A_FACT:
        return None
    raw_effective = period_start(resource, "effective")
    effective = parse_instant(raw_effective, zone)
    # An unreadable result still happened (§10): it keeps its topic and date, partial or not.
    when = effective or _latest_moment(raw_effective, zone)

    def unusable(reason: str) -> Unusable:
        return Unusable(reference, reason, topic, when)

    if status not in _COUNTED:
        return unusable(f"status {status or 'missing'!r} is not a final result")
    if effective is None:
        shown = f" {text(raw_effective)!r}" if text(raw_effective) else ""
        return unusable(f"collection date{shown} is not a full date (effective[x])")
    base = _Base(reference, effective, parse_instant(resource.get("issued"), zone), matched_by)
    outcome = _read_value(resource, topic, base, terminology)
    if isinstance(outcome, str):
        absent = names(resource.get("dataAbsentReason"))
        return unusable(f"no value ({absent[0]})" if absent and outcome == NO_VALUE else outcome)
    return ObservationFact(topic, outcome)


def _coded_quantity(
    resource: JSON,
    reference: str,
    analyte: Analyte,
    matched_by: MatchedBy,
    terminology: Terminology,
    zone: tzinfo,
) -> Fact[Any] | None:
    """The common result read in one pass (issue 14): a counted status, an effectiveDateTime
    and a UCUM-coded valueQuantity without comparator, plausible once converted. None defers
    to `_read`, the one statement of the rules: anything else (other JSON types, whitespace,
    a comparator, a molar or failed conversion, an implausible value) takes that path, and
    whatever this returns is what `_read` would (tests/fhir_mappings pins it, property by
    property)."""
    status = resource.get("status")
    if type(status) is not str or status not in _COUNTED:
        return None
    effective = parse_instant(resource.get("effectiveDateTime"), zone)
    quantity = resource.get("valueQuantity")
    if effective is None or type(quantity) is not dict or "comparator" in quantity:
        return None
    raw = quantity.get("value")
    system = quantity.get("system")
    if type(raw) is float:
        value: float | None = raw if math.isfinite(raw) else None
    else:
        value = number(raw) if type(raw) is int else None
    code = text(quantity.get("code"))
    if value is None or code is None or type(system) is not str or system != UCUM_SYSTEM:
        return None
    target = NORMALISED_UNITS[analyte]
    scale = factor(code, target)
    if scale is None:
        return None
    converted = tidy(value * scale)
    bounds = terminology.plausible.get(analyte)
    if not math.isfinite(converted) or (
        bounds is not None and not bounds[0] <= converted <= bounds[1]
    ):
        return None
    # `shown` without a comparator: the raw number (an exact int or float) and a stripped unit.
    display = f"{raw} {text(quantity.get('unit')) or code}"
    issued = parse_instant(resource.get("issued"), zone)
    return Fact(converted, reference, effective, target, matched_by, None, issued, display)


def _latest_moment(raw: object, zone: tzinfo) -> datetime | None:
    """The last moment a partial date ("2026-11") may stand for: as new as it could be."""
    partial = parse_partial(raw)
    return datetime.combine(partial.latest, time.max, tzinfo=zone) if partial else None


class _Base(NamedTuple):  # a tuple: built once per result, several times cheaper than a dataclass
    reference: str
    effective: datetime
    issued: datetime | None
    matched_by: MatchedBy


def _recognise(resource: JSON, terminology: Terminology) -> tuple[str, MatchedBy] | None:
    concept = resource.get("code")
    key = _coding_key(concept)
    if key is not None and (topic := _coded_topic(terminology, key)) is not None:
        return topic, MatchedBy.CODE
    return _recognise_concept(resource, concept, terminology)


_RawCodings = tuple[tuple[str | None, str | None], ...]
_MAX_KEY_LENGTH = 256  # codes and system URIs are short; a longer key is read uncached


def _coding_key(concept: object) -> _RawCodings | None:
    """The (system, code) strings of a plain JSON concept as sent, or None for any other
    shape (read by the general path)."""
    if type(concept) is not dict:
        return None
    coding = concept.get("coding")
    if type(coding) is not list:
        return None
    key = []
    length = 0
    for item in coding:
        if type(item) is not dict:
            return None
        system, code = item.get("system"), item.get("code")
        if not (system is None or type(system) is str) or not (code is None or type(code) is str):
            return None
        length += len(system or "") + len(code or "")
        key.append((system, code))
    return tuple(key) if length <= _MAX_KEY_LENGTH else None


# Bounded, and a pure function of code-system and code strings (terminology, never patient
# values; each key at most _MAX_KEY_LENGTH characters): a record repeats a few lab codes, and
# each result read recognised them anew (issue 14). Terminology hashes by identity.
@lru_cache(maxsize=4096)
def _coded_topic(terminology: Terminology, key: _RawCodings) -> str | None:
    """The topic these codings name by code, as `_recognise_concept` finds it; None when it
    must decide (no code matches, or a genotype panel, read by its components)."""
    coded = [
        terminology.coding(system, code)
        for raw_system, raw_code in key
        if (system := text(raw_system)) and (code := text(raw_code))
    ]
    if not terminology.genotype_panels.isdisjoint(coded):
        return None
    return terminology.observations.by_code(coded)


def _recognise_concept(
    resource: JSON, concept: object, terminology: Terminology
) -> tuple[str, MatchedBy] | None:
    coded = [terminology.coding(system, code) for system, code, _ in codings(concept)]
    if not terminology.genotype_panels.isdisjoint(coded):
        topic = _gene_topic(resource, terminology)
        if topic is not None:
            return topic, MatchedBy.CODE
    return terminology.observations.match(coded, _names_if_asked(concept))


def _names_if_asked(concept: object) -> Iterator[str]:
    """The concept's names, read only if no code matched (most results are coded)."""
    yield from names(concept)


def _gene_topic(resource: JSON, terminology: Terminology) -> str | None:
    """A genotype panel is about the gene named in its "gene studied" component."""
    for component in mappings(resource.get("component")):
        kinds = {terminology.coding(s, c) for s, c, _ in codings(component.get("code"))}
        if kinds & terminology.gene_components:
            for system, code, _ in codings(component.get("valueCodeableConcept")):
                if topic := terminology.genes.get(terminology.coding(system, code)):
                    return topic
    return None


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
        return _metabolism(resource, base, terminology)
    if topic in _SCORES:
        return _score(resource, base)
    return f"no reader for topic {topic!r}"


def _fact(
    base: _Base,
    value: Any,
    *,
    unit: str | None = None,
    comparator: Comparator | None = None,
    display: str | None = None,
) -> Fact[Any]:
    return Fact(
        value=value,
        reference=base.reference,
        effective=base.effective,
        unit=unit,
        matched_by=base.matched_by,
        comparator=comparator,
        issued=base.issued,
        display=display,
    )


def _analyte(
    resource: JSON, analyte: Analyte, base: _Base, terminology: Terminology
) -> Fact[Any] | str:
    quantity = mapping(resource.get("valueQuantity"))
    if quantity is None:
        return NO_VALUE if has_no_value(resource) else "not a quantity (valueQuantity)"
    try:
        bound = comparator(quantity)
    except BadComparator as problem:
        return str(problem)
    # Keyed by the analyte itself: a StrEnum member looks up as its value, without the enum's
    # slow `.value` property.
    converted = convert(quantity, NORMALISED_UNITS[analyte], terminology.molar.get(analyte))
    if not isinstance(converted, Converted):
        return converted
    implausible = _implausible(converted, quantity, terminology.plausible.get(analyte))
    if implausible:
        return implausible
    return _fact(
        base, converted.value, unit=converted.unit, comparator=bound, display=shown(quantity)
    )


def _implausible(
    converted: Converted, quantity: JSON, bounds: tuple[float, float] | None
) -> str | None:
    """Why a value outside physiological bounds cannot be read (decision-spec §10): typed in
    the wrong unit, or not a measurement at all; after a conversion, most likely the unit."""
    if bounds is None or bounds[0] <= converted.value <= bounds[1]:
        return None
    low, high = bounds
    limits = f"{low:g}-{high:g} {converted.unit}"
    if ucum_code(quantity) != converted.unit:
        return (
            f"{shown(quantity)} is {converted.value:g} {converted.unit}, outside "
            f"physiological bounds ({limits}): probable unit error"
        )
    return f"{shown(quantity)} is outside physiological bounds ({limits})"


def _antibodies(resource: JSON, base: _Base, terminology: Terminology) -> Fact[Any] | str:
    judged = judge_antibodies(resource, terminology)
    if isinstance(judged, str):
        return judged
    return _fact(base, judged.status, comparator=judged.comparator, display=judged.display)


def _result_strings(resource: JSON, terminology: Terminology, *, codes: bool) -> list[str]:
    """The strings a genetic result states (value and components, never the gene studied);
    with `codes`, coded values too, since labs put alleles such as HLA-DQA1*05:01 in codes."""
    found: list[str] = []
    holders = [resource]
    for component in mappings(resource.get("component")):
        component_codes = {terminology.coding(s, c) for s, c, _ in codings(component.get("code"))}
        if not component_codes & terminology.gene_components:
            holders.append(component)
    for holder in holders:
        concept = holder.get("valueCodeableConcept")
        found.extend(names(concept))
        if codes:
            found.extend(code for _, code, _ in codings(concept))
        if value := text(holder.get("valueString")):
            found.append(value)
    return list(dict.fromkeys(found))


def _hla(resource: JSON, base: _Base, terminology: Terminology) -> Fact[Any] | str:
    strings = _result_strings(resource, terminology, codes=True)
    present, absent = _dqa1_alleles(strings)
    if "05" in present and "05" in absent:
        return "result says both that HLA-DQA1*05 is present and that it is not"
    if present or "05" in absent:
        return _fact(base, "05" in present, display="; ".join(strings))
    if absent:
        return "result names only absent alleles, not whether HLA-DQA1*05 is present"
    if any(_DQA1_05_TEST.search(name) for name in names(resource.get("code"))):
        # A test for DQA1*05 itself, reported like any qualitative result.
        verdicts = {status: said for status, said in qualitative(resource, terminology)}
        if len(verdicts) == 1:
            status, said = verdicts.popitem()
            return _fact(base, status is AntibodyStatus.POSITIVE, display=said)
    return NO_VALUE if has_no_value(resource) else "no HLA-DQA1 allele in the result"


def _dqa1_alleles(strings: list[str]) -> tuple[frozenset[str], frozenset[str]]:
    """The DQA1 allele groups a result says are present, and those it says are absent.

    Read clause by clause (decision-spec §10): "HLA-DQA1*05 not detected" and "negative for
    DQA1*05" name an absent allele; "DQA1*01:01/DQA1*05:05" lists two present ones.
    """
    present: set[str] = set()
    absent: set[str] = set()
    for string in strings:
        for clause in _CLAUSE.split(string):
            alleles = _DQA1_ALLELE.findall(clause)
            (absent if _ABSENT.search(clause) else present).update(alleles)
    return frozenset(present), frozenset(absent)


def _metabolism(resource: JSON, base: _Base, terminology: Terminology) -> Fact[Any] | str:
    quantity = mapping(resource.get("valueQuantity"))
    rendered = _result_strings(resource, terminology, codes=False)
    if quantity and number(quantity.get("value")) is not None:
        rendered.append(shown(quantity))
    if not rendered:
        return NO_VALUE
    test = names(resource.get("code"))
    return _fact(base, "; ".join(rendered), display=test[0] if test else None)


def _score(resource: JSON, base: _Base) -> Fact[Any] | str:
    quantity = mapping(resource.get("valueQuantity"))
    raw = quantity.get("value") if quantity else resource.get("valueInteger")
    value = number(raw)
    if value is None:
        return NO_VALUE if has_no_value(resource) else "score is not a number"
    return _fact(base, value, display=str(raw))
