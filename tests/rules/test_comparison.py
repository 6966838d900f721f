"""Censored values (`Quantity.comparator`) decide a threshold only when unambiguous (§7)."""

from __future__ import annotations

import pytest

from cds_service.rules.comparison import decide
from fhir_mappings.facts import Comparator

GE, GT, LE, LT = Comparator.GE, Comparator.GT, Comparator.LE, Comparator.LT


@pytest.mark.parametrize(
    ("operator", "limit", "value", "comparator", "expected"),
    [
        (">", 10, 10.0, None, False),
        (">", 10, 10.01, None, True),
        (">=", 5, 5.0, None, True),
        ("<=", 5, 5.0, None, True),
        ("<=", 5, 5.01, None, False),
        ("<", 150, 150, None, False),
        # CRP "<3" is <= 5; "<5" and "<=5" too; ">5" is not; "<6" cannot tell
        ("<=", 5, 3, LT, True),
        ("<=", 5, 5, LT, True),
        ("<=", 5, 5, LE, True),
        ("<=", 5, 5, GT, False),
        ("<=", 5, 6, LT, None),
        ("<=", 5, 5, GE, None),
        # trough "<12" cannot decide "> 10"; ">12" can; "<10" and "<=10" fail it
        (">", 10, 12, LT, None),
        (">", 10, 12, GT, True),
        (">", 10, 10, GT, True),
        (">", 10, 10, GE, None),
        (">", 10, 10, LE, False),
        (">", 10, 1, LT, False),
        (">=", 5, 5, GE, True),
        (">=", 5, 5, LE, None),
        (">=", 5, 5, LT, False),
    ],
)
def test_rule_comparator_honoured(
    operator: str, limit: float, value: float, comparator: Comparator | None, expected: bool | None
) -> None:
    assert decide(operator, limit, value, comparator) is expected  # type: ignore[arg-type]
