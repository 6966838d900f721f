"""The rules' entry points: every assessment that applies, and which of them a hook shows.

`assess` is a pure function of (facts, policy, hook); the evaluation date is
`facts.evaluated_on`. Which assessments reach the clinician on which hook is the spec's rule too
(order entry shows only actionable advice, and only on an infliximab or thiopurine order), so it
is a pure function here as well.
"""

from __future__ import annotations

from collections.abc import Collection

from cds_service.rules.after_withdrawal import assess_after_withdrawal
from cds_service.rules.assessment import Assessment, Hook, Pathway, Recommendation
from cds_service.rules.order_entry import (
    assess_initiation,
    assess_thiopurine_start,
    relevant_drafts,
)
from cds_service.rules.policy import Policy
from cds_service.rules.scope import in_scope, modifiers
from cds_service.rules.withdrawal import applies, assess_withdrawal
from fhir_mappings.facts import DrugClass, PatientFacts
from fhir_mappings.topics import Topic

_ORDER_HOOKS = frozenset({Hook.ORDER_SELECT, Hook.ORDER_SIGN})
_ACTIONABLE = frozenset(
    {
        Recommendation.WITHDRAWAL_CANDIDATE,
        Recommendation.REINTRODUCE_IMMUNOMODULATOR,
        Recommendation.CONSIDER_COMBINATION,
        Recommendation.CHECK_TPMT,
    }
)
_RENEWABLE = frozenset({DrugClass.THIOPURINE, DrugClass.INFLIXIMAB})


def assess(
    facts: PatientFacts, policy: Policy, *, hook: str, incomplete: Collection[Topic] = ()
) -> tuple[Assessment, ...]:
    """All assessments that apply to this patient today; empty outside every pathway.

    `incomplete` names the data topics (`Unusable.topic` vocabulary, see `topics.TOPICS`) that
    could not all be obtained, e.g. after a failed or truncated fetch: criteria resting on them
    cannot be met. Raises ValueError for a hook the rules do not know.
    """
    current = Hook(hook)
    if not in_scope(facts, policy):
        return ()
    notes = modifiers(facts, policy)
    found: list[Assessment | None] = [
        assess_withdrawal(facts, policy, notes, incomplete) if applies(facts) else None,
        assess_after_withdrawal(facts, policy, notes, incomplete),
    ]
    if current in _ORDER_HOOKS:
        found += [
            assess_initiation(facts, policy, notes),
            assess_thiopurine_start(facts, policy, notes),
        ]
    return tuple(a for a in found if a is not None)


def shown_on(assessment: Assessment, *, hook: str) -> bool:
    """Patient-view shows pathways A and B whenever they apply; order entry only actionable
    advice, where insufficient data counts as actionable before a renewal (a draft thiopurine or
    infliximab order)."""
    if Hook(hook) not in _ORDER_HOOKS:
        return assessment.pathway in (Pathway.WITHDRAWAL, Pathway.AFTER_WITHDRAWAL)
    if assessment.recommendation in _ACTIONABLE:
        return True
    return assessment.recommendation is Recommendation.INSUFFICIENT_DATA and any(
        draft.drug in _RENEWABLE for draft in assessment.draft_orders
    )


def advise(
    facts: PatientFacts, policy: Policy, *, hook: str, incomplete: Collection[Topic] = ()
) -> tuple[Assessment, ...]:
    """The assessments to render on this hook.

    At order entry, nothing unless a selected (order-select) or drafted (order-sign) order is
    infliximab or a thiopurine (issue 12): the gate is on the hook's drafts, not on the
    assessments, so no pathway can reach an unrelated order by forgetting to check."""
    if Hook(hook) in _ORDER_HOOKS and not relevant_drafts(facts):
        return ()
    found = assess(facts, policy, hook=hook, incomplete=incomplete)
    return tuple(a for a in found if shown_on(a, hook=hook))
