"""The one vocabulary of data topics, shared by the mappings, prefetch, completeness and rules.

A topic names what a record informs: the rules look up the records of a criterion by topic,
the prefetch says which topics a failed key leaves incomplete, and an unreadable record keeps
its topic so it can still make its criterion unknown (decision-spec §10). One enum, so that a
typo is an error rather than a silent disconnection between two string vocabularies.

The members whose names are also `Analyte`, `DrugClass`, `ActivityScore` or code-list topics
carry the same values; `tests/fhir_mappings/test_topics.py` pins that.
"""

from __future__ import annotations

from enum import StrEnum


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


ACTIVITY_SCORES = (Topic.HARVEY_BRADSHAW, Topic.CDAI, Topic.PARTIAL_MAYO)
