"""The machine-readable decision on every card, for EHR analytics and tests (spec §8).

It carries the complete provenance (issue 12): the visible text names no FHIR id, so every
record a criterion rests on or names is in its `references`, every record that could not be
read is in `unusable` with its reason, and `records` lists every resource the card used or
named (criteria, notes, unreadable records, the draft orders it acts on). Keys without a value
are left out rather than sent as null (SPEC-02).
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from cds_service.cards.detail import records
from cds_service.rules import Assessment, CriterionResult
from fhir_mappings.facts import Unusable

EXTENSION_KEY = "aza-advisor"


def _json_value(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def _criterion(result: CriterionResult, cited: tuple[str, ...]) -> dict[str, Any]:
    """`cited` is `records(result)`, which `used_records` needs too."""
    entry: dict[str, Any] = {"id": result.id.value, "status": result.status.value}
    fact = result.fact
    if fact is not None:
        if (value := _json_value(fact.value)) is not None:
            entry["value"] = value
        if fact.comparator is not None:
            entry["comparator"] = fact.comparator.value
        if fact.unit is not None:
            entry["unit"] = fact.unit
        if fact.effective is not None:
            entry["effective"] = fact.effective.isoformat()
        if fact.reference is not None:
            entry["reference"] = fact.reference
    if cited:
        entry["references"] = list(cited)
    return entry


def _unusable(unusable: Unusable) -> dict[str, Any]:
    optional = {
        "reference": unusable.reference,
        "reason": unusable.reason,
        "topic": _json_value(unusable.topic),
        "effective": unusable.effective.isoformat() if unusable.effective else None,
    }
    return {k: v for k, v in optional.items() if v is not None}


def used_records(assessment: Assessment, criteria: list[tuple[str, ...]]) -> list[str]:
    """Every FHIR resource the card used or named, once each, in first-cited order;
    `criteria` holds `records` of each criterion."""
    cited = [ref for refs in criteria for ref in refs]
    cited += [ref for n in (*assessment.notes, *assessment.modifiers) for ref in n.references]
    cited += [u.reference for u in assessment.unusable if u.reference]
    cited += [d.resource_id for d in assessment.draft_orders]
    return list(dict.fromkeys(cited))


def extension(assessment: Assessment) -> dict[str, Any]:
    decision: dict[str, Any] = {
        "recommendation": assessment.recommendation.value,
        "pathway": assessment.pathway.value,
        "policy": {"id": assessment.policy_id, "version": assessment.policy_version},
    }
    cited = [records(c) for c in assessment.criteria]
    if assessment.criteria:
        decision["criteria"] = [
            _criterion(c, r) for c, r in zip(assessment.criteria, cited, strict=True)
        ]
    if assessment.unusable:
        decision["unusable"] = [_unusable(u) for u in assessment.unusable]
    if used := used_records(assessment, cited):
        decision["records"] = used
    return {EXTENSION_KEY: decision}
