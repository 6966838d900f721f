"""Deciding a threshold against a value that may be censored (FHIR `Quantity.comparator`).

A result reported as "<3 mg/L" is a half-line of possible true values, not the number 3. It
decides a threshold only when every value on that half-line falls on the same side; otherwise the
honest answer is "cannot tell" (None), which the criteria turn into `unknown`, never `met`.
"""

from __future__ import annotations

from typing import Literal

from fhir_mappings.facts import Comparator

Operator = Literal[">", ">=", "<", "<="]

_MIRRORED: dict[str, Operator] = {">": "<", ">=": "<=", "<": ">", "<=": ">="}


def decide(
    operator: Operator, limit: float, value: float, comparator: Comparator | None
) -> bool | None:
    """Whether `value` (censored by `comparator`) satisfies `<value> <operator> <limit>`.

    Returns None when the censored value lies on both sides of the limit.
    """
    if operator in ("<", "<="):
        # Mirror onto the upward case so that only one set of half-line rules is needed.
        mirrored = Comparator(_MIRRORED[comparator]) if comparator else None
        return decide(_MIRRORED[operator], -limit, -value, mirrored)
    strict = operator == ">"
    if comparator is None:
        return value > limit if strict else value >= limit
    if comparator in (Comparator.GT, Comparator.GE):
        # Possible values run upward from `value`: all satisfy when they start above the limit.
        if value > limit or (value == limit and (not strict or comparator is Comparator.GT)):
            return True
        return None
    # Possible values run downward from `value`: none satisfies when they end below the limit.
    if value < limit or (value == limit and (strict or comparator is Comparator.LT)):
        return False
    return None
