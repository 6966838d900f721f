"""What happened to each prefetch key, and the resolved data as one value.

Everything here outlives the request (it reaches the rules, the cards and the audit log), so
none of it may hold the access token; reasons are built from our own words, a status code and
an OperationOutcome's coded severity and issue type, never from a server's own words (which
may name the patient: no PHI in logs), an exception or a request object.

Two audiences (issue 11): a `Problem.reason` is for the operator and goes to the audit log,
sanitised and capped; what the caller sees (`KeyOutcome.describe`, the cards, the 412) is one
fixed sentence for every failure of the FHIR server, whether refused, timed out, unresolvable,
an error status, a redirect, an OperationOutcome, garbage or too large. Otherwise the answers
would tell a caller what listens where, and the service would be a port scanner. Only what
follows from the request itself (no fhirServer, an untrusted or non-https one, a template the
context cannot fill) is named to the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cds_service.log_safety import capped, escape_controls
from fhir_mappings.topics import Topic

UNOBTAINABLE = "could not be obtained from the FHIR server"
"""What the caller hears of any failure of the FHIR server itself (see the module docstring)."""


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
    REDIRECT = "redirect"  # a 3xx answer: never followed, the token stays on fhirServer
    NO_FHIR_SERVER = "no-fhir-server"
    INSECURE_FHIR_SERVER = "insecure-fhir-server"
    UNTRUSTED_FHIR_SERVER = "untrusted-fhir-server"  # not among the caller's FHIR servers
    UNRENDERABLE = "unrenderable"
    FOREIGN_NEXT_LINK = "foreign-next-link"
    PAGE_LIMIT = "page-limit"
    TOO_LARGE = "too-large"


REQUEST_FAILURES: frozenset[Failure] = frozenset(
    {
        Failure.NO_FHIR_SERVER,
        Failure.INSECURE_FHIR_SERVER,
        Failure.UNTRUSTED_FHIR_SERVER,
        Failure.UNRENDERABLE,
    }
)
"""Failures decided from the request alone, before any connection: their reasons (our own
words about the caller's request) may be shown to the caller. Every other kind is the FHIR
server's, and is shown only as `UNOBTAINABLE`."""


@dataclass(frozen=True, slots=True)
class Problem:
    """A failure with a machine-readable kind (metrics, audit) and a reason for the log.

    `reason` never quotes the FHIR server (see the module docstring); it reaches the caller
    only for the `REQUEST_FAILURES`, which follow from the request itself.
    """

    kind: Failure
    reason: str
    http_status: int | None = None

    @property
    def from_request(self) -> bool:
        """Whether the request alone decided this, so the caller may read the reason."""
        return self.kind in REQUEST_FAILURES


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
        """The failure as a sentence for a card or a 412, or None when the key is complete.

        Only our own words (issue 11): every failure of the FHIR server reads the same, and
        what the EHR's prefetch held is named by its state, not quoted.
        """
        problem = self.problem
        if problem is None:
            return None
        label = _capitalised(self.label)
        if not problem.from_request:
            if self.obtained:
                return f"{label} may be incomplete: some of it {UNOBTAINABLE}"
            return f"{label} {UNOBTAINABLE}{self._prefetch_said()}"
        if self.source is KeySource.SKIPPED:
            return f"{label} were not queried: {problem.reason}{self._prefetch_said()}"
        if self.obtained:
            return f"{label} may be incomplete: {problem.reason}"
        return f"{label} could not be fetched: {problem.reason}{self._prefetch_said()}"

    def _prefetch_said(self) -> str:
        """Why the prefetch did not serve, when the EHR sent something for the key."""
        if self.prefetch is PrefetchState.OPERATION_OUTCOME:
            return " (the EHR's prefetch reported an error)"
        if self.prefetch is PrefetchState.UNREADABLE:
            return " (the EHR's prefetch was unreadable)"
        return ""


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
        """Sources, timings and failures per key, for the operator; free of PHI and tokens.

        The precise failure (kind, status, the reason with any outcome's codes, and what
        the EHR's prefetch reported) is here and not on the caller's answer (issue 11); texts
        that a server or the EHR chose are escaped and capped (`cds_service.log_safety`).
        """
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
        record["detail"] = _sanitised(outcome.problem.reason)
    if outcome.prefetch_note is not None:
        record["prefetch_note"] = _sanitised(outcome.prefetch_note)
    return record


def _sanitised(text: str) -> str:
    """A text for the log: capped, then with every control character written as an escape,
    whatever renders the record (json.dumps escapes again, harmlessly)."""
    return escape_controls(capped(text))


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]
