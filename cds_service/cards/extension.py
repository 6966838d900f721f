"""The machine-readable decision on every card, for EHR analytics and tests (spec §8).

Keys without a value are left out rather than sent as null (SPEC-02).
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from cds_service.rules import Assessment, CriterionResult

EXTENSION_KEY = "aza-advisor"


def _json_value(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def _criterion(result: CriterionResult) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": result.id.value, "status": result.status.value}
    fact = result.fact
    if fact is not None:
        optional = {
            "value": _json_value(fact.value),
            "comparator": fact.comparator.value if fact.comparator else None,
            "unit": fact.unit,
            "effective": fact.effective.isoformat() if fact.effective else None,
            "reference": fact.reference,
        }
        entry |= {k: v for k, v in optional.items() if v is not None}
    return entry


def extension(assessment: Assessment) -> dict[str, Any]:
    decision: dict[str, Any] = {
        "recommendation": assessment.recommendation.value,
        "pathway": assessment.pathway.value,
        "policy": {"id": assessment.policy_id, "version": assessment.policy_version},
    }
    if assessment.criteria:
        decision["criteria"] = [_criterion(c) for c in assessment.criteria]
    return {EXTENSION_KEY: decision}
