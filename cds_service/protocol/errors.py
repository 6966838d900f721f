"""Protocol errors as exceptions carrying their HTTP status and a FHIR OperationOutcome.

Every error the service returns has an OperationOutcome body (the CDS Hooks 3.0 style, which
2.0 clients tolerate): an EHR integration engineer reading a log sees what was wrong without
access to ours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

IssueSeverity = Literal["fatal", "error", "warning", "information"]


@dataclass(frozen=True, slots=True)
class Issue:
    """One OperationOutcome.issue. `code` is from the FHIR issue-type value set."""

    code: str
    diagnostics: str
    severity: IssueSeverity = "error"
    expression: tuple[str, ...] = ()

    def as_fhir(self) -> dict[str, Any]:
        issue: dict[str, Any] = {
            "severity": self.severity,
            "code": self.code,
            "diagnostics": self.diagnostics,
        }
        if self.expression:
            issue["expression"] = list(self.expression)
        return issue


def operation_outcome(issues: Sequence[Issue]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": [issue.as_fhir() for issue in issues]}


class CdsHooksError(Exception):
    """An error answered with `status` and an OperationOutcome of `issues`."""

    status: int = 400

    def __init__(self, *issues: Issue, status: int | None = None) -> None:
        super().__init__("; ".join(issue.diagnostics for issue in issues))
        self.issues: tuple[Issue, ...] = issues
        if status is not None:
            self.status = status

    def outcome(self) -> dict[str, Any]:
        return operation_outcome(self.issues)


class BadRequest(CdsHooksError):
    status = 400


class Unauthorized(CdsHooksError):
    """SPEC-30/37: the call carries no token, or one that does not verify. The diagnostics are
    deliberately the same for every reason: the caller learns nothing about which check failed
    (the reason goes to the metrics and the log)."""

    status = 401

    def __init__(self) -> None:
        super().__init__(
            Issue("login", "a valid bearer token from a trusted CDS client is required")
        )


class UnknownService(CdsHooksError):
    status = 404


class PayloadTooLarge(CdsHooksError):
    status = 413


class PreconditionFailed(CdsHooksError):
    """SPEC-15: data the service cannot work without could not be obtained."""

    status = 412

    @classmethod
    def missing(cls, keys: Sequence[str], reasons: Sequence[str] = ()) -> PreconditionFailed:
        detail = f"; {'; '.join(reasons)}" if reasons else ""
        return cls(
            Issue(
                code="not-found",
                diagnostics=f"required data unavailable: {', '.join(keys)}{detail}",
                expression=tuple(f"prefetch.{key}" for key in keys),
            )
        )
