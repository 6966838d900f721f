"""Which data each criterion rests on, named in the vocabulary of `Unusable.topic` (an Analyte
or ActivityScore value, a DrugClass value, "antibodies", "hla-dqa1-05", "remission").

Two things follow from it: records on file that could not be read are named in the criterion
they would have informed, and a criterion whose data could not all be obtained (a failed or
truncated fetch) is never met, since the missing part may hold the result that fails it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

from cds_service.rules.assessment import Criterion, CriterionResult, Status
from cds_service.rules.window import unusable_for, unusable_text
from fhir_mappings.facts import ActivityScore, Analyte, DrugClass, PatientFacts

_LEVEL = (Analyte.INFLIXIMAB_LEVEL.value,)
_ANTIBODIES = ("antibodies",)

TOPICS: dict[Criterion, tuple[str, ...]] = {
    Criterion.TROUGH: _LEVEL,
    Criterion.ANTIBODIES: _ANTIBODIES,
    Criterion.DURATION: (DrugClass.INFLIXIMAB.value, DrugClass.THIOPURINE.value),
    Criterion.CRP: (Analyte.CRP.value,),
    Criterion.PLATELETS: (Analyte.PLATELETS.value,),
    Criterion.REMISSION: (
        "remission",
        DrugClass.CORTICOSTEROID.value,
        *(score.value for score in ActivityScore),
    ),
    Criterion.HLA_DQA1_05: ("hla-dqa1-05",),
    Criterion.ANTIBODIES_AFTER_STOP: _ANTIBODIES,
    Criterion.TROUGH_AFTER_STOP: _LEVEL,
    Criterion.TROUGH_DROP: _LEVEL,
}


NEVER_UNKNOWN = frozenset({Criterion.HLA_DQA1_05})


def with_unusable(facts: PatientFacts, result: CriterionResult) -> CriterionResult:
    """Name, in the criterion itself, the records on file that could have informed it."""
    unusable = unusable_for(facts, TOPICS[result.id])
    return replace(result, unusable=unusable, note=result.note + unusable_text(unusable))


def unless_incomplete(result: CriterionResult, incomplete: Collection[str]) -> CriterionResult:
    """A met criterion becomes unknown when some of its data could not be obtained.

    Not-met stays not-met: more data cannot undo a failing result already seen, and the
    conservative outcome (keep the combination) does not depend on what is missing. HLA-DQA1*05
    is never unknown (decision-spec §3: testing is not required), so it only says so.
    """
    missing = [topic for topic in TOPICS[result.id] if topic in incomplete]
    if result.status is not Status.MET or not missing:
        return result
    said = f" Not all {', '.join(missing)} data could be obtained from the EHR"
    if result.id in NEVER_UNKNOWN:
        return replace(result, note=result.note + said + " (testing is not required).")
    return replace(result, status=Status.UNKNOWN, note=result.note + said + ".")
