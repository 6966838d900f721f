"""fhir_mappings: FHIR R4 JSON -> typed, immutable decision inputs with provenance.

    from fhir_mappings import build_facts, MappingConfig
    facts = build_facts(resources, evaluated_on=date.today(), draft_orders=..., selections=...)

No web code and no imports from cds_service: the rules read `PatientFacts`, never FHIR.

`Unusable.topic` names what an unreadable record would have informed: an `Analyte` or
`ActivityScore` value, "antibodies", "hla-dqa1-05", "thiopurine-metabolism", a `DrugClass` value
(including "ended on an unknown date"), "remission" (an undated remission), "patient" (birth
date), "draft-order", or None (an OperationOutcome, a foreign patient's record, an unidentifiable
medication). Call `warm_up()` at startup: the UCUM registry takes about a second to load.
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
    Infusion,
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
    "Infusion",
    "Interval",
    "MappingConfig",
    "MatchedBy",
    "PatientFacts",
    "Unusable",
    "build_facts",
    "warm_up",
]
