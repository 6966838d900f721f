"""What happened to each prefetch key, and the resolved data as one value.

Everything here outlives the request (it reaches the rules, the cards and the audit log), so
none of it may hold the access token; reasons are built from our own words, a status code and
at most a server's diagnostics text, never from an exception or a request object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fhir_mappings.topics import Topic


class KeySource(StrEnum):
    """Where a key's data finally came from."""

    PREFETCH = "prefetch"
    NULL = "null"  # the EHR said "no data": known empty, not queried (SPEC-12)
    FETCHED = "fetched"
    FAILED = "failed"
    SKIPPED = "skipped"  # not queried because the template could not be filled


class PrefetchState(StrEnum):
    """What the EHR sent for a key."""

    USED = "used"
    NULL = "null"
    ABSENT = "absent"
    OPERATION_OUTCOME = "operation-outcome"  # SPEC-13
    UNREADABLE = "unreadable"


class Failure(StrEnum):
    """Why data could not be obtained, or why what was obtained may be incomplete."""

    TIMEOUT = "timeout"
    HTTP_STATUS = "http-status"
    OPERATION_OUTCOME = "operation-outcome"
    UNREADABLE = "unreadable"
    CONNECTION = "connection"
    NO_FHIR_SERVER = "no-fhir-server"
    INSECURE_FHIR_SERVER = "insecure-fhir-server"
    UNRENDERABLE = "unrenderable"
    FOREIGN_NEXT_LINK = "foreign-next-link"
    PAGE_LIMIT = "page-limit"
    TOO_LARGE = "too-large"


@dataclass(frozen=True, slots=True)
class Problem:
    """A failure in words a clinician can read, with a machine-readable kind for the audit."""

    kind: Failure
    reason: str
    http_status: int | None = None


@dataclass(frozen=True, slots=True)
class KeyOutcome:
    """One key's fate. `problem` on a PREFETCH or FETCHED key means its data may be partial."""

    key: str
    source: KeySource
    prefetch: PrefetchState
    required: bool
    label: str
    informs: frozenset[Topic]
    elapsed_ms: float
    resource_count: int = 0
    pages: int = 0
    prefetch_note: str | None = None
    problem: Problem | None = None
    more_available: bool = False
    """A window by design (`first_page_only`) left later pages unread: the latest results are
    all here, but not the whole history."""

    @property
    def obtained(self) -> bool:
        """Whether the data (possibly partial) is available to the rules."""
        return self.source in (KeySource.PREFETCH, KeySource.NULL, KeySource.FETCHED)

    def describe(self) -> str | None:
        """The failure as a sentence for a card, or None when the key is complete."""
        if self.problem is None:
            return None
        reason = self.problem.reason
        if self.prefetch_note is not None and not self.obtained:
            if self.prefetch is PrefetchState.OPERATION_OUTCOME:
                note = f"reported an error: {self.prefetch_note}"
            else:
                note = f"was {self.prefetch_note}"
            reason = f"{reason} (the EHR's prefetch {note})"
        if self.source is KeySource.SKIPPED:
            return f"{_capitalised(self.label)} were not queried: {reason}"
        if self.obtained:
            return f"{_capitalised(self.label)} may be incomplete: {reason}"
        return f"{_capitalised(self.label)} could not be fetched: {reason}"


@dataclass(frozen=True, slots=True)
class PrefetchResult:
    """The data for one hook request, and for every key where it came from.

    `resources` holds every resource of every key, Bundles flattened, in template order, each
    type/id once. `missing_required` names the required keys that could not be obtained; the
    protocol layer answers those requests with 412 (SPEC-15).
    """

    resources: tuple[dict[str, Any], ...]
    per_key: Mapping[str, KeyOutcome]
    missing_required: tuple[str, ...]
    elapsed_ms: float

    def problems(self) -> tuple[KeyOutcome, ...]:
        """The keys that failed, were skipped, or may be incomplete."""
        return tuple(outcome for outcome in self.per_key.values() if outcome.problem is not None)

    def problem_descriptions(self) -> tuple[str, ...]:
        """Which data could not be fetched and why, one sentence per key, for the cards."""
        return tuple(
            text for outcome in self.problems() if (text := outcome.describe()) is not None
        )

    def unavailable_topics(self) -> frozenset[Topic]:
        """Topics some of whose data could not be obtained: criteria on them are unknown."""
        return frozenset(
            topic
            for outcome in self.per_key.values()
            if not outcome.obtained
            for topic in outcome.informs
        )

    def incomplete_topics(self) -> frozenset[Topic]:
        """Topics whose data was obtained only in part (page limit, deadline while paging)."""
        return frozenset(
            topic
            for outcome in self.per_key.values()
            if outcome.obtained and outcome.problem is not None
            for topic in outcome.informs
        )

    def audit_record(self) -> dict[str, Any]:
        """Sources and timings per key, free of PHI and of server-supplied text."""
        return {
            "elapsed_ms": round(self.elapsed_ms, 1),
            "missing_required": list(self.missing_required),
            "keys": {key: _audit_key(outcome) for key, outcome in self.per_key.items()},
        }


def _audit_key(outcome: KeyOutcome) -> dict[str, Any]:
    record: dict[str, Any] = {
        "source": outcome.source.value,
        "prefetch": outcome.prefetch.value,
        "ms": round(outcome.elapsed_ms, 1),
        "resources": outcome.resource_count,
        "pages": outcome.pages,
    }
    if outcome.problem is not None:
        record["problem"] = outcome.problem.kind.value
        if outcome.problem.http_status is not None:
            record["http_status"] = outcome.problem.http_status
    return record


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]
