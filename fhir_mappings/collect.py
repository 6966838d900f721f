"""The accumulator `build_facts` fills, entry by entry, and freezes into `PatientFacts`.

Freezing is where records meet: medication records join into exposures, facts are ordered
newest first, and mappings become read-only views so the rules cannot alter what they read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import Any

from fhir_mappings.config import MappingConfig
from fhir_mappings.dates import PartialDate
from fhir_mappings.exposure import combination, exposure_of
from fhir_mappings.facts import (
    ActivityScore,
    Analyte,
    ConditionState,
    DiagnosisClass,
    DraftOrder,
    DrugClass,
    Exposure,
    Fact,
    Infusion,
    PatientFacts,
    Unusable,
)
from fhir_mappings.medications import MedicationRecord
from fhir_mappings.observations import (
    ANTIBODIES,
    HLA_DQA1,
    THIOPURINE_METABOLISM,
    ObservationFact,
)
from fhir_mappings.topics import Topic, topic_of

_OLDEST = datetime.min.replace(tzinfo=UTC)


def _unknown_stops(found: Iterable[Exposure]) -> Iterator[Unusable]:
    """A drug that ended on an unknown date: its last recorded use is not a stop date."""
    for exposure in found:
        if exposure.intervals and not exposure.active and exposure.stopped_on is None:
            last = exposure.intervals[-1]
            yield Unusable(
                last.references[-1] if last.references else None,
                f"ended on an unknown date (last recorded use {last.end})",
                topic_of(exposure.drug),
            )


# A day of slack: a result collected "tomorrow" in a time zone ahead of the evaluation date's.
_FUTURE_SLACK = timedelta(days=1)


def _newest_first(facts: Iterable[Fact[Any]]) -> tuple[Fact[Any], ...]:
    return tuple(
        sorted(facts, key=lambda f: (f.effective or _OLDEST, f.issued or _OLDEST), reverse=True)
    )


def _infusion_order(infusion: Infusion) -> tuple[datetime, str]:
    return infusion.given, infusion.reference


@dataclass
class Collected:
    """What the readers found, before it is frozen into PatientFacts."""

    unusable: list[Unusable] = field(default_factory=list)
    foreign: list[Unusable] = field(default_factory=list)
    observations: dict[Topic, list[Fact[Any]]] = field(default_factory=dict)
    medications: list[MedicationRecord] = field(default_factory=list)
    diagnoses: list[Fact[DiagnosisClass]] = field(default_factory=list)
    states: list[Fact[ConditionState]] = field(default_factory=list)
    drafts: list[DraftOrder] = field(default_factory=list)
    infusions: list[Infusion] = field(default_factory=list)
    birth_date: Fact[PartialDate] | None = None
    sex: Fact[str] | None = None

    def add(self, found: ObservationFact | MedicationRecord | Unusable | None) -> None:
        if isinstance(found, Unusable):
            self.unusable.append(found)
        elif isinstance(found, ObservationFact):
            self.observations.setdefault(found.topic, []).append(found.fact)
        elif isinstance(found, MedicationRecord):
            self.medications.append(found)

    def _exposures(self, evaluated_on: date, config: MappingConfig) -> dict[DrugClass, Exposure]:
        by_drug: dict[DrugClass, list[MedicationRecord]] = {}
        for record in self.medications:
            by_drug.setdefault(record.drug.drug, []).append(record)
        found: dict[DrugClass, Exposure] = {}
        for drug, records in by_drug.items():
            try:
                found[drug] = exposure_of(
                    drug,
                    records,
                    evaluated_on=evaluated_on,
                    renewal_gap_days=config.renewal_gap_days,
                    administration_window_days=config.administration_window_days,
                )
            except Exception as exc:  # as in _guarded: one drug's records, never the request
                reason = f"{drug.value} records could not be combined ({type(exc).__name__})"
                self.unusable.append(Unusable(records[0].reference, reason, topic_of(drug)))
        return found

    def _not_after(
        self, facts: Iterable[Fact[Any]], evaluated_on: date, topic: Topic
    ) -> list[Fact[Any]]:
        """Results collected after the evaluation date are data errors (or a clock or time-zone
        slip); read as the latest, one would override the real latest result."""
        kept = []
        for fact in facts:
            collected = fact.effective.date() if fact.effective else None
            if collected is not None and collected > evaluated_on + _FUTURE_SLACK:
                reason = f"collected on {collected}, after {evaluated_on}: a future date"
                self.unusable.append(Unusable(fact.reference, reason, topic, fact.effective))
            else:
                kept.append(fact)
        return kept

    def facts(self, evaluated_on: date, owner: str | None, config: MappingConfig) -> PatientFacts:
        found = {
            topic: _newest_first(self._not_after(facts, evaluated_on, topic))
            for topic, facts in self.observations.items()
        }
        drug_exposures = self._exposures(evaluated_on, config)
        self.unusable.extend(_unknown_stops(drug_exposures.values()))
        return PatientFacts(
            evaluated_on=evaluated_on,
            patient_reference=owner,
            birth_date=self.birth_date,
            sex=self.sex,
            diagnoses=_newest_first(self.diagnoses),
            labs=MappingProxyType({a: found[topic_of(a)] for a in Analyte if topic_of(a) in found}),
            antibodies=found.get(ANTIBODIES, ()),
            exposures=MappingProxyType(drug_exposures),
            combination=combination(drug_exposures, evaluated_on),
            condition_states=_newest_first(self.states),
            activity_scores=MappingProxyType(
                {s: found[topic_of(s)] for s in ActivityScore if topic_of(s) in found}
            ),
            hla_dqa1_05_carrier=found.get(HLA_DQA1, ()),
            thiopurine_metabolism=found.get(THIOPURINE_METABOLISM, ()),
            draft_orders=tuple(self.drafts),
            infusions=tuple(sorted(self.infusions, key=_infusion_order, reverse=True)),
            unusable=tuple(self.unusable),
            foreign=tuple(self.foreign),
        )
