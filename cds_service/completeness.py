"""Which data the rules may not treat as complete, from how the prefetch went.

Prefetch names its data topics for clinicians (`DataTopic`); the rules name them in the
`Unusable.topic` vocabulary (`rules/topics.py`). A criterion resting on an incomplete topic is
never met (decision-spec §3: unknown is never treated as met).

- A key that failed (error, timeout, unreadable) leaves every topic it informs incomplete.
- A key that was cut short (page limit, deadline while paging) and is sorted newest first
  still holds the latest results, so only the topics judged on the whole history are
  incomplete: antibodies ("any positive result ever"), HLA-DQA1*05 and TPMT/NUDT15 on record.
  An unsorted key that was cut short may miss anything.
- A window by design (the latest laboratory results, read for antibodies under local codes)
  that had more results than it reads is cut short in the same sense.
"""

from __future__ import annotations

from collections.abc import Mapping

from cds_service.prefetch import PREFETCH_TEMPLATES, DataTopic, PrefetchResult, PrefetchTemplate
from fhir_mappings.facts import ActivityScore, Analyte, DrugClass

_ANTIBODIES = "antibodies"
_HLA = "hla-dqa1-05"
_THIOPURINE_METABOLISM = "thiopurine-metabolism"

RULE_TOPICS: Mapping[DataTopic, tuple[str, ...]] = {
    DataTopic.DEMOGRAPHICS: ("patient",),
    DataTopic.DIAGNOSIS: ("diagnosis",),
    DataTopic.REMISSION: ("remission",),
    DataTopic.MEDICATIONS: (
        DrugClass.INFLIXIMAB.value,
        DrugClass.THIOPURINE.value,
        DrugClass.METHOTREXATE.value,
        DrugClass.OTHER_ANTI_TNF.value,
    ),
    DataTopic.INFLIXIMAB_INFUSIONS: (DrugClass.INFLIXIMAB.value,),
    DataTopic.CORTICOSTEROIDS: (DrugClass.CORTICOSTEROID.value,),
    DataTopic.INFLIXIMAB_LEVEL: (Analyte.INFLIXIMAB_LEVEL.value,),
    DataTopic.ANTIBODIES: (_ANTIBODIES,),
    DataTopic.CRP: (Analyte.CRP.value,),
    DataTopic.PLATELETS: (Analyte.PLATELETS.value,),
    DataTopic.CALPROTECTIN: (Analyte.CALPROTECTIN.value,),
    DataTopic.HLA_DQA1: (_HLA,),
    DataTopic.TPMT_NUDT15: (_THIOPURINE_METABOLISM,),
    DataTopic.ACTIVITY_SCORES: tuple(score.value for score in ActivityScore),
}
WHOLE_HISTORY = frozenset({_ANTIBODIES, _HLA, _THIOPURINE_METABOLISM})


def incomplete_topics(
    data: PrefetchResult, templates: Mapping[str, PrefetchTemplate] = PREFETCH_TEMPLATES
) -> frozenset[str]:
    """The rule topics some of whose data could not be obtained for this request."""
    topics: set[str] = set()
    for key, outcome in data.per_key.items():
        template = templates.get(key)
        if outcome.problem is None and not outcome.more_available:
            continue
        history_only = outcome.obtained and template is not None and template.newest_first
        for topic in outcome.informs:
            names = RULE_TOPICS[topic]
            topics.update(name for name in names if not history_only or name in WHOLE_HISTORY)
    return frozenset(topics)
