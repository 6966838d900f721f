"""Is a level a trough? Only if no infliximab infusion came shortly before it (decision-spec §10).

A level drawn within days after an infusion is a peak and overstates the trough, so a met trough
criterion resting on it would be met by accident. Times are intervals: a date-only infusion may
have been at any moment of its day, and a level dated at midnight may be a date-only value, so
it may have been drawn at any moment of that day. A level is a peak candidate when some moment
of the infusion lies before some moment of the level, no more than the policy's days earlier.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time, timedelta
from typing import Any

from cds_service.rules.policy import Threshold
from fhir_mappings.facts import Fact, Infusion

_DAY = timedelta(days=1)


def infusion_before(
    level: Fact[Any], infusions: Iterable[Infusion], limit: Threshold
) -> Infusion | None:
    """The latest recorded infusion that may lie within `limit` before the level, if any."""
    if level.effective is None:
        return None
    drawn_from, drawn_to = _span(level.effective, timed=level.effective.time() != time(0))
    for infusion in infusions:  # newest first
        given_from, given_to = _span(infusion.given, timed=infusion.timed)
        if given_from >= drawn_to:
            continue  # certainly after the level
        shortest = (drawn_from - given_to) / _DAY  # the shortest possible gap, in days
        if limit.decide(max(shortest, 0.0)) is not True:
            return infusion
        return None  # older infusions are further away still
    return None


def peak_text(level: Fact[Any], infusion: Infusion) -> str:
    """'drawn 3 days after the infusion of 2026-11-13' (the infusion's record is cited in the
    criterion's references, not in the words)."""
    given = infusion.given.date()
    days = (level.effective.date() - given).days if level.effective else 0
    when = f"{days} days after" if days > 0 else "on the day of"
    untimed = "" if infusion.timed or days > 0 else ", whose time is not recorded"
    return f"drawn {when} the infusion of {given}{untimed}"


def _span(moment: datetime, *, timed: bool) -> tuple[datetime, datetime]:
    """The moments a time may stand for: itself, or its whole day when only the day is known."""
    if timed:
        return moment, moment
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight, midnight + _DAY
