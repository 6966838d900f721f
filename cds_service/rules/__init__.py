"""Clinical rules: PatientFacts + Policy -> Assessments (pure; no I/O, no web framework).

The public API is re-exported here; modules hold one idea each.
"""

from cds_service.rules.assessment import (
    Assessment,
    Criterion,
    CriterionResult,
    Hook,
    Need,
    Note,
    NoteCode,
    Pathway,
    Recommendation,
    Status,
)
from cds_service.rules.engine import advise, assess, shown_on
from cds_service.rules.policy import Evidence, Policy, Threshold, load_policy

__all__ = [
    "Assessment",
    "Criterion",
    "CriterionResult",
    "Evidence",
    "Hook",
    "Need",
    "Note",
    "NoteCode",
    "Pathway",
    "Policy",
    "Recommendation",
    "Status",
    "Threshold",
    "advise",
    "assess",
    "load_policy",
    "shown_on",
]
