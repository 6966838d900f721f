"""Issue 12: concise cards, the decision first and the detail on demand.

Every worked example of decision-spec §9 and every flaw of §10, through the mappings, rules and
cards as the service runs them: the detail fits a sidebar (at most 12 lines at ~70 characters),
no visible text carries a FHIR id or FHIR jargon, and the machine-readable extension still
names every record the long form cites.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from cds_service.cards import EXTENSION_KEY, CardContext, render_cards
from cds_service.rules import advise, load_policy
from fhir_mappings import build_facts
from tests.adversarial.flaws import NOT_IGNORED, PATIENT_ID, apply_flaw, example_resources
from tests.cards.sidebar import JARGON, fhir_ids, rendered_lines, visible_text
from tests.conftest import TODAY
from tests.fixtures.worked_examples import NUMBERS, worked_example

LINE_BUDGET = 12
SEED = load_policy()


def _cards(
    resources: list[dict[str, Any]],
    *,
    hook: str = "patient-view",
    patient_id: str = PATIENT_ID,
    drafts: list[dict[str, Any]] | None = None,
    selections: list[str] | None = None,
    verbose: bool = False,
    today: date = TODAY,
) -> list[dict[str, Any]]:
    facts = build_facts(
        resources,
        evaluated_on=today,
        draft_orders=drafts or [],
        selections=selections or [],
        patient_id=patient_id,
    )
    cards = render_cards(
        advise(facts, SEED, hook=hook), CardContext(verbose=verbose), patient_id=patient_id
    )
    return [card.wire() for card in cards]


def example_cards(number: int, *, verbose: bool = False) -> list[dict[str, Any]]:
    example = worked_example(number, today=TODAY)
    return _cards(
        example.resources,
        hook=example.hook,
        patient_id=example.patient_id,
        drafts=example.draft_orders,
        selections=example.selections,
        verbose=verbose,
    )


def flaw_cards(name: str, *, verbose: bool = False) -> list[dict[str, Any]]:
    return _cards(apply_flaw(name, example_resources(TODAY), TODAY).resources, verbose=verbose)


def _renewal_cards(verbose: bool = False) -> list[dict[str, Any]]:
    """Example 1 at order-sign with a draft azathioprine renewal: the delete suggestion too."""
    example = worked_example(1, today=TODAY)
    draft = {
        "resourceType": "MedicationRequest",
        "id": "draft-aza",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{example.patient_id}"},
        "medicationCodeableConcept": {"text": "azathioprine 50 mg tablet"},
    }
    return _cards(
        example.resources,
        hook="order-sign",
        patient_id=example.patient_id,
        drafts=[draft],
        verbose=verbose,
    )


EXAMPLES = [n for n in NUMBERS if worked_example(n, today=TODAY).expected is not None]


@pytest.mark.parametrize("number", EXAMPLES)
def test_issue12_worked_example_detail_fits_twelve_sidebar_lines(number: int) -> None:
    cards = example_cards(number)
    assert cards
    for card in cards:
        lines = rendered_lines(card["detail"])
        assert len(lines) <= LINE_BUDGET, "\n".join(lines)
        assert len(card["summary"]) < 140


@pytest.mark.parametrize("name", NOT_IGNORED)
def test_issue12_s10_flaw_detail_fits_the_budget_too(name: str) -> None:
    """A flawed record adds a sentence about it, not a screen."""
    for card in flaw_cards(name):
        lines = rendered_lines(card["detail"])
        assert len(lines) <= LINE_BUDGET + 4, "\n".join(lines)


def test_issue12_the_withdrawal_card_is_shorter_than_its_long_form() -> None:
    concise, verbose = example_cards(1), example_cards(1, verbose=True)
    assert len(rendered_lines(concise[0]["detail"])) <= LINE_BUDGET
    assert len(rendered_lines(verbose[0]["detail"])) > 2 * LINE_BUDGET


def _assert_plain(card: dict[str, Any]) -> None:
    for text in visible_text(card):
        assert not fhir_ids(text), (fhir_ids(text), text)
        for word in JARGON:
            assert word not in text, (word, text)


@pytest.mark.parametrize("number", EXAMPLES)
def test_issue12_worked_example_visible_text_has_no_fhir_ids(number: int) -> None:
    for card in example_cards(number):
        _assert_plain(card)


@pytest.mark.parametrize("name", NOT_IGNORED)
def test_issue12_s10_flaw_visible_text_has_no_fhir_ids(name: str) -> None:
    cards = flaw_cards(name)
    for card in cards:
        _assert_plain(card)


def test_issue12_renewal_card_and_its_delete_suggestion_are_plain() -> None:
    [card] = _renewal_cards()
    _assert_plain(card)
    [delete] = [a for s in card["suggestions"] for a in s["actions"] if a["type"] == "delete"]
    assert delete["resourceId"] == "MedicationRequest/draft-aza"  # the id stays machine-readable


def _extension_ids(card: dict[str, Any]) -> set[str]:
    decision = card["extension"][EXTENSION_KEY]
    ids = set(decision.get("records", []))
    for criterion in decision.get("criteria", []):
        ids |= set(criterion.get("references", []))
    return ids


def _provenance_cases() -> list[tuple[str, list[dict[str, Any]], list[dict[str, Any]]]]:
    cases = [(f"example-{n}", example_cards(n), example_cards(n, verbose=True)) for n in EXAMPLES]
    cases += [(name, flaw_cards(name), flaw_cards(name, verbose=True)) for name in NOT_IGNORED]
    cases.append(("renewal", _renewal_cards(), _renewal_cards(verbose=True)))
    return cases


def test_issue12_extension_names_every_record_the_long_form_cites() -> None:
    """Nothing is lost by the concise text: each FHIR id the long form shows is in the
    concise card's extension (records, or the criteria's references)."""
    checked = 0
    for name, concise, verbose in _provenance_cases():
        assert len(concise) == len(verbose), name
        for short, long in zip(concise, verbose, strict=True):
            cited = fhir_ids(long["detail"])
            assert cited <= _extension_ids(short), (name, cited - _extension_ids(short))
            checked += len(cited)
    assert checked > 100  # the long forms do cite records


def test_issue12_s10_flawed_record_is_named_in_words_and_in_the_extension() -> None:
    """§10: the card names the unreadable record (kind, date, why) in plain words; its id is
    in the extension."""
    flawed = apply_flaw("crp_unconvertible_unit", example_resources(TODAY), TODAY)
    [card] = _cards(flawed.resources)
    assert flawed.reference in card["extension"][EXTENSION_KEY]["records"]
    detail = card["detail"]
    assert "**Unknown** · CRP: A newer CRP result (" in detail
    assert "could not be read (unit" in detail and "the older result cannot decide" in detail
    unusable = card["extension"][EXTENSION_KEY]["unusable"]
    assert any(u["reference"] == flawed.reference and u["reason"] for u in unusable)


def test_issue12_detail_starts_with_what_decided_then_one_met_line() -> None:
    [card] = example_cards(2)  # trough 9.8 mg/L
    first, second, *_ = card["detail"].split("\n\n")
    assert first.startswith("- **Not met** · infliximab trough: ")
    assert "9.8 mg/L (" in first and "\\> 10 mg/L" in first
    assert second == "The other 6 criteria were met."
    assert card["detail"].count("Evidence: ") == 1


def test_issue12_concise_links_are_the_evidence_line_and_by_doi_or_pubmed() -> None:
    [card] = example_cards(4)  # CRP 11 mg/L: Oussalah only
    assert [link["url"] for link in card["links"]] == ["https://doi.org/10.1038/ajg.2010.158"]
    [verbose] = example_cards(4, verbose=True)
    assert len(verbose["links"]) == 6
