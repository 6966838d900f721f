"""The one topic vocabulary: its values agree with the enums that share them, and every topic
has words for a card."""

from __future__ import annotations

from enum import StrEnum

import pytest

from fhir_mappings.facts import ActivityScore, Analyte, DrugClass
from fhir_mappings.topics import ACTIVITY_SCORES, MEDICATIONS, TOPIC_LABELS, Topic


@pytest.mark.parametrize("kind", [Analyte, DrugClass, ActivityScore])
def test_shared_members_carry_the_topic_values(kind: type[StrEnum]) -> None:
    for member in kind:
        assert Topic[member.name] == member.value


def test_groups_are_the_drug_classes_and_the_scores() -> None:
    assert set(MEDICATIONS) == {Topic(drug) for drug in DrugClass}
    assert set(ACTIVITY_SCORES) == {Topic(score) for score in ActivityScore}


def test_every_topic_has_one_distinct_readable_label() -> None:
    assert set(TOPIC_LABELS) == set(Topic)
    labels = list(TOPIC_LABELS.values())
    assert len(set(labels)) == len(labels)
    assert all(label.strip() == label and label for label in labels)
    assert TOPIC_LABELS[Topic.CRP] == "CRP"
