"""Lenient readers (read.py): dates, references and codings as EHRs actually send them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from fhir_mappings.read import (
    codings,
    names,
    number,
    parse_date,
    parse_datetime,
    relative_reference,
    text,
)


def test_s7_date_only_is_midnight_utc() -> None:
    assert parse_datetime("2026-03-01") == datetime(2026, 3, 1, tzinfo=UTC)


def test_s7_timezone_less_datetime_is_read_as_utc() -> None:
    assert parse_datetime("2026-03-01T10:15:00") == datetime(2026, 3, 1, 10, 15, tzinfo=UTC)


def test_s7_offset_datetime_keeps_its_offset() -> None:
    parsed = parse_datetime("2026-03-01T23:30:00-05:00")
    assert parsed == datetime(2026, 3, 2, 4, 30, tzinfo=UTC)
    assert parsed is not None and parsed.utcoffset() == timedelta(hours=-5)


def test_s7_instant_with_z_and_fraction() -> None:
    assert parse_datetime("2026-03-01T10:15:00.123Z") == datetime(
        2026, 3, 1, 10, 15, 0, 123000, tzinfo=UTC
    )


def test_s7_calendar_date_is_the_date_as_written_not_utc() -> None:
    assert parse_date("2026-03-01T23:30:00-05:00") == date(2026, 3, 1)


@pytest.mark.parametrize(
    "raw", ["2026", "2026-03", "", "  ", "yesterday", "2026-13-01", 20260301, None]
)
def test_s7_partial_or_malformed_dates_are_absent(raw: object) -> None:
    assert parse_datetime(raw) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Observation/123", "Observation/123"),
        ("https://ehr.example.org/fhir/Medication/m1", "Medication/m1"),
        ("Medication/m1/_history/3", "Medication/m1"),
        ({"reference": "Patient/p1"}, "Patient/p1"),
        ("#med", "#med"),
        ("urn:uuid:0c3d", None),
        ({"display": "no reference"}, None),
    ],
)
def test_references_reduce_to_type_and_id(raw: object, expected: str | None) -> None:
    assert relative_reference(raw) == expected


def test_codings_skip_incomplete_codings_and_names_collect_text_and_displays() -> None:
    concept = {
        "text": "Renflexis",
        "coding": [
            {"system": "http://x", "code": "1", "display": "one"},
            {"system": "http://x", "code": ""},
            {"code": "no-system"},
            "not an object",
        ],
    }
    assert list(codings(concept)) == [("http://x", "1", "one")]
    assert names(concept) == ["Renflexis", "one"]
    assert list(codings(["not", "a", "concept"])) == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(1, 1.0), (2.5, 2.5), ("2.5", None), (True, None), (float("nan"), None), (10**400, None)],
)
def test_s10_plausibility_numbers_only_from_json_numbers(
    raw: object, expected: float | None
) -> None:
    assert number(raw) == expected


def test_empty_strings_are_absent() -> None:
    assert text("") is None
    assert text("  x ") == "x"


def test_numbers_too_large_for_a_float_are_absent() -> None:
    assert number(10**400) is None


@pytest.mark.parametrize("raw", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
def test_datetimes_that_cannot_be_placed_in_utc_are_absent(raw: str) -> None:
    assert parse_datetime(raw) is None
