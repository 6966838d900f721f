"""Issue 9: the mappings, prefetch, completeness and rules share one `Topic` vocabulary, so a
typo is an error rather than a criterion that silently never hears its data went missing."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from cds_service.completeness import WHOLE_HISTORY
from cds_service.prefetch import PREFETCH_TEMPLATES, PrefetchTemplate, with_site_lab_codes
from cds_service.prefetch.references import REFERENCED_MEDICATIONS
from cds_service.rules.assessment import Criterion
from cds_service.rules.topics import TOPICS
from fhir_mappings.topics import Topic

SITE_CODED = with_site_lab_codes(["http://lab.example.org/codes|IFXAB"])
TEMPLATE_SETS = pytest.mark.parametrize(
    "templates", [PREFETCH_TEMPLATES, SITE_CODED], ids=["default", "site-lab-codes"]
)


def test_every_criterion_rests_on_topic_members() -> None:
    assert set(TOPICS) == set(Criterion)
    for criterion, topics in TOPICS.items():
        assert topics, criterion
        assert all(type(topic) is Topic for topic in topics), criterion


@TEMPLATE_SETS
def test_every_template_informs_topic_members(templates: Mapping[str, PrefetchTemplate]) -> None:
    for template in (*templates.values(), REFERENCED_MEDICATIONS):
        assert all(type(topic) is Topic for topic in template.informs), template.key
    assert all(type(topic) is Topic for topic in WHOLE_HISTORY)


@TEMPLATE_SETS
def test_every_topic_a_criterion_rests_on_is_informed_by_an_advertised_key(
    templates: Mapping[str, PrefetchTemplate],
) -> None:
    informed = {topic for template in templates.values() for topic in template.informs}
    for criterion, topics in TOPICS.items():
        assert set(topics) <= informed, (criterion, set(topics) - informed)
