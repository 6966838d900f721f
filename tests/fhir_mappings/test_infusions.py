"""decision-spec §10, trough timing: the infliximab infusions the rules weigh a level against."""

from __future__ import annotations

from datetime import UTC, datetime

from fhir_mappings import build_facts
from tests.fhir_mappings.resources import (
    AZATHIOPRINE,
    INFLIXIMAB,
    TODAY,
    administration,
    patient,
)


def test_s10_trough_timing_infusions_newest_first_with_their_precision() -> None:
    timed = administration(
        "a2", INFLIXIMAB, 0, effectivePeriod={"start": "2026-11-08T09:15:00+01:00"}
    )
    del timed["effectiveDateTime"]
    facts = build_facts(
        [patient(), administration("a1", INFLIXIMAB, 70), timed], evaluated_on=TODAY
    )
    assert [(i.reference, i.timed) for i in facts.infusions] == [
        ("MedicationAdministration/a2", True),
        ("MedicationAdministration/a1", False),
    ]
    assert facts.infusions[0].given == datetime(2026, 11, 8, 8, 15, tzinfo=UTC)


def test_s10_trough_timing_only_infliximab_given_counts() -> None:
    facts = build_facts(
        [
            patient(),
            administration("a1", AZATHIOPRINE, 3),
            administration("a2", INFLIXIMAB, 3, status="not-done"),
        ],
        evaluated_on=TODAY,
    )
    assert facts.infusions == ()
