"""Where results sit in time, and how a criterion names the records it rests on.

Freshness (decision-spec §3) counts whole days from the collection date to the evaluation date,
inclusive of the limit. An undated result cannot be placed in the window, so it is never fresh;
it is named with the stale ones rather than silently dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from cds_service.rules.plain import day_text, unusable_line
from cds_service.rules.policy import Threshold, unit_text
from fhir_mappings.facts import Fact, PatientFacts, Unusable
from fhir_mappings.topics import Topic

F = TypeVar("F", bound=Fact[Any])


@dataclass(frozen=True, slots=True)
class Window:
    evaluated_on: date
    freshness: Threshold

    def is_fresh(self, fact: Fact[Any]) -> bool:
        if fact.effective is None:
            return False
        return self.freshness.decide(days_between(fact.effective.date(), self.evaluated_on)) is True

    def split(self, facts: Sequence[F]) -> tuple[tuple[F, ...], tuple[F, ...]]:
        """(fresh, stale) keeping the newest-first order of `facts`, in one pass (a prefetch
        may carry thousands of results): `is_fresh` for each, with the threshold as one exact
        test on whole days (`Threshold.exact`) and days counted on ordinals (issue 14)."""
        fresh: list[F] = []
        stale: list[F] = []
        within = self.freshness.exact()
        today = self.evaluated_on.toordinal()
        for fact in facts:
            when = fact.effective
            if when is not None and within(today - when.date().toordinal()):
                fresh.append(fact)
            else:
                stale.append(fact)
        return tuple(fresh), tuple(stale)

    @property
    def text(self) -> str:
        return f"the last {self.freshness.value:g} days"


def simultaneous(facts: Sequence[F]) -> tuple[F, ...]:
    """The leading results of a newest-first sequence that tie on collection time and issue
    time: the spec breaks ties by `issued`, so beyond that there is no "latest" among them."""
    if not facts:
        return ()
    first = facts[0]
    return tuple(f for f in facts if (f.effective, f.issued) == (first.effective, first.issued))


def days_between(earlier: date, later: date) -> int:
    return (later - earlier).days


def describe(fact: Fact[Any]) -> str:
    """'11.5 mg/L (2026-10-01)': the value as read, and when (the record is `fact.reference`)."""
    comparator = fact.comparator.value if fact.comparator else ""
    value = f"{fact.value:g}" if isinstance(fact.value, float | int) else str(fact.value)
    return f"{comparator}{value}{unit_text(fact.unit)} {source(fact)}"


def source(fact: Fact[Any]) -> str:
    """'(2026-10-01)': when a fact was collected. Notes are read by clinicians: the FHIR id
    stays in the result's `references`, never in the words (issue 12)."""
    return f"({day_text(fact.effective)})"


def describe_all(facts: Iterable[Fact[Any]]) -> str:
    return "; ".join(describe(f) for f in facts)


def unusable_for(facts: PatientFacts, topics: Iterable[Topic]) -> tuple[Unusable, ...]:
    """The unreadable records of `topics`, newest first (undated first: they may be newest),
    in an order that does not depend on the order the records arrived in."""
    wanted = frozenset(topics)
    found = [u for u in facts.unusable if u.topic in wanted]
    return tuple(sorted(found, key=_newest_first_key))


def _newest_first_key(unusable: Unusable) -> tuple[bool, float, str, str]:
    when = unusable.effective
    return (
        when is not None,
        -when.timestamp() if when else 0.0,
        unusable.reference or "",
        unusable.reason,
    )


def unusable_text(unusable: Sequence[Unusable]) -> str:
    """' Also on file: a CRP result (2026-03-01) could not be read: no value.'"""
    if not unusable:
        return ""
    return f" Also on file: {'; '.join(unusable_line(u) for u in unusable)}."
