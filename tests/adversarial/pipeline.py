"""The rules pipeline as `cds_service.services._Pipeline.handle` calls it, without HTTP."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from cds_service.cards import render_cards
from cds_service.rules import Assessment, Policy, advise, load_policy
from cds_service.settings import Settings
from fhir_mappings import MappingConfig, PatientFacts, build_facts
from tests.adversarial.flaws import PATIENT_ID

Resource = dict[str, Any]


@cache
def policy() -> Policy:
    return load_policy()


@cache
def mapping() -> MappingConfig:
    return Settings(dev=True).mapping_config()


def facts_of(resources: Sequence[Resource], today: date) -> PatientFacts:
    return build_facts(list(resources), evaluated_on=today, config=mapping(), patient_id=PATIENT_ID)


@dataclass(frozen=True)
class Outcome:
    assessments: tuple[Assessment, ...]
    cards: list[Any]

    @property
    def withdrawal(self) -> Assessment | None:
        """The pathway A assessment, if any."""
        return next((a for a in self.assessments if a.pathway.value == "A"), None)

    @property
    def recommendation(self) -> str | None:
        found = self.withdrawal
        return None if found is None else found.recommendation.value

    def statuses(self) -> dict[str, str]:
        found = self.withdrawal
        if found is None:
            return {}
        return {c.id.value: c.status.value for c in found.criteria}


def run_rules(resources: Sequence[Resource], today: date) -> Outcome:
    assessments = advise(facts_of(resources, today), policy(), hook="patient-view")
    cards = render_cards(assessments, patient_id=PATIENT_ID)
    return Outcome(assessments, cards)
