"""fhir_mappings: FHIR R4 JSON -> typed, immutable decision inputs with provenance.

    from fhir_mappings import build_facts, MappingConfig
    facts = build_facts(resources, evaluated_on=date.today(), draft_orders=..., selections=...)

No web code and no imports from cds_service: the rules read `PatientFacts`, never FHIR.
"""

from fhir_mappings.build import build_facts, warm_up
from fhir_mappings.config import MappingConfig
from fhir_mappings.facts import (
    NORMALISED_UNITS,
    ActivityScore,
    Analyte,
    AntibodyStatus,
    Comparator,
    ConditionState,
    DiagnosisClass,
    DraftOrder,
    DrugClass,
    Exposure,
    Fact,
    Interval,
    MatchedBy,
    PatientFacts,
    Unusable,
)

__all__ = [
    "NORMALISED_UNITS",
    "ActivityScore",
    "Analyte",
    "AntibodyStatus",
    "Comparator",
    "ConditionState",
    "DiagnosisClass",
    "DraftOrder",
    "DrugClass",
    "Exposure",
    "Fact",
    "Interval",
    "MappingConfig",
    "MatchedBy",
    "PatientFacts",
    "Unusable",
    "build_facts",
    "warm_up",
]
