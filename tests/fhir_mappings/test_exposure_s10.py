"""Decision-spec §10 for medication exposure: stops inside renewal chains, partial end dates,
and ends that are unknown (never guessed as the start or order date)."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import Any

from fhir_mappings import DrugClass, Exposure, PatientFacts, build_facts
from tests.fhir_mappings.resources import (
    ATC,
    AZATHIOPRINE,
    INFLIXIMAB,
    TODAY,
    administration,
    concept,
    day,
    patient,
    request,
    statement,
)

BUDESONIDE = concept(ATC, "A07EA06")


def facts(*resources: dict[str, Any]) -> PatientFacts:
    return build_facts([patient(), *resources], evaluated_on=TODAY)


def exposure(result: PatientFacts, drug: DrugClass) -> Exposure:
    found = result.exposure(drug)
    assert found is not None, f"no {drug} exposure"
    return found


def ago(days: int) -> date:
    return TODAY - timedelta(days=days)


def month_of(days: int) -> tuple[str, date, date]:
    """The "YYYY-MM" of the day `days` ago, with its first and last day."""
    when = ago(days)
    last = calendar.monthrange(when.year, when.month)[1]
    return when.isoformat()[:7], when.replace(day=1), when.replace(day=last)


def yearly_requests(*days_ago: int) -> list[dict[str, Any]]:
    return [request(f"r{n}", AZATHIOPRINE, d, "completed") for n, d in enumerate(days_ago, 1)]


# --- stops inside a chain of renewals -------------------------------------------------------


def test_s10_stop_splits_renewal_chain() -> None:
    """The spec's example: requests 1100/750/400 days ago (each < 400 days apart), a statement
    stopped 365 days ago, a restart 180 days ago: the current course is the restart's."""
    stop = statement(
        "s1", AZATHIOPRINE, "stopped", effectivePeriod={"start": day(1100), "end": day(365)}
    )
    restart = request("r4", AZATHIOPRINE, 180)
    result = facts(
        *yearly_requests(1100, 750, 400),
        stop,
        restart,
        statement("ifx", INFLIXIMAB, effectivePeriod={"start": day(1200)}),
    )
    thiopurine = exposure(result, DrugClass.THIOPURINE)
    assert thiopurine.active
    assert [(i.start, i.end) for i in thiopurine.intervals] == [
        (ago(1100), ago(365)),
        (ago(180), None),
    ]
    assert result.combination is not None
    assert result.combination.start == ago(180)


def test_s10_completed_record_with_end_between_renewals_splits_chain() -> None:
    """ "A stopped (or completed with an end date) record": a completed course also splits."""
    ended = statement(
        "s1", AZATHIOPRINE, "completed", effectivePeriod={"start": day(700), "end": day(500)}
    )
    chain = [request("r1", AZATHIOPRINE, 700, "completed"), request("r2", AZATHIOPRINE, 350)]
    intervals = exposure(facts(*chain, ended), DrugClass.THIOPURINE).intervals
    assert intervals[-1].start == ago(350)


def test_s10_stop_outside_the_chain_does_not_split_it() -> None:
    """A stop before the first renewal (an older course) leaves the chain whole."""
    old = statement(
        "s1", AZATHIOPRINE, "stopped", effectivePeriod={"start": day(1500), "end": day(1300)}
    )
    chain = [request("r1", AZATHIOPRINE, 1000, "completed"), request("r2", AZATHIOPRINE, 650)]
    intervals = exposure(facts(old, *chain), DrugClass.THIOPURINE).intervals
    assert [(i.start, i.end) for i in intervals] == [(ago(1500), ago(1300)), (ago(1000), None)]


def test_s10_infusions_between_renewals_do_not_split_the_chain() -> None:
    """A completed infusion has an end date, but it is a day of use, not an interruption."""
    chain = [
        request("r1", INFLIXIMAB, 700, "completed"),
        request("r2", INFLIXIMAB, 350),
        administration("a1", INFLIXIMAB, 500),
    ]
    [interval] = exposure(facts(*chain), DrugClass.INFLIXIMAB).intervals
    assert (interval.start, interval.end) == (ago(700), None)


