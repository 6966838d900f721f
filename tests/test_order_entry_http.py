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


# --- issue 12: order entry advises only on an infliximab or thiopurine order ----------------

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def draft_request(patient_id: str, ident: str, **medication: Any) -> dict[str, Any]:
    """A draft MedicationRequest as an EHR's order basket sends it."""
    return {
        "resourceType": "MedicationRequest",
        "id": ident,
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{patient_id}"},
        **medication,
    }


def coded(code: str, display: str) -> dict[str, Any]:
    return {
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": code}], "text": display}
    }


NAPROXEN = coded("7258", "naproxen 500 mg tablet")
RENFLEXIS = coded("1927290", "Renflexis (infliximab-abda) 100 mg")  # biosimilar product code


def mercaptopurine_by_reference() -> dict[str, Any]:
    """A thiopurine drafted through a contained Medication (medicationReference)."""
    return {
        "contained": [
            {
                "resourceType": "Medication",
                "id": "med",
                "code": {"coding": [{"system": RXNORM, "code": "103"}], "text": "mercaptopurine"},
            }
        ],
        "medicationReference": {"reference": "#med"},
    }


def with_drafts(
    number: int, hook: str, drafts: list[dict[str, Any]], selections: list[str] | None = None
) -> WorkedExample:
    example = worked_example(number, today=TODAY)
    chosen = (
        selections if selections is not None else [f"MedicationRequest/{d['id']}" for d in drafts]
    )
    return replace(
        example, hook=hook, draft_orders=drafts, selections=chosen or ["MedicationRequest/none"]
    )


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_issue12_s5_unrelated_drug_gets_no_card(clinical: ConformantClient, hook: str) -> None:
    """Worked example 1 (a withdrawal candidate) ordering naproxen: nothing to advise on."""
    patient = worked_example(1, today=TODAY).patient_id
    example = with_drafts(1, hook, [draft_request(patient, "draft-naproxen", **NAPROXEN)])
    assert cards_for(clinical, example) == []


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_issue12_s5_empty_draft_gets_no_card(clinical: ConformantClient, hook: str) -> None:
    assert cards_for(clinical, with_drafts(1, hook, [])) == []


def test_issue12_s5_draft_without_a_medication_gets_no_card(clinical: ConformantClient) -> None:
    """What the sandbox sends before a drug is picked: a draft naming no medication."""
    example = worked_example(1, today=TODAY)
    draft = draft_request(example.patient_id, "request-123")
    example = replace(
        example,
        hook="order-select",
        draft_orders=[draft],
        selections=["MedicationRequest/request-123"],
    )
    assert cards_for(clinical, example) == []


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_issue12_s5_removed_thiopurine_draft_does_not_bring_the_card_back(
    clinical: ConformantClient, hook: str
) -> None:
    """The clinician takes "Remove the draft thiopurine order"; the EHR calls again with the
    draft that is left (here a naproxen order): no card, so it need not be dismissed twice."""
    patient = worked_example(1, today=TODAY).patient_id
    aza = draft_azathioprine(patient)
    naproxen = draft_request(patient, "draft-naproxen", **NAPROXEN)
    [card] = cards_for(clinical, with_drafts(1, hook, [aza, naproxen]))
    assert advice(card)["recommendation"] == "withdrawal-candidate"
    assert any(a["type"] == "delete" for s in card["suggestions"] for a in s["actions"])
    assert cards_for(clinical, with_drafts(1, hook, [naproxen])) == []
    assert cards_for(clinical, with_drafts(1, hook, [])) == []


def test_issue12_s5_order_select_without_a_relevant_selection_gets_no_card(
    clinical: ConformantClient,
) -> None:
    """The thiopurine draft is still in the basket but the clinician selected the naproxen."""
    patient = worked_example(1, today=TODAY).patient_id
    drafts = [draft_azathioprine(patient), draft_request(patient, "draft-naproxen", **NAPROXEN)]
    example = with_drafts(1, "order-select", drafts, ["MedicationRequest/draft-naproxen"])
    assert cards_for(clinical, example) == []


@pytest.mark.parametrize(
    ("medication", "ident"),
    [(RENFLEXIS, "draft-ifx"), (mercaptopurine_by_reference(), "draft-6mp")],
    ids=["infliximab-biosimilar-code", "thiopurine-by-medicationReference"],
)
def test_issue12_s5_infliximab_or_thiopurine_selection_gets_the_withdrawal_card(
    clinical: ConformantClient, medication: dict[str, Any], ident: str
) -> None:
    patient = worked_example(1, today=TODAY).patient_id
    example = with_drafts(1, "order-select", [draft_request(patient, ident, **medication)])
    [card] = cards_for(clinical, example)
    assert advice(card)["recommendation"] == "withdrawal-candidate"


def test_issue12_s5_order_sign_with_a_thiopurine_among_other_drafts_gets_the_card(
    clinical: ConformantClient,
) -> None:
    patient = worked_example(1, today=TODAY).patient_id
    drafts = [
        draft_request(patient, "draft-naproxen", **NAPROXEN),
        draft_azathioprine(patient),
        draft_request(patient, "draft-omeprazole", **coded("7646", "omeprazole 20 mg")),
    ]
    [card] = cards_for(clinical, with_drafts(1, "order-sign", drafts))
    assert advice(card)["recommendation"] == "withdrawal-candidate"
    deletes = [a for s in card["suggestions"] for a in s["actions"] if a["type"] == "delete"]
    assert [a["resourceId"] for a in deletes] == ["MedicationRequest/draft-aza"]


@pytest.mark.parametrize(("number", "code"), [(15, "consider-combination"), (16, "check-tpmt")])
def test_issue12_s5_initiation_and_tpmt_cards_still_come_on_their_draft(
    clinical: ConformantClient, number: int, code: str
) -> None:
    example = worked_example(number, today=TODAY)
    [card] = cards_for(clinical, example)
    assert advice(card)["recommendation"] == code
    unrelated = replace(
        example,
        draft_orders=[draft_request(example.patient_id, "draft-naproxen", **NAPROXEN)],
        selections=["MedicationRequest/draft-naproxen"],
    )
    assert cards_for(clinical, unrelated) == []
