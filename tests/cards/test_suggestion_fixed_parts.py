"""The suggested ServiceRequests built from fixed parts (issue 14) are exactly what building
and dumping the R4B model per call gave, valid R4, and never shared between cards."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fhir.resources.R4B.servicerequest import ServiceRequest

from cds_service.cards.catalogue import Orderable, load_catalogue
from cds_service.cards.suggestions import service_request

ORDERABLES = [
    *load_catalogue().orders.values(),
    Orderable(
        label="antibodies to infliximab",
        system="http://lab.st-example-hospital.org/orders",
        code="IFXAB",
        display="Infliximab antibodies",
        source="St Example laboratory catalogue, 2026",
    ),
]


def _per_call(orderable: Orderable, patient: str, occurrence: date | None) -> dict[str, Any]:
    """The former per-call construction: the reference the fixed parts must equal."""
    request = ServiceRequest(
        status="draft",
        intent="proposal",
        code={
            "coding": [
                {"system": orderable.system, "code": orderable.code, "display": orderable.display}
            ],
            "text": orderable.display,
        },
        subject={"reference": patient},
        occurrenceDateTime=occurrence.isoformat() if occurrence else None,
    )
    dumped: dict[str, Any] = request.model_dump(mode="json", exclude_none=True)
    return dumped


@pytest.mark.parametrize("orderable", ORDERABLES, ids=lambda o: o.code)
@pytest.mark.parametrize("occurrence", [None, date(2027, 2, 20)])
def test_fixed_part_equals_the_r4b_model_and_validates(
    orderable: Orderable, occurrence: date | None
) -> None:
    built = service_request(orderable, "Patient/p1", occurrence=occurrence)
    assert built == _per_call(orderable, "Patient/p1", occurrence)
    assert list(built) == list(_per_call(orderable, "Patient/p1", occurrence))
    ServiceRequest.model_validate(built)


def test_each_suggestion_is_a_fresh_copy() -> None:
    orderable = ORDERABLES[0]
    first = service_request(orderable, "Patient/p1")
    first["code"]["coding"][0]["code"] = "changed"
    first["code"]["text"] = "changed"
    second = service_request(orderable, "Patient/p2")
    assert second == _per_call(orderable, "Patient/p2", None)


def test_an_invalid_site_code_is_still_refused_by_r4b() -> None:
    bad = ORDERABLES[-1].model_copy(update={"code": " IFXAB"})  # R4 codes have no edge blanks
    with pytest.raises(ValueError):
        service_request(bad, "Patient/p1")
