"""Issue 14: the rules' fast paths say exactly what the general checks say, for every input.

`Window.split` tests freshness with `Threshold.exact` on day ordinals instead of `is_fresh`
per result; an uncensored value is decided by one comparison instead of the half-line rules.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any, get_args

from hypothesis import given
from hypothesis import strategies as st

from cds_service.rules.after_withdrawal import _split
from cds_service.rules.comparison import Operator, decide, exact
from cds_service.rules.policy import Threshold
from cds_service.rules.window import Window
from fhir_mappings.facts import Fact

from .builders import TODAY

OPERATORS = st.sampled_from(get_args(Operator))
NUMBERS = st.one_of(st.integers(-1000, 1000), st.floats(allow_nan=True, allow_infinity=True))
ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=-11)), timezone(timedelta(hours=14)), timezone(-timedelta(0))]
)


@st.composite
def moments(draw: st.DrawFn) -> datetime | None:
    if draw(st.integers(0, 9)) == 0:
        return None
    day = TODAY - timedelta(days=draw(st.integers(-30, 400)))
    moment = time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 30, 59])))
    return datetime.combine(day, moment, tzinfo=draw(ZONES))


FACTS = st.lists(
    st.builds(
        lambda when, i: Fact(value=1.0, reference=f"Observation/{i}", effective=when),
        moments(),
        st.integers(0, 3),
    ),
    max_size=8,
)


@given(OPERATORS, NUMBERS, NUMBERS)
def test_issue14_exact_is_decide_without_comparator(
    operator: Operator, limit: float, value: float
) -> None:
    said = {">": value > limit, ">=": value >= limit, "<": value < limit, "<=": value <= limit}
    assert exact(operator, limit)(value) is decide(operator, limit, value, None) is said[operator]


@given(OPERATORS, st.floats(-400, 400), st.sampled_from([0, 1, 30]), FACTS)
def test_issue14_split_is_is_fresh_per_result(
    operator: Operator, limit: float, shift: int, facts: list[Fact[Any]]
) -> None:
    """Whatever the threshold, the evaluation date or the order and time zones of the results."""
    freshness = Threshold(operator=operator, value=limit, unit="d", evidence=())
    window = Window(TODAY + timedelta(days=shift), freshness)
    fresh, stale = window.split(facts)
    assert fresh == tuple(f for f in facts if window.is_fresh(f))
    assert stale == tuple(f for f in facts if not window.is_fresh(f))


@given(st.integers(-30, 400), FACTS)
def test_issue14_after_withdrawal_split_is_after_and_on_or_before_the_stop(
    days_ago: int, facts: list[Fact[Any]]
) -> None:
    stop: date = TODAY - timedelta(days=days_ago)
    after, before = _split(stop, tuple(facts))
    dated = [f for f in facts if f.effective is not None]
    assert after == tuple(f for f in dated if f.effective and f.effective.date() > stop)
    assert before == tuple(f for f in dated if f not in after)
