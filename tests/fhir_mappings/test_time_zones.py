"""decision-spec §10, time zones: collection times are converted to the service's zone before
their date is taken; date-only values are that date in the service's zone; freshness windows
count whole days in that zone."""

from __future__ import annotations

from datetime import date

import pytest

from cds_service.rules import Status, load_policy
from cds_service.rules.criteria import crp
from fhir_mappings import Analyte, MappingConfig, PatientFacts, build_facts
from tests.fhir_mappings.resources import TODAY, lab, patient


def _read(effective: str, zone: str, evaluated_on: date = TODAY) -> PatientFacts:
    crp_result = lab("c1", "1988-5", 1.2, "mg/L", effectiveDateTime=effective)
    config = MappingConfig(timezone=zone)
    return build_facts([patient(), crp_result], evaluated_on=evaluated_on, config=config)


@pytest.mark.parametrize(
    ("zone", "day"),
    [
        ("Europe/Amsterdam", date(2026, 11, 21)),  # 05:30 on the 21st
        ("UTC", date(2026, 11, 21)),  # 04:30
        ("America/Los_Angeles", date(2026, 11, 20)),  # 20:30 on the 20th
    ],
)
def test_s10_time_zones_collection_time_converted_to_the_service_zone(zone: str, day: date) -> None:
    [fact] = _read("2026-11-20T23:30:00-05:00", zone).lab(Analyte.CRP)
    assert fact.effective is not None and fact.effective.date() == day
    assert str(fact.effective.tzinfo) == zone


@pytest.mark.parametrize("zone", ["America/New_York", "UTC", "Asia/Tokyo"])
def test_s10_time_zones_date_only_is_that_date_in_the_service_zone(zone: str) -> None:
    """Read as UTC midnight, 2026-11-20 would be the 19th in New York."""
    [fact] = _read("2026-11-20", zone).lab(Analyte.CRP)
    assert fact.effective is not None and fact.effective.date() == date(2026, 11, 20)


def test_s10_time_zones_freshness_counts_whole_days_in_the_service_zone() -> None:
    """Evaluated 2026-11-22 with a 90-day window, the oldest fresh day is 2026-08-24. A result
    drawn at 23:30 on the 23rd in Honolulu is the 24th in UTC: fresh for a UTC service, stale
    for a service in Honolulu."""
    drawn = "2026-08-23T23:30:00-10:00"
    policy = load_policy()
    assert crp(_read(drawn, "UTC"), policy).status is Status.MET
    assert crp(_read(drawn, "Pacific/Honolulu"), policy).status is Status.UNKNOWN


def test_s10_time_zones_future_check_in_the_service_zone() -> None:
    """00:30 on the 24th in Tokyo is the 23rd in UTC: within the one day of clock slack for a
    UTC service evaluating on the 22nd, but a future date for a service in Tokyo."""
    drawn = "2026-11-24T00:30:00+09:00"
    assert [f.reference for f in _read(drawn, "UTC").lab(Analyte.CRP)] == ["Observation/c1"]
    in_tokyo = _read(drawn, "Asia/Tokyo")
    assert in_tokyo.lab(Analyte.CRP) == ()
    assert "future" in in_tokyo.unusable[0].reason


def test_s10_time_zones_unknown_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        MappingConfig(timezone="Mars/Olympus_Mons")


def test_s10_time_zones_partial_date_latest_moment_in_the_zone() -> None:
    obs = lab("c1", "1988-5", 1.2, "mg/L", effectiveDateTime="2026-11")
    facts = build_facts(
        [patient(), obs], evaluated_on=TODAY, config=MappingConfig(timezone="Asia/Tokyo")
    )
    [unusable] = facts.unusable
    assert unusable.effective is not None and unusable.effective.date() == date(2026, 11, 30)
    assert str(unusable.effective.tzinfo) == "Asia/Tokyo"