# --- partial end dates -------------------------------------------------------------------


def test_s10_month_end_exposure_takes_earliest_day() -> None:
    """A month-precision end: durations count to its first day; `latest_end` keeps its last."""
    month, first, last = month_of(200)
    stopped = statement(
        "s1", AZATHIOPRINE, "stopped", effectivePeriod={"start": day(900), "end": month}
    )
    result = facts(stopped)
    thiopurine = exposure(result, DrugClass.THIOPURINE)
    [interval] = thiopurine.intervals
    assert (interval.end, interval.latest_end) == (first, last)
    assert (thiopurine.active, thiopurine.stopped_on) == (False, first)
    assert result.unusable == ()


def test_s10_month_end_in_start_month_is_no_earlier_than_start() -> None:
    month, _, last = month_of(200)
    start = ago(200)
    record = statement(
        "s1", BUDESONIDE, "completed", effectivePeriod={"start": start.isoformat(), "end": month}
    )
    [interval] = exposure(facts(record), DrugClass.CORTICOSTEROID).intervals
    assert (interval.start, interval.end, interval.latest_end) == (start, start, last)


def test_s10_month_end_before_start_month_is_unusable() -> None:
    month, _, _ = month_of(400)
    record = statement(
        "s1", BUDESONIDE, "completed", effectivePeriod={"start": day(200), "end": month}
    )
    result = facts(record)
    assert result.exposures == {}
    [problem] = result.unusable
    assert (problem.topic, month in problem.reason) == ("corticosteroid", True)


def test_s10_month_validity_end_of_request() -> None:
    month, first, last = month_of(100)
    validity = {"validityPeriod": {"start": day(300), "end": month}}
    record = request("r1", BUDESONIDE, 300, "completed", dispenseRequest=validity)
    [interval] = exposure(facts(record), DrugClass.CORTICOSTEROID).intervals
    assert (interval.end, interval.latest_end) == (first, last)


def test_s10_month_end_latest_day_survives_a_touching_exact_course() -> None:
    """Joined to a course ending later than the month's first day but before its last, the
    union may still have ended on the month's last day."""
    month, first, last = month_of(180)
    partial = statement(
        "s1", BUDESONIDE, "completed", effectivePeriod={"start": day(300), "end": month}
    )
    exact_end = first + timedelta(days=3)
    exact = statement(
        "s2",
        BUDESONIDE,
        "completed",
        effectivePeriod={"start": day(250), "end": exact_end.isoformat()},
    )
    [interval] = exposure(facts(partial, exact), DrugClass.CORTICOSTEROID).intervals
    assert (interval.end, interval.latest_end) == (exact_end, last)


# --- unknown ends ------------------------------------------------------------------------


def test_s10_statement_with_only_a_start_has_unknown_end() -> None:
    record = statement("s1", BUDESONIDE, "completed", effectivePeriod={"start": day(300)})
    [interval] = exposure(facts(record), DrugClass.CORTICOSTEROID).intervals
    assert (interval.start, interval.end, interval.latest_end) == (ago(300), ago(300), date.max)


def test_s10_completed_request_without_duration_has_unknown_end() -> None:
    records = [
        request("r1", BUDESONIDE, 300, "completed"),
        request("r2", BUDESONIDE, 200, "completed"),
    ]
    [interval] = exposure(facts(*records), DrugClass.CORTICOSTEROID).intervals
    assert (interval.start, interval.end, interval.latest_end) == (ago(300), ago(200), date.max)


def test_s10_known_end_after_unknown_end_settles_it() -> None:
    """An unknown end superseded by a touching course with a later known end: that end."""
    unknown = statement("s1", BUDESONIDE, "completed", effectivePeriod={"start": day(300)})
    known = statement(
        "s2", BUDESONIDE, "completed", effectivePeriod={"start": day(299), "end": day(250)}
    )
    [interval] = exposure(facts(unknown, known), DrugClass.CORTICOSTEROID).intervals
    assert (interval.end, interval.latest_end) == (ago(250), None)
