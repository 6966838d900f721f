"""Lenient readers for FHIR R4 JSON: each returns None (or empty) instead of raising.

EHRs send vendor elements, timezone-less dateTimes, empty strings and wrong JSON types; the
strict R4B models reject whole resources for that. These readers pick out only the fields the
rules need and treat anything malformed in a field as "absent", so one bad element costs one
fact, never the record.

Parsed JSON is made of exact dicts, lists and strs, so each reader tests `type(x) is dict` (a
pointer comparison) before the general `Mapping`/`Sequence` check (an ABC lookup, many times
slower): other mapping and sequence types take the general path and read the same (issue 14).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, tzinfo
from functools import lru_cache
from typing import Any, TypeAlias

JSON: TypeAlias = Mapping[str, Any]

UCUM_SYSTEM = "http://unitsofmeasure.org"


def mapping(value: object) -> JSON | None:
    if type(value) is dict:
        return value
    return value if isinstance(value, Mapping) else None


def mappings(value: object) -> list[JSON]:
    """The objects of a JSON array (a lone object is tolerated as a one-element array)."""
    if type(value) is list:
        return [item for item in value if type(item) is dict or isinstance(item, Mapping)]
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [item for item in value if isinstance(item, Mapping)]
    return []


def text(value: object) -> str | None:
    """A non-empty, stripped string, or None (FHIR forbids empty strings; EHRs send them)."""
    if isinstance(value, str):
        stripped = value.strip()
        return stripped or None
    return None


def number(value: object) -> float | None:
    """A finite JSON number, or None.

    A string such as "13.2" or a boolean is invalid FHIR for a decimal and is not guessed at
    (decision-spec §10, plausibility): the result becomes unusable instead of being read.
    """
    if type(value) is float:
        return value if math.isfinite(value) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        parsed = float(value)
    except OverflowError:  # an integer beyond the float range
        return None
    return parsed if math.isfinite(parsed) else None


def parse_datetime(value: object) -> datetime | None:
    """A timezone-aware datetime from a FHIR date, dateTime or instant.

    Date-only values become midnight UTC and timezone-less dateTimes are read as UTC (spec §7:
    lenient), so sorting and freshness work on every record. Partial dates ("2024", "2024-05")
    return None: they cannot say which day a result was collected or a drug started.
    """
    raw = text(value)
    return None if raw is None else _parse_datetime(raw)


# Bounded: one entry is a date string and its datetime (about 300 bytes), so at most a few MB;
# a pure function of the string, and a record repeats its dates (collected and issued times of
# a panel's results, renewals) and is read again on each hook call.
@lru_cache(maxsize=8192)
def _parse_datetime(raw: str) -> datetime | None:
    if len(raw) < 10 or raw[4:5] != "-" or raw[7:8] != "-":
        return None
    try:
        parsed = datetime.fromisoformat(raw)
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        parsed.astimezone(UTC)  # year 1 or 9999 with an offset cannot be placed in UTC
    except (ValueError, OverflowError):
        return None
    return parsed


def parse_instant(value: object, zone: tzinfo) -> datetime | None:
    """A FHIR date, dateTime or instant as a moment in the service's time zone (decision-spec
    §10), so that every date taken from it is that zone's calendar date.

    A date-only value is that date's midnight in `zone`, not in UTC: read as UTC midnight, a
    date would fall on the day before in any zone west of Greenwich.
    """
    raw = text(value)
    return None if raw is None else _parse_instant(raw, zone)


@lru_cache(maxsize=8192)  # as `_parse_datetime`; zones are the few of the configurations
def _parse_instant(raw: str, zone: tzinfo) -> datetime | None:
    parsed = _parse_datetime(raw)
    if parsed is None:
        return None
    if len(raw) == DATE_LENGTH:
        return datetime.combine(parsed.date(), time(0), tzinfo=zone)
    try:
        return parsed.astimezone(zone)
    except (OverflowError, ValueError):  # year 1 or 9999 moved across midnight
        return None


DATE_LENGTH = len("2026-12-03")


def parse_date(value: object) -> date | None:
    """The calendar date as written (a dateTime's own local date, not converted to UTC)."""
    parsed = parse_datetime(value)
    return parsed.date() if parsed is not None else None


def period_start(resource: JSON, element: str) -> object:
    """`<element>DateTime`, else `<element>Period.start`, else `<element>Instant`, raw."""
    date_time, period_key, instant = _period_keys(element)
    if text(candidate := resource.get(date_time)):
        return candidate
    period = mapping(resource.get(period_key))
    if period and text(candidate := period.get("start")):
        return candidate
    if text(candidate := resource.get(instant)):
        return candidate
    return None


@lru_cache(maxsize=16)  # `element` is one of the few names the readers pass
def _period_keys(element: str) -> tuple[str, str, str]:
    return f"{element}DateTime", f"{element}Period", f"{element}Instant"


def codings(concept: object) -> list[tuple[str, str, str | None]]:
    """(system, code, display) of each coding with a system and a code."""
    concept_map = mapping(concept)
    if not concept_map:
        return []
    found = []
    for coding in mappings(concept_map.get("coding")):
        system, code = text(coding.get("system")), text(coding.get("code"))
        if system and code:
            found.append((system, code, text(coding.get("display"))))
    return found


def names(concept: object) -> list[str]:
    """The human names of a CodeableConcept: its text and every coding display."""
    found: list[str] = []
    concept_map = mapping(concept)
    if concept_map is None:
        return found
    if name := text(concept_map.get("text")):
        found.append(name)
    for coding in mappings(concept_map.get("coding")):
        if display := text(coding.get("display")):
            found.append(display)
    return found


def concept_codes(concept: object) -> set[str]:
    """Bare codes of a CodeableConcept (for status-like fields whose system varies)."""
    concept_map = mapping(concept)
    return {
        code
        for coding in mappings(concept_map.get("coding") if concept_map else None)
        if (code := text(coding.get("code")))
    }


def reference_of(resource: JSON) -> str | None:
    """ "Type/id" of a resource, the provenance every fact carries."""
    kind, ident = text(resource.get("resourceType")), text(resource.get("id"))
    return f"{kind}/{ident}" if kind and ident else None


def relative_reference(reference: object) -> str | None:
    """ "Type/id" of a literal reference, dropping a base URL and a version (`_history`)."""
    reference_map = mapping(reference)
    raw = text(reference_map.get("reference")) if reference_map else text(reference)
    if raw is None or raw.startswith("#"):
        return raw
    parts = raw.split("/")
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    return "/".join(parts[-2:]) if len(parts) >= 2 else None
