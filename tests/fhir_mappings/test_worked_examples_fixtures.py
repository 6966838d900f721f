"""The shared worked-example fixtures (tests/fixtures) are valid R4 and well-formed."""

from __future__ import annotations

from datetime import date

import pytest

from tests.fhir_mappings.r4b import validate_r4b
from tests.fixtures.worked_examples import NUMBERS, all_worked_examples, worked_example

TODAY = date(2026, 11, 22)


@pytest.mark.parametrize("number", NUMBERS)
def test_s9_worked_example_resources_validate_with_r4b(number: int) -> None:
    example = worked_example(number, today=TODAY)
    for resource in [*example.resources, *example.draft_orders]:
        validate_r4b(resource)
    validate_r4b(example.bundle())
    validate_r4b(example.draft_orders_bundle())


@pytest.mark.parametrize("number", NUMBERS)
def test_s9_worked_example_records_belong_to_one_patient(number: int) -> None:
    example = worked_example(number, today=TODAY)
    subjects = {
        (r.get("subject") or r.get("patient") or {}).get("reference")
        for r in [*example.resources, *example.draft_orders]
        if r["resourceType"] != "Patient"
    }
    assert subjects == {example.patient_reference}
    ids = [f"{r['resourceType']}/{r['id']}" for r in example.resources]
    assert len(ids) == len(set(ids))
    assert set(example.refs.values()) <= set(ids)


def test_s9_order_select_examples_select_their_draft_orders() -> None:
    for example in all_worked_examples(today=TODAY):
        drafts = [f"MedicationRequest/{d['id']}" for d in example.draft_orders]
        assert example.selections == drafts
        assert (example.hook == "order-select") == (example.number in (15, 16))
        assert all(d["status"] == "draft" for d in example.draft_orders)


def test_s9_unknown_example_number_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"1\.\.17"):
        worked_example(18, today=TODAY)


@pytest.mark.parametrize("today", [date(2024, 2, 29), date(2030, 1, 1)])
def test_s9_worked_examples_build_on_any_evaluation_date(today: date) -> None:
    assert [e.number for e in all_worked_examples(today=today)] == list(NUMBERS)
