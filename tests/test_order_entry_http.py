"""Order entry shows a card only when there is something to act on (issue 4, decision-spec §2):
a withdrawal candidate renewing the thiopurine gets the delete suggestion; insufficient data
matters before a renewal; with no relevant draft order there is nothing to say."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tests.conftest import TODAY, ConformantClient
from tests.fixtures.worked_examples import WorkedExample, worked_example
from tests.prefetch.fhir_server import FhirTestServer
from tests.test_worked_examples_http import advice, call


def draft_azathioprine(patient_id: str) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": "draft-aza",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{patient_id}"},
        "medicationCodeableConcept": {
            "coding": [
                {
                    "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                    "code": "1256",
                    "display": "azathioprine",
                }
            ]
        },
    }


def at_order_entry(number: int, hook: str, *, with_draft: bool) -> WorkedExample:
    example = worked_example(number, today=TODAY)
    drafts = [draft_azathioprine(example.patient_id)] if with_draft else []
    selections = ["MedicationRequest/draft-aza"] if with_draft else ["MedicationRequest/other"]
    return replace(example, hook=hook, draft_orders=drafts, selections=selections)


def cards_for(client: ConformantClient, example: WorkedExample) -> list[dict[str, Any]]:
    with FhirTestServer(example.resources) as server:
        cards: list[dict[str, Any]] = call(client, example, server, None)["cards"]
    return cards


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_s8_withdrawal_candidate_renewal_offers_delete_of_draft(
    clinical: ConformantClient, hook: str
) -> None:
    [card] = cards_for(clinical, at_order_entry(1, hook, with_draft=True))
    assert advice(card)["recommendation"] == "withdrawal-candidate"
    deletes = [
        action
        for suggestion in card["suggestions"]
        for action in suggestion.get("actions", [])
        if action["type"] == "delete"
    ]
    assert deletes == [
        {
            "type": "delete",
            "description": deletes[0]["description"],
            "resourceId": "MedicationRequest/draft-aza",
        }
    ]
    assert card["overrideReasons"]


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_s2_insufficient_data_shown_before_a_renewal(clinical: ConformantClient, hook: str) -> None:
    [card] = cards_for(clinical, at_order_entry(6, hook, with_draft=True))
    assert advice(card)["recommendation"] == "insufficient-data"
    assert card["indicator"] == "warning"


@pytest.mark.parametrize("number", [2, 6])
def test_s2_order_entry_without_relevant_draft_has_no_card(
    clinical: ConformantClient, number: int
) -> None:
    assert cards_for(clinical, at_order_entry(number, "order-sign", with_draft=False)) == []
