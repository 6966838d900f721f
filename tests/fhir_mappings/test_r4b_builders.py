"""The test builders emit valid R4 (checked with the strict fhir.resources.R4B models), so the
mapping tests exercise realistic records; the deliberately broken variants live in the tests."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from tests.fhir_mappings.r4b import validate_r4b
from tests.fhir_mappings.resources import (
    SNOMED,
    administration,
    antibody,
    bundle,
    concept,
    condition,
    day,
    lab,
    patient,
    quantity,
    request,
    rx,
    statement,
)

BUILT: list[dict[str, Any]] = [
    patient(gender="female"),
    lab("o1", "1988-5", 1.1, "mg/dL", issued="2026-11-12T09:00:00Z"),
    lab("o2", "777-3", 305000, "/uL"),
    antibody("a1", valueCodeableConcept=concept(SNOMED, "260385009")),
    antibody(
        "a2",
        valueQuantity=quantity(4.2, "[arb'U]/mL", comparator="<"),
        referenceRange=[{"high": quantity(10, "[arb'U]/mL")}],
    ),
    statement("s1", rx("1256"), effectivePeriod={"start": day(300)}),
    statement(
        "s2",
        rx("1256"),
        contained=[{"resourceType": "Medication", "id": "m", "code": rx("1790546")}],
    ),
    request("r1", rx("1927290"), 30, dispenseRequest={"validityPeriod": {"start": day(30)}}),
    administration("ad1", rx("1790546"), 10),
    condition("c1", concept(SNOMED, "34000006"), "remission", abatementDateTime=day(400)),
]


@pytest.mark.parametrize("resource", BUILT, ids=lambda r: f"{r['resourceType']}/{r['id']}")
def test_builders_emit_valid_r4(resource: dict[str, Any]) -> None:
    validate_r4b(resource)


def test_bundle_builder_emits_valid_r4() -> None:
    validate_r4b(bundle(*BUILT))


def test_timezone_less_datetime_is_what_r4b_rejects_and_we_accept() -> None:
    """Why the request path does not use the R4B models (issue 3)."""
    naive = lab("o1", "1988-5", 2, "mg/L", effectiveDateTime="2026-10-01T07:45:00")
    with pytest.raises(pydantic.ValidationError):
        validate_r4b(naive)
