"""The one vocabulary of data topics, shared by the mappings, prefetch, completeness and rules.

A topic names what a record informs: the rules look up the records of a criterion by topic,
the prefetch says which topics a failed key leaves incomplete, and an unreadable record keeps
its topic so it can still make its criterion unknown (decision-spec §10). One enum, so that a
typo is an error rather than a silent disconnection between two string vocabularies.

The members whose names are also `Analyte`, `DrugClass`, `ActivityScore` or code-list topics
carry the same values; `tests/fhir_mappings/test_topics.py` pins that. `TOPIC_LABELS` is the one
place a topic gets words a clinician reads (a card's "Not all CRP data could be obtained").
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType


class Topic(StrEnum):
    # laboratory results (Analyte values)
    INFLIXIMAB_LEVEL = "infliximab-level"
    CRP = "crp"
    PLATELETS = "platelets"
    CALPROTECTIN = "calprotectin"
    # results judged as a whole history
    ANTIBODIES = "antibodies"
    HLA_DQA1_05 = "hla-dqa1-05"
    THIOPURINE_METABOLISM = "thiopurine-metabolism"
    # disease-activity scores (ActivityScore values)
    HARVEY_BRADSHAW = "harvey-bradshaw"
    CDAI = "cdai"
    PARTIAL_MAYO = "partial-mayo"
    # medications (DrugClass values)
    INFLIXIMAB = "infliximab"
    THIOPURINE = "thiopurine"
    METHOTREXATE = "methotrexate"
    CORTICOSTEROID = "corticosteroid"
    OTHER_ANTI_TNF = "other-anti-tnf"
    # the rest of the record
    REMISSION = "remission"
    DIAGNOSIS = "diagnosis"
    PATIENT = "patient"
    DRAFT_ORDER = "draft-order"


_BY_VALUE: Mapping[str, Topic] = {topic.value: topic for topic in Topic}


def topic_of(value: str) -> Topic:
    """`Topic(value)` by one dict lookup: the enum's own lookup costs several times more, and
    each record read makes one (issue 14). An unknown value raises as `Topic(value)` does."""
    topic = _BY_VALUE.get(value)
    return topic if topic is not None else Topic(value)


ACTIVITY_SCORES = (Topic.HARVEY_BRADSHAW, Topic.CDAI, Topic.PARTIAL_MAYO)
MEDICATIONS = (
    Topic.INFLIXIMAB,
    Topic.THIOPURINE,
    Topic.METHOTREXATE,
    Topic.CORTICOSTEROID,
    Topic.OTHER_ANTI_TNF,
)
"""The medication history: every drug class a medication record may inform."""

TOPIC_LABELS: Mapping[Topic, str] = MappingProxyType(
    {
        Topic.INFLIXIMAB_LEVEL: "infliximab level",
        Topic.CRP: "CRP",
        Topic.PLATELETS: "platelet count",
        Topic.CALPROTECTIN: "faecal calprotectin",
        Topic.ANTIBODIES: "anti-infliximab antibody",
        Topic.HLA_DQA1_05: "HLA-DQA1*05",
        Topic.THIOPURINE_METABOLISM: "TPMT/NUDT15",
        Topic.HARVEY_BRADSHAW: "Harvey-Bradshaw index",
        Topic.CDAI: "CDAI",
        Topic.PARTIAL_MAYO: "partial Mayo score",
        Topic.INFLIXIMAB: "infliximab",
        Topic.THIOPURINE: "thiopurine",
        Topic.METHOTREXATE: "methotrexate",
        Topic.CORTICOSTEROID: "corticosteroid",
        Topic.OTHER_ANTI_TNF: "other anti-TNF",
        Topic.REMISSION: "remission",
        Topic.DIAGNOSIS: "diagnosis",
        Topic.PATIENT: "age and sex",
        Topic.DRAFT_ORDER: "draft order",
    }
)
"""Each topic in words, written to read in "Not all <label> data could be obtained"."""
