"""Issue 14: `CdsResponse.wire()` walks the validated models itself instead of a pydantic
`model_dump` per request. It must give exactly what the pydantic serialiser of `WireModel`
gives (SPEC-02: no null, no empty value, `cards` always present), for every answer the service
gives to the worked examples and for values pydantic's JSON mode converts (dates, tuples)."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import orjson
import pytest

from cds_service.prefetch import PREFETCH_TEMPLATES
from cds_service.protocol import CdsResponse
from cds_service.protocol.base import WireModel
from cds_service.protocol.response import (
    Action,
    Card,
    Coding,
    Link,
    OverrideReason,
    Source,
    Suggestion,
    wire_json,
)
from tests.conftest import TODAY, ConformantClient
from tests.fixtures.worked_examples import NUMBERS, worked_example
from tests.prefetch.fhir_server import FhirTestServer, ehr_prefetch
from tests.test_worked_examples_http import call, context_of


def pydantic_wire(response: CdsResponse) -> dict[str, Any]:
    return WireModel.wire(response)


def full_card() -> Card:
    return Card(
        summary="Consider withdrawing azathioprine",
        detail="",
        indicator="warning",
        source=Source(label="aza-advisor", url="https://aza.example", topic=Coding(code="x")),
        suggestions=[
            Suggestion(
                label="Stop",
                isRecommended=True,
                actions=[
                    Action(
                        type="create",
                        description="order",
                        resource={"resourceType": "ServiceRequest", "note": [], "x": None},
                    )
                ],
            )
        ],
        selectionBehavior="at-most-one",
        overrideReasons=[OverrideReason(system="https://s", code="c", display="d")],
        links=[Link(label="app", url="https://app.example", type="smart", appContext="")],
        extension={
            "aza-advisor": {"on": date(2026, 12, 2), "pair": (1, 2.5), "empty": {}, "no": None}
        },
    )


def test_issue14_wire_equals_the_pydantic_serialiser_on_every_field() -> None:
    for response in (CdsResponse(), CdsResponse(cards=[full_card()], systemActions=[])):
        fast = response.wire()
        assert fast == pydantic_wire(response)
        assert orjson.loads(wire_json(fast)) == fast
    assert CdsResponse().wire() == {"cards": []}


def test_issue14_wire_refuses_what_json_cannot_hold() -> None:
    card = full_card()
    card.extension = {"aza-advisor": {"value": math.nan}}
    with pytest.raises(ValueError):
        CdsResponse(cards=[card]).wire()


@pytest.mark.parametrize("number", NUMBERS)
def test_issue14_wire_equals_pydantic_on_every_worked_example(
    clinical: ConformantClient, number: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[CdsResponse] = []
    fast_text = CdsResponse.wire_text

    def checked(self: CdsResponse) -> bytes:
        seen.append(self)
        text = fast_text(self)
        assert orjson.loads(text) == self.wire() == pydantic_wire(self)
        return text

    monkeypatch.setattr(CdsResponse, "wire_text", checked)
    example = worked_example(number, today=TODAY)
    with FhirTestServer(example.resources) as server:
        prefetch = ehr_prefetch(server, PREFETCH_TEMPLATES, context_of(example))
        call(clinical, example, server, prefetch)
    assert len(seen) == 1
