"""Partial FHIR dates as intervals (decision-spec §10): "2026" and "2026-09" are spans of days.

A partial date is neither missing nor its first day. Each rule takes the bound that is safe for
it: the latest possible day for "no corticosteroid in the last 183 days", the earliest for an
exposure's end, both ends of the span for an age that may be under 18.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from fhir_mappings.frozen import fast_init
from fhir_mappings.read import parse_date, text

_YEAR = re.compile(r"^(\d{4})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@fast_init
@dataclass(frozen=True, slots=True)
class PartialDate:
    """The days a FHIR date may stand for, `earliest` to `latest` inclusive, as written."""

    earliest: date
    latest: date
    text: str

    @property
    def exact(self) -> bool:
        return self.earliest == self.latest


def parse_partial(value: object) -> PartialDate | None:
    """A FHIR date or dateTime of any precision as an interval; None when unreadable.

    A full dateTime is its own (local) calendar date; only the year and year-month forms widen.
    """
    raw = text(value)
    if raw is None:
        return None
    try:
        if match := _YEAR.match(raw):
            year = int(match.group(1))
            return PartialDate(date(year, 1, 1), date(year, 12, 31), raw)
        if match := _MONTH.match(raw):
            year, month = int(match.group(1)), int(match.group(2))
            last = calendar.monthrange(year, month)[1]
            return PartialDate(date(year, month, 1), date(year, month, last), raw)
    except ValueError:  # month 13, year 0
        return None
    full = parse_date(raw)
    return PartialDate(full, full, raw) if full is not None else None


def age_range(birth: PartialDate, on: date) -> tuple[int, int]:
    """(youngest, oldest) possible age in whole years on `on`."""
    return _age(birth.latest, on), _age(birth.earliest, on)


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))
