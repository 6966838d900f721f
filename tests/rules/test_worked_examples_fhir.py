"""The §9 worked examples end to end through the FHIR mapping: build_facts -> advise.

The shared FHIR fixtures carry what real EHRs send (ug/mL, 10*3/uL, mg/dL, local antibody
codes, biosimilar codes), so this checks the rules against the mapping's actual output.
"""

from __future__ import annotations

from datetime import date

import pytest

from cds_service.rules import Criterion, NoteCode, advise, load_policy
from fhir_mappings.build import build_facts
from tests.fixtures.worked_examples import NUMBERS, worked_example

TODAY = date(2026, 11, 22)


@pytest.mark.parametrize("number", NUMBERS)
def test_s9_worked_example_through_mapping(number: int) -> None:
    example = worked_example(number, today=TODAY)
    facts = build_facts(
        example.resources,
        evaluated_on=TODAY,
        draft_orders=example.draft_orders,
        selections=example.selections,
    )
    assessments = advise(facts, load_policy("seed-2026"), hook=example.hook)
    assert [a.recommendation.value for a in assessments] == (
        [example.expected] if example.expected else []
    )
    for assessment in assessments:
        named = {c.value for c in assessment.failing} | {
            c.id.value for c in assessment.criteria if c.status.value == "unknown"
        }
        assert set(example.expected_criteria) <= named
        codes = {n.code.value for n in assessment.modifiers + assessment.notes}
        assert set(example.modifiers) <= codes
        if NoteCode.HLA_ONLY_LOW_CERTAINTY.value in example.modifiers:
            assert assessment.failing == (Criterion.HLA_DQA1_05,)
