"""Deciding a threshold against a value that may be censored (FHIR `Quantity.comparator`).

A result reported as "<3 mg/L" is a half-line of possible true values, not the number 3. It
decides a threshold only when every value on that half-line falls on the same side; otherwise the
honest answer is "cannot tell" (None), which the criteria turn into `unknown`, never `met`.
"""

from __future__ import annotations

import operator as op
from collections.abc import Callable
from functools import partial
from typing import Literal

from fhir_mappings.facts import Comparator

Operator = Literal[">", ">=", "<", "<="]

_MIRRORED: dict[str, Operator] = {">": "<", ">=": "<=", "<": ">", "<=": ">="}
# `limit <reversed> value` is `value <operator> limit`, so a partial on the limit tests a value.
_REVERSED: dict[str, Callable[[float, float], bool]] = {
    ">": op.lt,
    ">=": op.le,
    "<": op.gt,
    "<=": op.ge,
}


def exact(operator: Operator, limit: float) -> Callable[[float], bool]:
    """`<value> <operator> <limit>` for an uncensored value, as `decide` says it without a
    comparator, in one C-level call: a large record has thousands of dates to test (issue 14)."""
    return partial(_REVERSED[operator], limit)


def decide(
    operator: Operator, limit: float, value: float, comparator: Comparator | None
) -> bool | None:
    """Whether `value` (censored by `comparator`) satisfies `<value> <operator> <limit>`.

    Returns None when the censored value lies on both sides of the limit.
    """
    if comparator is None:
        return _REVERSED[operator](limit, value)
    if operator in ("<", "<="):
        # Mirror onto the upward case so that only one set of half-line rules is needed.
        return decide(_MIRRORED[operator], -limit, -value, Comparator(_MIRRORED[comparator]))
    strict = operator == ">"
    if comparator in (Comparator.GT, Comparator.GE):
        # Possible values run upward from `value`: all satisfy when they start above the limit.
        if value > limit or (value == limit and (not strict or comparator is Comparator.GT)):
            return True
        return None
    # Possible values run downward from `value`: none satisfies when they end below the limit.
    if value < limit or (value == limit and (strict or comparator is Comparator.LT)):
        return False
    return None
