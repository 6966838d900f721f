"""Which data each criterion rests on (`Topic`), and the one place doubt reaches a criterion.

Three things follow from it:

- A record on file that could not be read still happened (decision-spec §10): it takes part in
  its criterion as "a result of unknown value at this date". `with_unusable` is applied to
  every criterion, so no rule can forget it: an unreadable record that may be the one that
  decides turns met into unknown (and, for a latest-result criterion, not-met too), names the
  record with its date and why, and asks to repeat the test. It never makes anything met.
- A criterion whose data could not all be obtained (a failed or truncated fetch) is never
  met, since the missing part may hold the result that fails it (`unless_incomplete`).
- The vocabulary is `Topic`, shared with the mappings and prefetch.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import replace
from datetime import datetime

from cds_service.rules.assessment import Criterion, CriterionResult, Need, Status
from cds_service.rules.plain import reason_text, record_name, unusable_source
from cds_service.rules.window import unusable_for, unusable_text
from fhir_mappings.facts import PatientFacts, Unusable
from fhir_mappings.topics import ACTIVITY_SCORES, TOPIC_LABELS, Topic

_LEVEL = (Topic.INFLIXIMAB_LEVEL,)
_ANTIBODIES = (Topic.ANTIBODIES,)

TOPICS: dict[Criterion, tuple[Topic, ...]] = {
    Criterion.TROUGH: _LEVEL,
    Criterion.ANTIBODIES: _ANTIBODIES,
    Criterion.DURATION: (Topic.INFLIXIMAB, Topic.THIOPURINE),
    Criterion.CRP: (Topic.CRP,),
    Criterion.PLATELETS: (Topic.PLATELETS,),
    Criterion.REMISSION: (Topic.REMISSION, Topic.CORTICOSTEROID, *ACTIVITY_SCORES),
    Criterion.HLA_DQA1_05: (Topic.HLA_DQA1_05,),
    Criterion.ANTIBODIES_AFTER_STOP: _ANTIBODIES,
    Criterion.TROUGH_AFTER_STOP: _LEVEL,
    Criterion.TROUGH_DROP: _LEVEL,
}

# What to obtain when an unreadable record leaves a criterion unknown: the repeat test.
REPEAT: dict[Criterion, tuple[Need, ...]] = {
    Criterion.TROUGH: (Need.INFLIXIMAB_LEVEL,),
    Criterion.ANTIBODIES: (Need.INFLIXIMAB_LEVEL, Need.ANTIBODIES),
    Criterion.DURATION: (Need.THERAPY_START_DATES,),
    Criterion.CRP: (Need.CRP,),
    Criterion.PLATELETS: (Need.PLATELETS,),
    Criterion.REMISSION: (Need.REMISSION_ASSESSMENT,),
    Criterion.HLA_DQA1_05: (),
    Criterion.ANTIBODIES_AFTER_STOP: (Need.INFLIXIMAB_LEVEL, Need.ANTIBODIES),
    Criterion.TROUGH_AFTER_STOP: (Need.INFLIXIMAB_LEVEL,),
    Criterion.TROUGH_DROP: (Need.INFLIXIMAB_LEVEL,),
}

NEVER_UNKNOWN = frozenset({Criterion.HLA_DQA1_05})


def with_unusable(
    facts: PatientFacts,
    result: CriterionResult,
    *,
    latest_since: datetime | None = None,
    history_since: datetime | None = None,
) -> CriterionResult:
    """`result` with the unreadable records of its topics named and weighed (§10).

    History criteria ("never positive", "not a carrier", remission, duration) weigh every
    unreadable record of their topics, or those dated after `history_since` (pathway B looks
    only after the stop): one may be the positive, so met becomes unknown. Latest-result
    criteria pass `latest_since`, the collection time of the result they judged: an unreadable
    record as new or newer, or undated, may be the real latest result, so the criterion is
    unknown whatever the older result says.
    """
    if not facts.unusable and not result.unusable:
        return result  # nothing unreadable on file: what the steps below would give (issue 14)
    unusable = unusable_for(facts, TOPICS[result.id])
    named = replace(result, unusable=unusable, note=result.note + unusable_text(unusable))
    if latest_since is not None:
        doubtful = tuple(u for u in unusable if _not_older(u, latest_since))
        decided = named.status is not Status.UNKNOWN
    else:
        doubtful = tuple(u for u in unusable if _not_older(u, history_since))
        decided = named.status is Status.MET
    if not doubtful or not decided:
        return named
    # The judged note ("... meets ...") would mislead: the card says what could not be read.
    others = tuple(u for u in unusable if u not in doubtful)
    return replace(
        named,
        status=Status.UNKNOWN,
        note=_doubt_text(doubtful, latest=latest_since is not None) + unusable_text(others),
        to_obtain=tuple(dict.fromkeys((*named.to_obtain, *REPEAT[result.id]))),
    )


def _doubt_text(doubtful: Sequence[Unusable], *, latest: bool) -> str:
    """Which record could not be read, when, why, and what that means for the criterion:
    'A newer CRP result (2026-11-20) could not be read (no value): the older result cannot
    decide. Repeat or correct the test.'"""
    if latest:
        named = "; ".join(_newer(u) for u in doubtful)
        return f"{named}: the older result cannot decide. Repeat or correct the test."
    named = "; ".join(
        f"{_capital(unusable_source(u))} could not be read ({reason_text(u.reason)})"
        for u in doubtful
    )
    return f"{named}: it may be the one that fails this criterion. Repeat or correct it."


def _newer(unusable: Unusable) -> str:
    name, why = record_name(unusable.topic), reason_text(unusable.reason)
    if unusable.effective is None:
        return f"An undated {name}, which may be the latest, could not be read ({why})"
    return f"A newer {name} ({unusable.effective.date()}) could not be read ({why})"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _not_older(unusable: Unusable, since: datetime | None) -> bool:
    """Whether an unreadable record may be at least as new as `since` (undated: it may)."""
    return since is None or unusable.effective is None or unusable.effective >= since


def unless_incomplete(result: CriterionResult, incomplete: Collection[Topic]) -> CriterionResult:
    """A met criterion becomes unknown when some of its data could not be obtained.

    `incomplete` holds `Topic`s (`completeness.incomplete_topics`), compared as they are with
    the criterion's `TOPICS`. Not-met stays not-met: more data cannot undo a failing result
    already seen, and the conservative outcome (keep the combination) does not depend on what
    is missing. HLA-DQA1*05 is never unknown for missing data (decision-spec §3: testing is not
    required), so it only says so; an HLA record that is on file but unreadable is another
    matter (`with_unusable`).
    """
    missing = [topic for topic in TOPICS[result.id] if topic in incomplete]
    if result.status is not Status.MET or not missing:
        return result
    said = f" Not all {_listed(TOPIC_LABELS[topic] for topic in missing)} data could be obtained"
    said += " from the EHR"
    if result.id in NEVER_UNKNOWN:
        return replace(result, note=result.note + said + " (testing is not required).")
    return replace(result, status=Status.UNKNOWN, note=result.note + said + ".")


def _listed(words: Iterable[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    *rest, last = words
    return f"{', '.join(rest)} and {last}" if rest else last
