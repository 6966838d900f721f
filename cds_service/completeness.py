"""Which data the rules may not treat as complete, from how the prefetch went.

The prefetch templates name what each key informs in the rules' own vocabulary (`Topic`), so
the topics returned here are the ones the criteria rest on (`rules/topics.py`), with no
translation between them. A criterion resting on an incomplete topic is never met
(decision-spec §3: unknown is never treated as met).

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

from cds_service.prefetch import PREFETCH_TEMPLATES, PrefetchResult, PrefetchTemplate
from fhir_mappings.topics import Topic

WHOLE_HISTORY = frozenset({Topic.ANTIBODIES, Topic.HLA_DQA1_05, Topic.THIOPURINE_METABOLISM})


def incomplete_topics(
    data: PrefetchResult, templates: Mapping[str, PrefetchTemplate] = PREFETCH_TEMPLATES
) -> frozenset[Topic]:
    """The topics some of whose data could not be obtained for this request."""
    topics: set[Topic] = set()
    for key, outcome in data.per_key.items():
        template = templates.get(key)
        if outcome.problem is None and not outcome.more_available:
            continue
        history_only = outcome.obtained and template is not None and template.newest_first
        topics.update(t for t in outcome.informs if not history_only or t in WHOLE_HISTORY)
    return frozenset(topics)
