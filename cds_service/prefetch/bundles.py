"""Reading one FHIR answer (a prefetch value or a response body) as a page of resources.

The three-state rule of SPEC-12/13 starts here: a usable answer becomes a `Page`; an
OperationOutcome, whether at the top level or as an error entry of a Bundle, and anything that
is not the expected FHIR JSON become a `Problem`, so that the caller fetches the key instead of
reading an error as "no data".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cds_service.prefetch.outcome import Failure, Problem
from cds_service.prefetch.templates import PREFETCH_TEMPLATES, PrefetchTemplate

_ERROR_SEVERITIES = frozenset({"error", "fatal"})
# The types a reason may name (those the service reads; a Bundle or an OperationOutcome is
# read before): only words of ours reach the audit log, no server text.
_NAMED_TYPES = frozenset(
    {template.resource_type for template in PREFETCH_TEMPLATES.values()} | {"Medication"}
)


@dataclass(frozen=True, slots=True)
class Page:
    """The resources of one answer and where the next page is, if the server says."""

    resources: tuple[dict[str, Any], ...]
    next_url: str | None = None


def read_answer(value: object, template: PrefetchTemplate) -> Page | Problem:
    """`value` read as the answer to `template`'s query: a Bundle for a search, else the
    resource (or a Bundle holding it, as some EHRs send for reads)."""
    if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
        return Problem(Failure.UNREADABLE, "unreadable: not a FHIR resource")
    resource_type = value["resourceType"]
    outcome = operation_outcome_reason(value)
    if outcome is not None:
        return Problem(Failure.OPERATION_OUTCOME, outcome)
    if resource_type == "Bundle":
        return _read_bundle(value)
    if template.is_search or resource_type != template.resource_type:
        expected = "Bundle" if template.is_search else template.resource_type
        got = resource_type if resource_type in _NAMED_TYPES else "another resource type"
        return Problem(Failure.UNREADABLE, f"unreadable: expected {expected}, got {got}")
    return Page((value,))


def _read_bundle(bundle: dict[str, Any]) -> Page | Problem:
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        return Problem(Failure.UNREADABLE, "unreadable: Bundle.entry is not a list")
    # Fast path (issue 14): an entry list of plain resources, none an OperationOutcome, read
    # in one comprehension; any other entry (no resource, an outcome, a subclass) makes the
    # counts differ, and the whole list is read again the general way below.
    plain = [
        resource
        for entry in entries
        if type(entry) is dict
        and type(resource := entry.get("resource")) is dict
        and type(resource_type := resource.get("resourceType")) is str
        and resource_type != "OperationOutcome"
    ]
    if len(plain) == len(entries):
        return Page(tuple(plain), _next_url(bundle))
    resources: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            continue  # an entry without a resource carries no data for us
        resource_type = resource.get("resourceType")
        if not isinstance(resource_type, str):
            continue
        if resource_type != "OperationOutcome":
            resources.append(resource)
        elif _is_error(resource) or not _is_outcome_entry(entry):
            failures.append(resource)
    if failures and (not resources or any(_is_error(outcome) for outcome in failures)):
        return Problem(Failure.OPERATION_OUTCOME, _outcome_text(failures[0]))
    return Page(tuple(resources), _next_url(bundle))


def _is_outcome_entry(entry: dict[str, Any]) -> bool:
    """An entry the server marks as a note about the search (e.g. a warning), not as data."""
    search = entry.get("search")
    return isinstance(search, dict) and search.get("mode") == "outcome"


def operation_outcome_reason(value: object) -> str | None:
    """The text `OperationOutcome: <severity> <issue type>` if `value` is one, else None."""
    if isinstance(value, dict) and value.get("resourceType") == "OperationOutcome":
        return _outcome_text(value)
    return None


def _outcome_text(outcome: dict[str, Any]) -> str:
    return f"OperationOutcome: {_coded(outcome)}"


def _coded(outcome: dict[str, Any]) -> str:
    """The outcome's issues by their coded severity and issue type alone, e.g. "error
    not-found; warning too-costly".

    A server's own words (`diagnostics`, `details`) are never kept: this text reaches the audit
    log, and a server may name the patient in them ("no record for John Smith, MRN 123"), while
    no PHI may reach a log. Severity and issue type are kept only as codes of their FHIR value
    sets, so nothing a server chose can pass; an operator who needs the server's words finds
    them in that server's own log."""
    said = [
        " ".join(
            code
            for code in (issue.get("severity"), issue.get("code"))
            if isinstance(code, str) and code in _OUTCOME_CODES  # a list is not hashable
        )
        for issue in _issues(outcome)[:_ISSUES_SHOWN]
    ]
    return "; ".join(filter(None, said)) or "no coded issue"


_ISSUES_SHOWN = 3
# IssueSeverity and IssueType (FHIR R4, http://hl7.org/fhir/ValueSet/issue-severity and
# http://hl7.org/fhir/ValueSet/issue-type, 4 and 31 codes).
_OUTCOME_CODES = frozenset(
    {
        *("fatal", "error", "warning", "information"),
        *("invalid", "structure", "required", "value", "invariant", "security", "login"),
        *("unknown", "expired", "forbidden", "suppressed", "processing", "not-supported"),
        *("duplicate", "multiple-matches", "not-found", "deleted", "too-long", "code-invalid"),
        *("extension", "too-costly", "business-rule", "conflict", "transient", "lock-error"),
        *("no-store", "exception", "timeout", "incomplete", "throttled", "informational"),
    }
)


def _is_error(outcome: dict[str, Any]) -> bool:
    return any(
        isinstance(severity := issue.get("severity"), str) and severity in _ERROR_SEVERITIES
        for issue in _issues(outcome)  # a list or an object is not hashable: that was a 500
    )


def _issues(outcome: dict[str, Any]) -> list[dict[str, Any]]:
    issues = outcome.get("issue")
    return (
        [issue for issue in issues if isinstance(issue, dict)] if isinstance(issues, list) else []
    )


def _next_url(bundle: dict[str, Any]) -> str | None:
    links = bundle.get("link")
    if not isinstance(links, list):
        return None
    for link in links:
        if isinstance(link, dict) and link.get("relation") == "next":
            url = link.get("url")
            return url if isinstance(url, str) and url else None
    return None
