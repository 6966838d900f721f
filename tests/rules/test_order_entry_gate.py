"""Issue 12, decision-spec §5: order entry advises only on an infliximab or thiopurine order.

The gate is in `advise` (rules, pure): on order-select and order-sign, no assessment is shown
unless a selected (order-select) or drafted (order-sign) order is infliximab or a thiopurine.
Patient-view is unchanged.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from cds_service.rules import Hook, Recommendation, advise, load_policy
from cds_service.rules.order_entry import ORDER_ENTRY_DRUGS, relevant_drafts
from fhir_mappings.facts import DraftOrder, DrugClass, PatientFacts
from tests.rules.builders import (
    POS,
    antibody,
    draft,
    example_1,
    exposure,
    with_exposure,
    without_exposure,
)

SEED = load_policy()
ORDER_HOOKS = (Hook.ORDER_SELECT, Hook.ORDER_SIGN)
UNRELATED = sorted(set(DrugClass) - ORDER_ENTRY_DRUGS)


def _codes(facts: PatientFacts, hook: str) -> list[Recommendation]:
    return [a.recommendation for a in advise(facts, SEED, hook=hook)]


def _naive() -> PatientFacts:
    facts = example_1(combination=None)
    return without_exposure(without_exposure(facts, DrugClass.INFLIXIMAB), DrugClass.THIOPURINE)


def _withdrawn() -> PatientFacts:
    """Thiopurine stopped 180 days ago, a positive antibody since: pathway B reintroduce."""
    aza = exposure(DrugClass.THIOPURINE, 1500, 180, ref="MedicationStatement/aza")
    facts = example_1(combination=None, antibodies=(antibody(POS, 30, "Observation/ab-pos"),))
    return with_exposure(facts, aza)


# Every pathway's patient: A (candidate), B (reintroduce or monitor), C/D (naive).
PATIENTS = st.sampled_from([example_1(), _withdrawn(), _naive()])
UNRELATED_DRAFTS = st.lists(
    st.builds(
        DraftOrder,
        drug=st.sampled_from(UNRELATED),
        resource_id=st.from_regex(r"MedicationRequest/[a-z0-9]{1,8}", fullmatch=True),
        selected=st.booleans(),
    ),
    max_size=4,
)


@given(PATIENTS, UNRELATED_DRAFTS, st.sampled_from(ORDER_HOOKS))
def test_issue12_s5_arbitrary_unrelated_drafts_never_produce_a_card(
    facts: PatientFacts, drafts: list[DraftOrder], hook: Hook
) -> None:
    assert advise(replace(facts, draft_orders=tuple(drafts)), SEED, hook=hook) == ()


@given(PATIENTS, st.sampled_from(sorted(ORDER_ENTRY_DRUGS)), st.sampled_from(ORDER_HOOKS))
def test_issue12_s5_an_unselected_relevant_draft_does_not_open_the_gate(
    facts: PatientFacts, drug: DrugClass, hook: Hook
) -> None:
    unselected = draft(drug, "MedicationRequest/in-basket", selected=False)
    assert advise(replace(facts, draft_orders=(unselected,)), SEED, hook=hook) == ()


def test_issue12_s5_empty_draft_no_card_but_patient_view_unchanged() -> None:
    for hook in ORDER_HOOKS:
        assert _codes(example_1(), hook) == []
    assert _codes(example_1(), Hook.PATIENT_VIEW) == [Recommendation.WITHDRAWAL_CANDIDATE]


def test_issue12_s5_removed_thiopurine_draft_gives_no_card() -> None:
    renewal = example_1(draft_orders=(draft(DrugClass.THIOPURINE, "MedicationRequest/aza"),))
    assert _codes(renewal, Hook.ORDER_SIGN) == [Recommendation.WITHDRAWAL_CANDIDATE]
    removed = replace(
        renewal, draft_orders=(draft(DrugClass.METHOTREXATE, "MedicationRequest/mtx"),)
    )
    assert _codes(removed, Hook.ORDER_SIGN) == []


def test_issue12_s5_infliximab_or_thiopurine_selection_gives_the_right_card() -> None:
    for drug in sorted(ORDER_ENTRY_DRUGS):
        facts = example_1(draft_orders=(draft(drug, f"MedicationRequest/{drug.value}"),))
        assert _codes(facts, Hook.ORDER_SELECT) == [Recommendation.WITHDRAWAL_CANDIDATE]
    naive_ifx = replace(
        _naive(), draft_orders=(draft(DrugClass.INFLIXIMAB, "MedicationRequest/ifx"),)
    )
    assert _codes(naive_ifx, Hook.ORDER_SELECT) == [Recommendation.CONSIDER_COMBINATION]
    naive_aza = replace(
        _naive(), draft_orders=(draft(DrugClass.THIOPURINE, "MedicationRequest/aza"),)
    )
    assert _codes(naive_aza, Hook.ORDER_SELECT) == [Recommendation.CHECK_TPMT]


def test_issue12_s5_thiopurine_among_other_drafts_opens_the_gate() -> None:
    drafts = (
        draft(DrugClass.CORTICOSTEROID, "MedicationRequest/pred"),
        draft(DrugClass.THIOPURINE, "MedicationRequest/aza"),
    )
    facts = example_1(draft_orders=drafts)
    assert [d.resource_id for d in relevant_drafts(facts)] == ["MedicationRequest/aza"]
    (candidate,) = advise(facts, SEED, hook=Hook.ORDER_SIGN)
    assert [d.resource_id for d in candidate.draft_orders] == ["MedicationRequest/aza"]
