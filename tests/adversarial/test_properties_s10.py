"""Decision-spec §10 (doubtful data) as properties of the rules pipeline (issue 9).

Worked example 1 meets every criterion. Benign variations keep it so (trough 10.5-30 mg/L, CRP
0-5 mg/L, platelets 150-298 x10^9/L, antibody result 1-90 days old); the flaws of
`tests/adversarial/flaws.py` are then applied, one or several at a time:

- a flawed record can make a criterion unknown or not-met, never met: the outcome is never
  `withdrawal-candidate` unless every applied flaw is one the spec says to ignore (and then it
  stays `withdrawal-candidate`);
- no outcome depends on the order of the records;
- a flawed record that is not ignored is named in the assessment and on the card.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from cds_service.rules import Assessment
from tests.adversarial.flaws import (
    FLAWS,
    FOREIGN,
    NAMES,
    NOT_IGNORED,
    Flawed,
    apply_flaw,
    example_resources,
    instant,
)
from tests.adversarial.flaws import (
    find as find_resource,
)
from tests.adversarial.pipeline import Outcome, run_rules
from tests.conftest import TODAY

Resource = dict[str, Any]

WITHDRAWAL = "withdrawal-candidate"
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
BASE = example_resources(TODAY)

# What the spec says each flaw does to its criterion (the sets allow either where the spec
# does: a possibly-newest partial-date result may be read as unknown or not-met).
EXPECTED_STATUS: dict[str, tuple[str, frozenset[str]]] = {
    "crp_unconvertible_unit": ("crp", frozenset({"unknown"})),
    "trough_missing_value": ("trough", frozenset({"unknown"})),
    "trough_data_absent": ("trough", frozenset({"unknown"})),
    "antibody_free_text_positive": ("antibodies", frozenset({"not-met"})),
    "antibody_inconclusive": ("antibodies", frozenset({"unknown"})),
    "antibody_quantitative_unjudged": ("antibodies", frozenset({"unknown"})),
    "antibody_preliminary": ("antibodies", frozenset({"unknown"})),
    "antibody_future": ("antibodies", frozenset({"unknown"})),
    "crp_partial_date": ("crp", frozenset({"unknown", "not-met"})),
    "condition_remission_and_relapse": ("remission", frozenset({"not-met"})),
    "crp_simultaneous_conflict": ("crp", frozenset({"unknown"})),
    "aza_restart_after_stop": ("duration", frozenset({"not-met"})),
    "trough_after_infusion": ("trough", frozenset({"unknown"})),
    "crp_negative": ("crp", frozenset({"unknown"})),
    "platelets_negative": ("platelets", frozenset({"unknown"})),
    "trough_astronomical": ("trough", frozenset({"unknown"})),
    "trough_value_string": ("trough", frozenset({"unknown"})),
    "steroid_start_only": ("remission", frozenset({"not-met"})),
    "steroid_month_end": ("remission", frozenset({"not-met"})),
    "hla_detected_text": ("hla-dqa1-05", frozenset({"not-met"})),
    "hla_unreadable": ("hla-dqa1-05", frozenset({"unknown"})),
}


# --- generation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Variation:
    """A benign variation of example 1 that keeps every criterion met (drawn as numbers, so a
    falsifying example prints in one line)."""

    trough: float  # mg/L (sent in ug/mL, the fixture's unit)
    crp: float  # mg/L
    platelets: int  # 10*3/uL
    antibody_days: int  # days since the negative antibody result

    def records(self) -> list[Resource]:
        resources = copy.deepcopy(BASE)
        find_resource(resources, "Observation/ex01-trough")["valueQuantity"]["value"] = self.trough
        find_resource(resources, "Observation/ex01-crp")["valueQuantity"]["value"] = self.crp
        platelets = find_resource(resources, "Observation/ex01-platelets")
        platelets["valueQuantity"]["value"] = self.platelets
        antibody = find_resource(resources, "Observation/ex01-antibodies")
        antibody["effectiveDateTime"] = instant(TODAY, self.antibody_days, "07:45")
        antibody["issued"] = instant(TODAY, self.antibody_days, "16:10")
        return resources


variations = st.builds(
    Variation,
    trough=st.floats(10.5, 30.0, allow_nan=False).map(lambda v: round(v, 1)),
    crp=st.floats(0.0, 5.0, allow_nan=False).map(lambda v: round(v, 1)),
    platelets=st.integers(150, 298),
    antibody_days=st.integers(1, 90),
)


def _compatible(names: Sequence[str]) -> bool:
    # Removing the Patient resource would undo the year-only birth date.
    return not {"birth_year_only_possibly_17", "foreign_subject_without_patient"} <= set(names)


flaw_lists = st.lists(st.sampled_from(NAMES), min_size=1, max_size=4, unique=True).filter(
    _compatible
)
# One flaw per criterion, so that no flaw can legitimately hide another (e.g. an unreadable
# newer trough hiding a peak level drawn earlier).
named_flaw_lists = st.lists(
    st.sampled_from(NOT_IGNORED),
    min_size=1,
    max_size=4,
    unique_by=lambda name: FLAWS[name].criterion,
)


def apply_all(
    resources: list[Resource], names: Sequence[str]
) -> tuple[list[Resource], list[Flawed]]:
    applied: list[Flawed] = []
    for name in names:
        flawed = apply_flaw(name, resources, TODAY)
        resources = flawed.resources
        applied.append(flawed)
    return resources, applied


# --- reading the outcome ------------------------------------------------------------------


def cited_in_assessment(assessment: Assessment) -> set[str]:
    cited = {u.reference for u in assessment.unusable if u.reference}
    for criterion in assessment.criteria:
        cited |= set(criterion.references)
        cited |= {u.reference for u in criterion.unusable if u.reference}
        if criterion.fact is not None:
            cited.add(criterion.fact.reference)
    return cited


def used_as_evidence(assessment: Assessment) -> set[str]:
    """The records the criteria rest on (not the ones named as unusable)."""
    used: set[str] = set()
    for criterion in assessment.criteria:
        used |= set(criterion.references)
        if criterion.fact is not None:
            used.add(criterion.fact.reference)
    return used


def card_text(outcome: Outcome) -> str:
    return "\n".join(
        json.dumps(card.model_dump(mode="json", exclude_none=True)) for card in outcome.cards
    )


def describe(outcome: Outcome) -> str:
    return f"{outcome.recommendation}: {outcome.statuses()}"


# --- properties ---------------------------------------------------------------------------


@SETTINGS
@given(variation=variations)
def test_s10_guard_generator_reaches_withdrawal_without_flaw(variation: Variation) -> None:
    """Not vacuous: every benign variation of example 1 is a withdrawal candidate."""
    outcome = run_rules(variation.records(), TODAY)
    assert outcome.recommendation == WITHDRAWAL, describe(outcome)


def test_s10_guard_flaw_strategy_draws_both_kinds() -> None:
    ignorable = find(flaw_lists, lambda names: all(FLAWS[n].ignored for n in names))
    assert all(FLAWS[n].ignored for n in ignorable)
    flawed = find(flaw_lists, lambda names: not any(FLAWS[n].ignored for n in names))
    assert flawed


@SETTINGS
@given(variation=variations, names=flaw_lists)
def test_s10_flawed_record_never_withdraw_unless_ignored(
    variation: Variation, names: list[str]
) -> None:
    """ "It can make a criterion unknown or not-met; it can never make one met" (all bullets),
    and records the spec ignores change nothing."""
    flawed, applied = apply_all(variation.records(), names)
    outcome = run_rules(flawed, TODAY)
    if all(flaw.ignored for flaw in applied):
        assert outcome.recommendation == WITHDRAWAL, (names, describe(outcome))
    else:
        assert outcome.recommendation != WITHDRAWAL, (names, describe(outcome))


@SETTINGS
@given(variation=variations, names=flaw_lists, data=st.data())
def test_s10_contradictions_outcome_independent_of_record_order(
    variation: Variation, names: list[str], data: st.DataObject
) -> None:
    """ "No outcome may depend on the order of records" (contradictions bullet)."""
    flawed, _ = apply_all(variation.records(), names)
    reference = run_rules(flawed, TODAY)
    order = data.draw(st.permutations(range(len(flawed))), label="order")
    permuted = [flawed[index] for index in order]
    outcome = run_rules(permuted, TODAY)
    assert outcome.recommendation == reference.recommendation, (names, describe(outcome))
    assert outcome.statuses() == reference.statuses(), names


@SETTINGS
@given(variation=variations, names=named_flaw_lists)
def test_s10_unusable_record_named_in_assessment_and_on_card(
    variation: Variation, names: list[str]
) -> None:
    """ "The card names the unusable record" (unreadable newer results bullet, and every flaw
    that is not ignored): in the assessment and in the rendered card."""
    flawed, applied = apply_all(variation.records(), names)
    outcome = run_rules(flawed, TODAY)
    assessment = outcome.withdrawal
    if assessment is None:  # out of scope (e.g. possibly 17): no card, nothing to name
        assert outcome.cards == [] or outcome.recommendation is None
        return
    cited = cited_in_assessment(assessment)
    text = card_text(outcome)
    for name, flaw in zip(names, applied, strict=True):
        assert flaw.reference in cited, (name, flaw.reference, sorted(cited))
        assert flaw.reference in text, (name, flaw.reference)


@SETTINGS
@given(variation=variations, names=flaw_lists)
def test_s10_whose_record_foreign_resource_never_counts(
    variation: Variation, names: list[str]
) -> None:
    """ "A resource of another patient is dropped ... it never counts" (whose record bullet)."""
    flawed, applied = apply_all(variation.records(), names)
    outcome = run_rules(flawed, TODAY)
    assessment = outcome.withdrawal
    if assessment is None:
        return
    used = used_as_evidence(assessment)
    for name, flaw in zip(names, applied, strict=True):
        if name in FOREIGN:
            assert flaw.reference not in used, (name, sorted(used))


# --- each flaw alone, with the status the spec gives its criterion ------------------------


@pytest.mark.parametrize(
    "name", NAMES, ids=[f"{FLAWS[n].bullet.replace(' ', '_')}-{n}" for n in NAMES]
)
def test_s10_single_flaw_never_withdraw_unless_ignored(name: str) -> None:
    flawed = apply_flaw(name, BASE, TODAY)
    outcome = run_rules(flawed.resources, TODAY)
    if flawed.ignored:
        assert outcome.recommendation == WITHDRAWAL, describe(outcome)
    else:
        assert outcome.recommendation != WITHDRAWAL, describe(outcome)


@pytest.mark.parametrize("name", sorted(EXPECTED_STATUS))
def test_s10_single_flaw_gives_spec_status(name: str) -> None:
    criterion, allowed = EXPECTED_STATUS[name]
    outcome = run_rules(apply_flaw(name, BASE, TODAY).resources, TODAY)
    statuses = outcome.statuses()
    assert statuses.get(criterion) in allowed, describe(outcome)
    others = {k: v for k, v in statuses.items() if k != criterion and v != "met"}
    assert others == {}, describe(outcome)


def test_s10_partial_dates_year_only_birth_possibly_17_out_of_scope() -> None:
    """ "If it may be under 18, the patient is out of scope (no card)"."""
    outcome = run_rules(apply_flaw("birth_year_only_possibly_17", BASE, TODAY).resources, TODAY)
    assert outcome.assessments == (), describe(outcome)
    assert outcome.cards == []
