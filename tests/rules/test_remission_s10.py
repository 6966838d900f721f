"""Decision-spec §10 for the remission criterion: partial and unknown corticosteroid ends.

A month-precision end counts by the month's last day; a course whose end is unknown may have
run into the last 183 days: not-met when it started within them, unknown otherwise, never as if
it had ended on its start or order date.
"""

from __future__ import annotations

import calendar
from datetime import date
from typing import Any

import pytest

from cds_service.rules import Need, Status, load_policy
from cds_service.rules.remission import remission
from fhir_mappings import build_facts
from fhir_mappings.facts import DrugClass, Exposure, Interval, PatientFacts
from tests.fhir_mappings.resources import ATC, concept, day, patient, request, statement

from .builders import TODAY, example_1, with_exposure
from .builders import day as ago

SEED = load_policy()
BUD = "MedicationStatement/bud"
BUDESONIDE = concept(ATC, "A07EA06")


def _steroid(*intervals: Interval) -> Exposure:
    return Exposure(drug=DrugClass.CORTICOSTEROID, intervals=intervals, active=False)


def _course(
    start_days_ago: int | None, end: date, latest_end: date | None, ref: str = BUD
) -> Interval:
    start = ago(start_days_ago) if start_days_ago is not None else None
    return Interval(start, end, (ref,), latest_end)


def _month(days_ago: int) -> tuple[date, date]:
    when = ago(days_ago)
    return when.replace(day=1), when.replace(day=calendar.monthrange(when.year, when.month)[1])


def _with_steroid_records(*resources: dict[str, Any]) -> PatientFacts:
    """Example 1 with the corticosteroid exposure the mapping reads from FHIR records."""
    built = build_facts([patient(), *resources], evaluated_on=TODAY)
    steroid = built.exposure(DrugClass.CORTICOSTEROID)
    assert steroid is not None
    return with_exposure(example_1(), steroid)


# --- partial (month-precision) ends --------------------------------------------------------


def test_s10_month_end_steroid_latest_day() -> None:
    """A course ending in the month of the day 180 days ago: its first day is out of the
    period, its last day is in it, so it counts as a corticosteroid in the period."""
    first, last = _month(180)
    assert (TODAY - first).days >= 183 > (TODAY - last).days  # the case the bullet is about
    result = remission(with_exposure(example_1(), _steroid(_course(270, first, last))), SEED)
    assert (result.status, result.references) == (Status.NOT_MET, (BUD,))
    assert last.isoformat() in result.note


def test_s10_month_end_steroid_whole_month_before_period_met() -> None:
    first, last = _month(220)
    assert (TODAY - last).days >= 183
    result = remission(with_exposure(example_1(), _steroid(_course(300, first, last))), SEED)
    assert result.status is Status.MET


def test_s10_month_end_steroid_from_fhir_record() -> None:
    end = ago(180).isoformat()[:7]
    record = statement(
        "bud", BUDESONIDE, "completed", effectivePeriod={"start": day(270), "end": end}
    )
    result = remission(_with_steroid_records(record), SEED)
    assert (result.status, result.references) == (Status.NOT_MET, (BUD,))


# --- unknown ends ----------------------------------------------------------------------------


def test_s10_steroid_unknown_end_started_in_window_not_met() -> None:
    course = _course(100, ago(100), date.max)
    result = remission(with_exposure(example_1(), _steroid(course)), SEED)
    assert (result.status, result.references) == (Status.NOT_MET, (BUD,))
    assert "end not recorded" in result.note


def test_s10_steroid_unknown_end_started_before_window_unknown() -> None:
    """Remission is documented (example 1), but the course may have run into the period."""
    course = _course(300, ago(300), date.max)
    result = remission(with_exposure(example_1(), _steroid(course)), SEED)
    assert result.status is Status.UNKNOWN
    assert BUD in result.references and "Condition/cd" in result.references
    assert result.to_obtain == (Need.REMISSION_ASSESSMENT,)
    assert "end not recorded" in result.note and "In remission" in result.note


@pytest.mark.parametrize(("days", "status"), [(182, Status.NOT_MET), (183, Status.UNKNOWN)])
def test_s10_steroid_unknown_end_window_boundary(days: int, status: Status) -> None:
    course = _course(days, ago(days), date.max)
    assert remission(with_exposure(example_1(), _steroid(course)), SEED).status is status


def test_s10_steroid_unknown_end_and_unknown_start_unknown() -> None:
    course = _course(None, ago(300), date.max)
    assert remission(with_exposure(example_1(), _steroid(course)), SEED).status is Status.UNKNOWN


def test_s10_steroid_unknown_end_recorded_in_window_not_met() -> None:
    """Renewals of an unknown-end course: the last one within the period proves use there."""
    course = _course(300, ago(100), date.max)
    assert remission(with_exposure(example_1(), _steroid(course)), SEED).status is Status.NOT_MET


def test_s10_steroid_activity_wins_over_doubt() -> None:
    doubtful = _course(400, ago(400), date.max, ref="MedicationStatement/old")
    recent = _course(100, ago(60), None)
    result = remission(with_exposure(example_1(), _steroid(doubtful, recent)), SEED)
    assert (result.status, result.references) == (Status.NOT_MET, (BUD,))


def test_s10_steroid_start_only_statement_not_ended_on_its_start() -> None:
    """A start-only statement 300 days ago, then a later exact course that ended before the
    period: reading the first as ended on its start day would make remission met."""
    start_only = statement("bud", BUDESONIDE, "completed", effectivePeriod={"start": day(300)})
    later = statement(
        "bud2", BUDESONIDE, "completed", effectivePeriod={"start": day(250), "end": day(200)}
    )
    result = remission(_with_steroid_records(start_only, later), SEED)
    assert result.status is Status.UNKNOWN
    assert BUD in result.references


@pytest.mark.parametrize(("days", "status"), [(100, Status.NOT_MET), (300, Status.UNKNOWN)])
def test_s10_steroid_completed_request_without_duration(days: int, status: Status) -> None:
    record = request("bud", BUDESONIDE, days, "completed")
    result = remission(_with_steroid_records(record), SEED)
    assert result.status is status
    assert "MedicationRequest/bud" in result.references
